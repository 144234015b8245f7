"""Point-in-time windowing: what the store looked like just before ``as_of``.

Every feature is computed from a :class:`Context`, which holds the source tables
already cut at ``as_of``: orders with ``ordered_at < as_of``, events with
``occurred_at < as_of`` and responses with ``answered_at < as_of``. Family modules
never see the raw tables, so none of them can leak a future row.

The customer base at ``as_of`` is every customer of the ``customers`` table who had
signed up by then (``signup_at`` null or before ``as_of``), plus anyone with an order
before ``as_of`` (a customer known only from orders is still a customer).

Time differences are taken on epoch seconds (``epoch_seconds()`` exists on every Ibis
backend), so no engine-specific date function is needed.

Examples
--------
>>> parse_as_of("2024-03-01")
datetime.datetime(2024, 3, 1, 0, 0)
>>> parse_as_of("2024-03-01T12:30")
datetime.datetime(2024, 3, 1, 12, 30)
>>> parse_as_of("yesterday")
Traceback (most recent call last):
...
segmint.errors.ConfigError: as_of 'yesterday' is not a date; write it as YYYY-MM-DD (or YYYY-MM-DDTHH:MM)
>>> parse_as_of("9999-12-31")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
segmint.errors.ConfigError: as_of 9999-12-31 is outside the plausible dates 1900-01-01 to ...
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from segmint.config import FeatureConfig, PlausibleDates
from segmint.errors import ConfigError, DataError

__all__ = ["Context", "parse_as_of", "default_as_of", "make_context", "days_between", "epoch", "exact_sum", "day_of",
           "SECONDS_PER_DAY"]

SECONDS_PER_DAY = 86_400


def parse_as_of(value: object, plausible: PlausibleDates | None = None) -> dt.datetime:
    """Turn a date, datetime or ISO text into a naive UTC datetime (dates mean midnight).

    Parameters
    ----------
    value : str, datetime.date or datetime.datetime
        The point in time; an aware datetime is converted to UTC.
    plausible : PlausibleDates, optional
        The range the date must lie in (``ingest.plausible_dates`` of the workspace);
        default: 1900-01-01 to a year from today.

    Returns
    -------
    datetime.datetime
        Naive, in UTC, as the store keeps its timestamps.

    Raises
    ------
    ConfigError
        Not a date, or outside the plausible range: an as-of of 9999-12-31 would make every
        window computation overflow and become the look-ups' latest run.
    """
    when = _parse(value)
    first, end = (plausible or PlausibleDates()).bounds()
    if not first <= when < end:
        shown = when.date().isoformat() if when.time() == dt.time() else when.isoformat()
        raise ConfigError(
            f"as_of {shown} is outside the plausible dates {(plausible or PlausibleDates()).describe()}; "
            "pick a date in that range (the range is ingest.plausible_dates in segmint.yaml; a snapshot or run "
            "stored at such a date before segmint checked dates needs an explicit plausible --as-of)"
        )
    return when


def _parse(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if hasattr(value, "to_pydatetime"):  # pandas.Timestamp
        return _parse(value.to_pydatetime())
    try:
        return _parse(dt.datetime.fromisoformat(str(value).strip()))
    except (ValueError, OverflowError):
        raise ConfigError(
            f"as_of {value!r} is not a date; write it as YYYY-MM-DD (or YYYY-MM-DDTHH:MM)"
        ) from None


def default_as_of(orders: ir.Table, plausible: PlausibleDates | None = None) -> dt.datetime:
    """The day after the last order, at midnight UTC: every order is then in the past.

    Raises
    ------
    DataError
        No orders; or orders dated outside the plausible range (stored before ingest
        quarantined them), which would put the default as-of beyond what dates can hold.
    """
    _, end = (plausible or PlausibleDates()).bounds()
    hi = ibis.literal(end, type="timestamp")
    # Checked and formatted in the engine: a year-99999 value cannot even become a Python datetime.
    stats = orders.aggregate(
        late=(orders.ordered_at >= hi).cast("int64").sum(),
        latest=orders.ordered_at.max().cast("string"),
        last_day=orders.ordered_at.max().date(),
    ).to_pyarrow()
    agg = {c: stats.column(c)[0].as_py() for c in ("late", "latest")}
    if agg["latest"] is None:
        raise DataError(
            "the orders table is empty, so there is no default as_of date; ingest orders first "
            "(`segmint ingest orders FILE`) or pass --as-of YYYY-MM-DD"
        )
    if agg["late"]:
        raise DataError(
            f"the orders table holds {agg['late']} order(s) dated after the plausible range "
            f"{(plausible or PlausibleDates()).describe()} (the latest: {agg['latest']}), stored before segmint "
            "checked dates, so the day after the last order is not a usable default as_of. Fix: pass --as-of "
            "YYYY-MM-DD (later orders are then left out), or delete those orders from the store and ingest "
            "the corrected file again (it now quarantines such rows as implausible_date)"
        )
    last = stats.column("last_day")[0].as_py()
    return dt.datetime(last.year, last.month, last.day) + dt.timedelta(days=1)


def days_between(later: ir.Value, earlier: ir.Value) -> ir.FloatingValue:
    """Days (fractional) from ``earlier`` to ``later``, for timestamps on any backend."""
    return (epoch(later) - epoch(earlier)) / SECONDS_PER_DAY


#: Type of the exact sums of money (:func:`exact_sum`): 6 decimals, far below any currency's unit.
EXACT_MONEY = "decimal(38, 6)"


def exact_sum(value: ir.NumericValue, where: ir.BooleanValue | None = None) -> ir.FloatingValue:
    """Sum of ``value`` (money) as float64, the same bytes whatever order the engine adds in.

    The engine sums floats in parallel, in an order that changes from run to run, and float
    addition is not associative: two snapshots of the same data differed in the last bits of
    ``monetary_total`` (and so in ``predicted_clv_12m``, up to 1.4e-10, and in a value tier).
    Each value is rounded to 6 decimals and summed as a DECIMAL, whose addition is exact.
    """
    return value.cast(EXACT_MONEY).sum(where=where).cast("float64")


def epoch(value: ir.Value) -> ir.FloatingValue:
    """Seconds since 1970 as float64 (Ibis types ``epoch_seconds`` as int32, too small)."""
    return value.epoch_seconds().cast("float64")


def day_of(value: ir.Value) -> ir.IntegerValue:
    """Whole days since 1970 (UTC) of a timestamp."""
    return (epoch(value) / SECONDS_PER_DAY).floor().cast("int64")


@dataclass
class Context:
    """The inputs of every feature family, cut at ``as_of``.

    Attributes
    ----------
    as_of : datetime.datetime
        The point in time (naive UTC).
    settings : FeatureConfig
        Windows and RFM bins.
    orders : ibis.Table
        Orders before ``as_of`` with ``amount`` as float64, ``is_return`` (never null) and
        ``day`` (whole days since 1970, UTC).
    events, responses : ibis.Table or None
        Events and survey answers before ``as_of``; None when there are none.
    customers : ibis.Table
        The customers table as stored.
    signed_up : ibis.Table
        The customers who had signed up by ``as_of`` (column ``customer_id``). The base is
        they and every customer with an order before ``as_of``; the snapshot takes the
        latter from its per-customer order aggregates (a union with the raw orders cost a
        distinct over every order).
    skipped : dict
        Families left out, and why (filled in by the families).
    temporary : list of str
        Temporary tables made for this computation (dropped after storing a snapshot).
    memo : dict
        Answers of small probe queries (e.g. which optional order columns hold values), kept so
        families sharing them ask the engine once.
    """

    as_of: dt.datetime
    settings: FeatureConfig
    orders: ir.Table
    events: ir.Table | None
    responses: ir.Table | None
    customers: ir.Table
    signed_up: ir.Table
    skipped: dict[str, str] = field(default_factory=dict)
    temporary: list[str] = field(default_factory=list)
    memo: dict = field(default_factory=dict)

    @property
    def as_of_lit(self) -> ir.TimestampScalar:
        return ibis.literal(self.as_of, type="timestamp")

    def days_before(self, column: ir.Value) -> ir.FloatingValue:
        """Days from ``column`` to ``as_of``."""
        return days_between(self.as_of_lit, column)

    def since(self, days: int) -> ir.TimestampScalar:
        """The instant ``days`` days before ``as_of``."""
        return ibis.literal(self.as_of - dt.timedelta(days=days), type="timestamp")


def _nonempty(table: ir.Table) -> ir.Table | None:
    # One cheap probe per optional source: absent data makes a family absent, not a column of nulls.
    return table if int(table.limit(1).count().to_pyarrow().as_py()) else None


def make_context(store, as_of: object = None, settings: FeatureConfig | None = None,
                 plausible: PlausibleDates | None = None) -> Context:
    """Cut the store's tables at ``as_of`` (default: :func:`default_as_of`).

    ``plausible`` is the workspace's ``ingest.plausible_dates`` (default: 1900 to a year from today).
    """
    settings = settings or FeatureConfig()
    raw_orders = store.table("orders")
    when = default_as_of(raw_orders, plausible) if as_of is None else parse_as_of(as_of, plausible)
    cut = ibis.literal(when, type="timestamp")
    orders = raw_orders.filter(raw_orders.ordered_at < cut)
    orders = orders.mutate(
        amount=orders.amount.cast("float64"),
        is_return=orders.returned.fill_null(False),
        day=day_of(orders.ordered_at),
    )
    events = store.table("events")
    events = _nonempty(events.filter(events.occurred_at < cut))
    responses = store.table("responses")
    responses = _nonempty(responses.filter(responses.answered_at < cut))
    customers = store.table("customers")
    signed_up = customers.filter(customers.signup_at.isnull() | (customers.signup_at < cut)).select("customer_id")
    return Context(as_of=when, settings=settings, orders=orders, events=events, responses=responses,
                   customers=customers, signed_up=signed_up)
