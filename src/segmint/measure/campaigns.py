"""Campaigns: who is in them, who is held out, and what acting on them earned.

A campaign targets the members of some segments of a segmentation. Every member is put in
the *treatment* group or the *holdout* group by a salted hash of (campaign, customer id):

* the salt is derived from the workspace's secret key (``.segmint/secret.key`` or
  ``SEGMINT_SECRET``, :func:`segmint.ingest.pii.load_or_create_key`) with HMAC-SHA256, so
  nobody without the key can predict (or game) who is held out;
* the group of a customer is ``md5(salt || customer_id)``: its first 8 hex digits, read as a
  number in [0, 1), below the holdout share means holdout. It depends on nothing else, so a
  customer who joins the segment after a refresh gets the same answer every time, and the
  engine computes it for a million members without the rows leaving it.

Two store tables hold them: ``campaigns`` (one row per campaign: segmentation, segments,
holdout share, window, outcome) and ``campaign_assignments`` (one row per customer and
campaign: the segment they were in when first assigned, their group, when). Each read of a
campaign's members first assigns the members of the segmentation's latest run who have no
row yet (:func:`sync`).

Examples
--------
>>> group_of(b"k" * 32, "spring", ["C1", "C2", "C3"], 0.5)
['holdout', 'treatment', 'holdout']
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from segmint.errors import ConfigError, DataError, UnknownNameError, did_you_mean
from segmint.paths import check_name

__all__ = ["ASSIGNMENTS", "CAMPAIGNS", "EVENT_OUTCOMES", "OUTCOMES", "Campaign", "check_outcome", "create",
           "exclude_holdouts", "get", "group_of", "is_rate", "list_campaigns", "members", "parse_outcome", "salt",
           "sync", "treatment"]

CAMPAIGNS = "campaigns"
ASSIGNMENTS = "campaign_assignments"
#: What a campaign measures per customer in its window (see :func:`segmint.measure.readout.outcomes`).
OUTCOMES = ("conversion", "revenue", "orders")
#: Outcomes read from the events table, written ``KIND:EVENT`` (e.g. ``event:email_click``): ``event`` is 1 when
#: the customer had that event in the window (a rate, like conversion), ``event_count`` how many they had.
EVENT_OUTCOMES = ("event", "event_count")
_EVENT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
HOLDOUT, TREATMENT = "holdout", "treatment"

_SCHEMAS = {
    CAMPAIGNS: ibis.schema({"name": "string", "segmentation": "string", "segments": "string",
                            "holdout": "float64", "start": "timestamp", "end": "timestamp", "outcome": "string",
                            "created_at": "timestamp"}),
    ASSIGNMENTS: ibis.schema({"campaign": "string", "customer_id": "string", "segment": "string",
                              "group": "string", "assigned_at": "timestamp"}),
}
_HEX = 8  # hex digits of the hash read as the customer's draw in [0, 1)


@dataclass(frozen=True)
class Campaign:
    """One stored campaign."""

    name: str
    segmentation: str
    segments: list[str] | None  # None: every segment of the segmentation
    holdout: float
    start: dt.datetime
    end: dt.datetime | None  # None: up to the day after the last order
    outcome: str
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "segmentation": self.segmentation, "segments": self.segments,
                "holdout": self.holdout, "start": _day(self.start), "end": _day(self.end),
                "outcome": self.outcome, "created_at": self.created_at.isoformat(timespec="seconds")}


def _day(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    return when.date().isoformat() if when.time() == dt.time() else when.isoformat()


def ensure_tables(store) -> None:
    """Create the campaign tables when missing."""
    existing = set(store.con.list_tables())
    for name, schema in _SCHEMAS.items():
        if name not in existing:
            store.con.create_table(name, schema=schema)


# -------------------------------------------------------------------------------- the hash
def salt(key: bytes, campaign: str) -> str:
    """The campaign's salt: HMAC-SHA256 of its name under the workspace key, as hex."""
    return hmac.new(key, b"segmint campaign holdout v1\0" + campaign.encode("utf-8"), hashlib.sha256).hexdigest()


def _threshold(holdout: float) -> str:
    return format(min(int(round(holdout * 16 ** _HEX)), 16 ** _HEX - 1), f"0{_HEX}x")


def group_expr(customer_id: ir.StringValue, key: bytes, campaign: str, holdout: float) -> ir.StringValue:
    """The group of each customer as an engine expression (see the module docstring)."""
    draw = (ibis.literal(salt(key, campaign)) + customer_id).hexdigest("md5").substr(0, _HEX)
    return ibis.ifelse(draw < ibis.literal(_threshold(holdout)), HOLDOUT, TREATMENT)


def group_of(key: bytes, campaign: str, customer_ids: list[str], holdout: float) -> list[str]:
    """The same groups computed in Python (for one customer, and to check the engine's answer)."""
    s, thr = salt(key, campaign), _threshold(holdout)
    return [HOLDOUT if hashlib.md5((s + c).encode("utf-8")).hexdigest()[:_HEX] < thr else TREATMENT
            for c in customer_ids]


# -------------------------------------------------------------------------------- outcomes
def parse_outcome(outcome: str) -> tuple[str, str | None]:
    """``(kind, event)``: ``("orders", None)``, or ``("event", "email_click")`` for ``event:email_click``.

    Examples
    --------
    >>> parse_outcome("revenue"), parse_outcome("event_count:web_visit")
    (('revenue', None), ('event_count', 'web_visit'))
    """
    kind, sep, event = str(outcome).partition(":")
    if not sep and kind in OUTCOMES:
        return kind, None
    if sep and kind in EVENT_OUTCOMES and _EVENT_NAME.match(event):
        return kind, event
    hint = ""
    if not sep and _EVENT_NAME.match(kind):  # a bare event name: say how to write it
        hint = f" (an event type? write event:{kind} for the share who had it, event_count:{kind} for how many)"
    raise ConfigError(f"--outcome {outcome!r}: use one of {', '.join(OUTCOMES)}, or event:NAME / event_count:NAME "
                      f"with NAME an event type of the events table, e.g. event:email_click{hint}")


def is_rate(outcome: str) -> bool:
    """Whether ``outcome`` is 0/1 per customer (conversion, ``event:NAME``): rate statistics apply."""
    return parse_outcome(outcome)[0] in ("conversion", "event")


def check_outcome(outcome: str, store=None) -> tuple[str, str | None]:
    """:func:`parse_outcome`, and with ``store`` an event outcome's event must occur in the events table."""
    kind, event = parse_outcome(outcome)
    if event is None or store is None:
        return kind, event
    if "events" not in store.con.list_tables():
        raise DataError(f"--outcome {outcome}: the store has no events table; ingest events first "
                        "(`segmint ingest events FILE`: customer_id, occurred_at, event)")
    e = store.con.table("events")
    if not int(e.filter(e.event == event).count().to_pyarrow().as_py()):
        known = sorted(e.select("event").distinct().limit(1000).to_pyarrow()["event"].to_pylist())
        raise DataError(f"--outcome {outcome}: the events table has no {event!r} event "
                        f"({len(known)} event types); {did_you_mean(event, known)}")
    return kind, event


# ------------------------------------------------------------------------------- campaigns
def _row(r: dict[str, Any]) -> Campaign:
    return Campaign(r["name"], r["segmentation"], json.loads(r["segments"]) if r["segments"] else None,
                    float(r["holdout"]), r["start"], r["end"], r["outcome"], r["created_at"])


def list_campaigns(store) -> list[Campaign]:
    """Every stored campaign, oldest first."""
    if CAMPAIGNS not in store.con.list_tables():
        return []
    t = store.con.table(CAMPAIGNS)
    return [_row(r) for r in t.order_by(["created_at", "name"]).to_pyarrow().to_pylist()]


def get(store, name: str) -> Campaign:
    """The stored campaign ``name``, or an :class:`UnknownNameError` listing the others."""
    every = list_campaigns(store)
    for c in every:
        if c.name == name:
            return c
    names = [c.name for c in every]
    hint = did_you_mean(name, names) if names else "none is defined yet; create one with `segmint campaign create`"
    raise UnknownNameError(f"no campaign {name!r}; {hint}")


def create(ctx, key: bytes, name: str, segmentation: str, segments: list[str] | None, holdout: float,
           start: Any, end: Any = None, outcome: str = "conversion") -> Campaign:
    """Store a campaign and assign the members of the segmentation's latest run.

    Raises
    ------
    ConfigError
        A bad name, holdout share, window or outcome; a campaign of that name exists.
    DataError, UnknownNameError
        The segmentation is unknown or was never run, or a segment is not one of its segments.
    """
    from segmint.features.asof import parse_as_of
    from segmint.segment import runs

    check_name(name, "campaign")
    if not isinstance(holdout, (int, float)) or isinstance(holdout, bool) or not 0 < float(holdout) < 1:
        raise ConfigError(f"--holdout {holdout!r}: the share of members held out must be between 0 and 1, "
                          "e.g. 0.1 for 10%")
    check_outcome(outcome, ctx.store)
    start_at = parse_as_of(start, ctx.plausible)
    end_at = parse_as_of(end, ctx.plausible) if end is not None else None
    if end_at is not None and end_at <= start_at:
        raise ConfigError(f"--end {end} is not after --start {start}: the campaign window would be empty")
    store = ctx.store
    ensure_tables(store)
    if any(c.name == name for c in list_campaigns(store)):
        raise ConfigError(f"a campaign {name!r} exists already; pick another name (assignments are kept so that "
                          "a campaign's groups never change)")
    version, as_of = runs.run_of(ctx, segmentation)  # unknown or never run: its own clear error
    if segments:
        known = _segment_names(store, segmentation, version, as_of)
        for s in segments:
            if s not in known:
                raise UnknownNameError(f"segmentation {segmentation!r} has no segment {s!r} in its latest run "
                                       f"({as_of.date()}); {did_you_mean(s, known)}")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    row = {"name": name, "segmentation": segmentation,
           "segments": json.dumps(sorted(set(segments))) if segments else None, "holdout": float(holdout),
           "start": start_at, "end": end_at, "outcome": outcome, "created_at": now}
    with store.transaction():
        store.con.insert(CAMPAIGNS, ibis.memtable(pa.Table.from_pylist([row], schema=_SCHEMAS[CAMPAIGNS].to_pyarrow())))
    campaign = get(store, name)
    sync(ctx, key, campaign)
    return campaign


def _segment_names(store, segmentation: str, version: int, as_of: dt.datetime) -> list[str]:
    from segmint.segment import membership as ms

    m = ms.memberships(store, segmentation, version, as_of)
    return sorted(m.select("segment").distinct().to_pyarrow()["segment"].to_pylist())


def sync(ctx, key: bytes, campaign: Campaign) -> int:
    """Assign the members of the segmentation's latest run that have no group yet; returns how many.

    A read-only store (a reader beside a server) assigns nothing; the hash gives newcomers their
    group anyway when they are read (:func:`members`).
    """
    if ctx.store.read_only:
        return 0
    store = ctx.store
    ensure_tables(store)
    fresh = _unassigned(ctx, key, campaign)
    n = int(fresh.count().to_pyarrow().as_py())
    if n:
        with store.transaction():
            store.con.insert(ASSIGNMENTS, fresh)
    return n


def _current(ctx, campaign: Campaign) -> ir.Table:
    """The campaign's segments' members in the segmentation's latest run: one row per customer."""
    from segmint.segment import membership as ms
    from segmint.segment import runs

    version, as_of = runs.run_of(ctx, campaign.segmentation)
    m = ms.memberships(ctx.store, campaign.segmentation, version, as_of)
    if campaign.segments:
        m = m.filter(m.segment.isin(campaign.segments))
    # a customer in several audiences is assigned once, with the first of their segments
    return m.group_by("customer_id").aggregate(segment=m.segment.min())


def _unassigned(ctx, key: bytes, campaign: Campaign) -> ir.Table:
    store = ctx.store
    cur = _current(ctx, campaign)
    a = store.con.table(ASSIGNMENTS)
    a = a.filter(a.campaign == campaign.name)
    fresh = cur.anti_join(a, cur.customer_id == a.customer_id)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return fresh.select(campaign=ibis.literal(campaign.name, type="string"), customer_id=fresh.customer_id,
                        segment=fresh.segment,
                        group=group_expr(fresh.customer_id, key, campaign.name, campaign.holdout),
                        assigned_at=ibis.literal(now, type="timestamp")).order_by("customer_id")


def members(ctx, key: bytes, campaign: Campaign) -> ir.Table:
    """The campaign's members: ``customer_id``, ``segment``, ``group``, ``assigned_at`` (after :func:`sync`)."""
    sync(ctx, key, campaign)
    store = ctx.store
    ensure_tables(store) if not store.read_only else None
    if ASSIGNMENTS not in store.con.list_tables():
        return _unassigned(ctx, key, campaign)
    a = store.con.table(ASSIGNMENTS)
    out = a.filter(a.campaign == campaign.name).select("customer_id", "segment", "group", "assigned_at")
    if store.read_only:
        out = out.union(_unassigned(ctx, key, campaign).select("customer_id", "segment", "group", "assigned_at"))
    return out


def treatment(ctx, key: bytes, campaign: Campaign) -> ir.Table:
    """The members the campaign may act on: the treatment group (``customer_id``, ``segment``)."""
    m = members(ctx, key, campaign)
    return m.filter(m.group == TREATMENT).select("customer_id", "segment")


def active(store, on: dt.datetime | None = None) -> list[Campaign]:
    """Campaigns running on ``on`` (default: now): started, and with no end or an end after it."""
    on = on or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return [c for c in list_campaigns(store) if c.end is None or c.end > on]


def exclude_holdouts(store, table: ir.Table, campaigns: list[str] | None = None) -> ir.Table:
    """``table`` (with ``customer_id``) without the holdout members of ``campaigns``.

    ``campaigns=None`` means every campaign still running (:func:`active`): an activation
    that sends an audience anywhere calls this, so nobody held out of a running campaign is
    contacted through another door. Only assigned customers are held out (a customer joins
    a campaign when its members are read or synced).
    """
    if ASSIGNMENTS not in store.con.list_tables():
        return table
    names = [c.name for c in active(store)] if campaigns is None else [get(store, n).name for n in campaigns]
    if not names:
        return table
    a = store.con.table(ASSIGNMENTS)
    held = a.filter(a.campaign.isin(names) & (a.group == HOLDOUT)).select(_held_id=a.customer_id).distinct()
    return table.anti_join(held, table.customer_id == held._held_id)


def window_end(store, campaign: Campaign, plausible=None) -> dt.datetime:
    """The end of the campaign's window: its ``end``, or the day after the last order (event, for an event outcome)."""
    if campaign.end is not None:
        return campaign.end
    from segmint.features.asof import default_as_of

    if parse_outcome(campaign.outcome)[1] is not None:
        e = store.table("events")
        return default_as_of(e.select(ordered_at=e.occurred_at), plausible)
    return default_as_of(store.table("orders"), plausible)


def require_members(n: int, campaign: Campaign) -> None:
    if n == 0:
        raise DataError(f"campaign {campaign.name!r} has no members: segmentation {campaign.segmentation!r}'s "
                        f"latest run has nobody in {campaign.segments or 'any segment'}")
