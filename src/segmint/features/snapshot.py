"""Compute customer features as of a date, store them as a snapshot, load them back.

:func:`compute_features` builds one Ibis expression: the customer base at ``as_of``
left-joined with each family's per-customer aggregates, then each family's derived
columns. Only the predictive family leaves the engine (to fit its models on four
columns of the buyers), and its predictions are joined back as a memtable.

Snapshots live in the ``features`` table keyed by ``(as_of, customer_id)``. Storing
a snapshot replaces an existing one of the same ``as_of`` in one transaction; a
feature column that earlier snapshots did not have is added (null for them).

Examples
--------
>>> import tempfile, pandas as pd
>>> from segmint.workspace import Workspace
>>> ws = Workspace.init(tempfile.mkdtemp() + "/shop")
>>> _ = ws.ingest("orders", pd.DataFrame({"order_id": ["A1", "A2", "A3"], "customer_id": ["C1", "C1", "C2"],
...     "ordered_at": ["2024-01-05", "2024-02-01", "2024-02-10"], "amount": ["10", "30", "5"]}))
>>> info = snapshot(ws.store)
>>> info["as_of"], info["customers"]
('2024-02-11', 2)
>>> df = load_features(ws.store).to_pyarrow().to_pandas().set_index("customer_id")
>>> [float(v) for v in df.loc["C1", ["frequency", "monetary_total", "recency_days"]]]
[2.0, 40.0, 10.0]
>>> ws.close()
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from segmint.config import FeatureConfig, PlausibleDates
from segmint.errors import DataError
from segmint.features import (attributes, engagement, incremental, mix, orders, predictive, rfm, scales, survey,
                              topics)
from segmint.features.asof import Context, make_context, parse_as_of
from segmint.features.catalog import CATALOG, FAMILIES, KEYS, resolve
from segmint.store import kept_figures

__all__ = ["compute_features", "snapshot", "load_features", "list_snapshots", "features_frame",
           "compute_with_context", "FEATURES_TABLE"]

FEATURES_TABLE = "features"
#: Per-customer aggregate tables, ``f(ctx) -> table or None``, after the order families' one pass
#: (rfm, cadence, mix, predictive inputs; see :mod:`.orders`): category mix, events, surveys.
#: rfm, mix and engagement also ``derive`` columns from the joined aggregates. Survey scales and free-text
#: topics (issue 23) are absent unless ``psychographics`` in segmint.yaml names scales or text questions.
_PARTS = (mix.categories, engagement.features, survey.features, scales.features, topics.features)


def compute_with_context(store, as_of: object = None, settings: FeatureConfig | None = None,
                         predictive_models: bool = True,
                         plausible: PlausibleDates | None = None, full: bool = False) -> tuple[ir.Table, Context]:
    """Like :func:`compute_features`, also returning the :class:`Context` (as_of, skipped families).

    ``plausible`` is the workspace's ``ingest.plausible_dates`` (default: 1900 to a year from today): an
    ``as_of`` outside it is refused. Unless ``full``, the order families come from the running state
    (:mod:`.incremental`) when ``as_of`` is a midnight not before the state's; ``ctx.memo["state"]`` then
    says how the state got there.
    """
    ctx = make_context(store, as_of, settings, plausible)
    order_parts = None
    if not full and not store.read_only and incremental.usable(store, ctx.as_of):
        order_parts = incremental.from_state(store, ctx)
    t, attrs = _aggregates(ctx, order_parts)
    # Materialise the joined aggregates once: the derived columns and the model fit then read a
    # plain table, and Ibis compiles a small expression instead of one deep tree (seconds saved).
    t = _materialise(store, t, ctx)
    joined = t
    derived: dict[str, ir.Value] = {}
    for family in (rfm, mix, engagement):
        derived.update(family.derive(joined, ctx))
    t = joined.mutate(**derived)
    t = t.left_join(rfm.scores(t, ctx), "customer_id").drop("customer_id_right")
    t = t.select(*_column_order(t.columns, attrs.columns))
    if predictive_models:
        t = predictive.attach(t, ctx, inputs=joined)
    else:
        ctx.skipped["predictive"] = "not asked for (predictive_models=False)"
    return t, ctx


def _aggregates(ctx: Context, order_parts: tuple[ir.Table, ir.Table | None] | None = None
                ) -> tuple[ir.Table, ir.Table]:
    """Every family's per-customer aggregates joined to the base (one flat SELECT), and the attributes part.

    ``order_parts``: the order aggregates and the category table from the running state, in place of
    the pass over the orders (see :mod:`.incremental`).
    """
    attrs = attributes.features(ctx)
    if order_parts is None:
        bought, cats = orders.features(ctx), _PARTS[0](ctx)
    else:
        bought, cats = order_parts
    # The base: customers signed up by as_of, and every customer with an order before it.
    base = ctx.signed_up.union(bought.select("customer_id"), distinct=True)
    # Attributes first: rfm.derive needs signup_at for tenure.
    parts = [attrs, bought] + [p for p in (cats, *(part(ctx) for part in _PARTS[1:])) if p is not None]
    return _join(base, parts), attrs


def _materialise(store, t: ir.Table, ctx: Context) -> ir.Table:
    """Write ``t`` to a temporary table of the connection and return that table.

    Not ``Table.cache()``: its finaliser drops the table at garbage collection, which fails
    (with an error printed at exit) once the store is closed. Temporary tables go with the
    connection; :func:`snapshot` drops its own as soon as it is stored.
    """
    name = f"_segmint_features_{uuid.uuid4().hex[:12]}"
    ctx.temporary.append(name)
    return store.con.create_table(name, t, temp=True)


def _join(base: ir.Table, parts: list[ir.Table]) -> ir.Table:
    """Left-join every part to the base on customer_id in one join chain (one flat SELECT)."""
    joined = base
    for part in parts:
        joined = joined.left_join(part, base.customer_id == part.customer_id)
    columns = {"customer_id": base.customer_id}
    for part in parts:
        columns.update({c: part[c] for c in part.columns if c != "customer_id"})
    return joined.select(**columns)


def _column_order(columns: tuple[str, ...] | list[str], attribute_cols: tuple[str, ...] | list[str]) -> list[str]:
    """Public columns grouped by family in catalog order (attributes, then model inputs, last)."""
    public = [c for c in columns if not c.startswith("_")]
    attrs = {c for c in attribute_cols if c != "customer_id"}

    def rank(name: str) -> tuple[int, int]:
        if name == "customer_id":
            return (-1, 0)
        if name in attrs:
            return (len(FAMILIES), 0)
        entry = resolve(name, attrs)
        position = list(CATALOG).index(name) if name in CATALOG else len(CATALOG)
        return (FAMILIES.index(entry.family) + (len(FAMILIES) + 1 if name.startswith("clv_") else 0), position)

    return sorted(public, key=rank)


def compute_features(store, as_of: object = None, settings: FeatureConfig | None = None) -> ir.Table:
    """Customer features as of ``as_of``, as an Ibis table (one row per customer).

    Parameters
    ----------
    store : segmint.store.Store
        The workspace store.
    as_of : date, datetime or str, optional
        Only orders, events and responses strictly before this instant are used.
        Default: the day after the last order, at midnight UTC.
    settings : FeatureConfig, optional
        Windows and RFM bins (default: ``FeatureConfig()``).

    Returns
    -------
    ibis.Table
        ``customer_id`` and one column per feature (see :mod:`segmint.features.catalog`).
        It reads a temporary table of the store's connection (the joined aggregates,
        materialised once), which lives until the connection closes.
    """
    return compute_with_context(store, as_of, settings)[0]


def snapshot(store, as_of: object = None, settings: FeatureConfig | None = None,
             predictive_models: bool = True, plausible: PlausibleDates | None = None,
             full: bool = False) -> dict[str, Any]:
    """Compute the features as of ``as_of`` and store them in the ``features`` table.

    ``full``: recompute the order families from every order instead of the running state
    (docs/monitoring.md, "Incremental snapshots"); the result is the same.

    Returns
    -------
    dict
        ``as_of`` (ISO text: a date when at midnight), ``customers``, ``features`` (names),
        ``skipped`` (family or feature -> reason), ``seconds`` and ``mode`` (``full``,
        ``incremental`` or ``rebuilt``: the running state made from every order).
    """
    start = time.perf_counter()
    t, ctx = compute_with_context(store, as_of, settings, predictive_models, plausible, full=full)
    rows = t.mutate(as_of=ctx.as_of_lit).select("as_of", *t.columns)
    schema = rows.schema()
    with store.transaction():
        con = store.con
        if FEATURES_TABLE not in con.list_tables():
            con.create_table(FEATURES_TABLE, schema=ibis.schema({n: d.copy(nullable=True) for n, d in schema.items()}))
        else:
            store.add_columns(FEATURES_TABLE, {n: str(d.copy(nullable=True)) for n, d in schema.items()})
            if _has_snapshot(store, ctx.as_of):  # stored again: the monitoring figures kept from its values go
                kept_figures.clear(store, kept_figures.SNAPSHOT_FIGURES)
                _delete_snapshot(store, ctx.as_of)
        stored = con.table(FEATURES_TABLE)
        stored_schema = stored.schema()
        # Columns of earlier snapshots that this one lacks are written as nulls.
        aligned = rows.select(*[rows[c].cast(stored_schema[c]) if c in schema else ibis.null(stored_schema[c]).name(c)
                                for c in stored.columns])
        con.insert(FEATURES_TABLE, aligned)
    _drop_temporary(store, ctx)
    n = int(store.table(FEATURES_TABLE).filter(lambda f: f.as_of == ctx.as_of_lit).count().to_pyarrow().as_py())
    return {
        "as_of": _iso(ctx.as_of),
        "customers": n,
        "features": [c for c in t.columns if c not in KEYS],
        "skipped": dict(ctx.skipped),
        "seconds": round(time.perf_counter() - start, 3),
        "mode": ctx.memo.get("state", {}).get("mode", "full"),
    }


def _drop_temporary(store, ctx: Context) -> None:
    for name in ctx.temporary:
        store.con.drop_table(name, force=True)


def _has_snapshot(store, as_of: dt.datetime) -> bool:
    f = store.table(FEATURES_TABLE)
    return bool(f.filter(f.as_of == ibis.literal(as_of, type="timestamp")).limit(1).count().to_pyarrow().as_py())


def _delete_snapshot(store, as_of: dt.datetime) -> None:
    # Ibis has no DELETE: the store's statement, with the timestamp bound as a parameter.
    store.delete_rows(FEATURES_TABLE, as_of=as_of)


def _iso(when: dt.datetime) -> str:
    return when.date().isoformat() if when.time() == dt.time() else when.isoformat()


def list_snapshots(store) -> list[dict[str, Any]]:
    """Stored snapshots, oldest first: ``[{"as_of": iso text, "customers": n}, ...]``."""
    if FEATURES_TABLE not in store.con.list_tables():
        return []
    f = store.table(FEATURES_TABLE)
    rows = f.group_by("as_of").aggregate(customers=f.count()).order_by("as_of").to_pyarrow().to_pylist()
    return [{"as_of": _iso(r["as_of"]), "customers": int(r["customers"])} for r in rows]


def load_features(store, as_of: object = None) -> ir.Table:
    """A stored snapshot (the latest by default) as an Ibis table.

    Raises
    ------
    DataError
        No snapshot is stored, or none for ``as_of`` (the message lists the stored dates).
    """
    snaps = list_snapshots(store)
    if not snaps:
        raise DataError("no feature snapshot is stored yet; compute one with `segmint features` "
                        "(or Workspace.features())")
    when = parse_as_of(snaps[-1]["as_of"] if as_of is None else as_of)
    if _iso(when) not in {s["as_of"] for s in snaps}:
        dates = ", ".join(s["as_of"] for s in snaps[-10:])
        raise DataError(f"no feature snapshot as of {_iso(when)}; stored snapshots: {dates}. "
                        f"Compute it with `segmint features --as-of {_iso(when)}`")
    f = store.table(FEATURES_TABLE)
    return f.filter(f.as_of == ibis.literal(when, type="timestamp"))


def features_frame(store, as_of: object = None, settings: FeatureConfig | None = None,
                   save: bool = True, plausible: PlausibleDates | None = None) -> pd.DataFrame:
    """Features as a pandas DataFrame: computed and stored (``save``), or computed only.

    This is what ``Workspace.features(as_of, store)`` calls.
    """
    if save:
        info = snapshot(store, as_of, settings, plausible=plausible)
        return load_features(store, info["as_of"]).to_pyarrow().to_pandas()
    t, ctx = compute_with_context(store, as_of, settings, plausible=plausible)
    frame = t.to_pyarrow().to_pandas()
    _drop_temporary(store, ctx)
    return frame
