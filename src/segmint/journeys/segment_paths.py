"""Journeys between segments: the sequence of segments each customer passed through over the stored runs.

From the stored memberships of one segmentation (at each ``as_of``, the latest version run there),
each customer's segments in date order are collapsed into *stints* (A, A, B, B, B, C becomes
A -> B -> C). The most common sequences (up to :data:`MAX_STINTS` segments) are counted, and the time
in each segment: from the run where the customer entered it to the run where they left it (a stint
that has not ended counts to the last run and is reported apart, as ongoing). A customer in several
segments of a non-exclusive segmentation at one run counts in the first by name.

Examples
--------
>>> import pandas as pd, ibis
>>> m = ibis.memtable(pd.DataFrame({"segmentation": "v", "version": 1, "customer_id": list("aaabbbc"),
...     "as_of": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"] * 2 + ["2024-03-01"]),
...     "segment": ["A", "B", "B", "A", "A", "A", "C"]}))
>>> j = segment_journeys(m, "v")
>>> [(p["segments"], p["customers"]) for p in j["paths"]]
[(['A', 'B'], 1), (['A'], 1), (['C'], 1)]
>>> [(t["segment"], t["median_days"], t["ended"]) for t in j["time_in_segment"]]
[('A', 31.0, 1), ('B', None, 0), ('C', None, 0)]
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from segmint.features.asof import days_between

__all__ = ["segment_journeys", "MAX_STINTS"]

MAX_STINTS = 5


def segment_journeys(memberships: ir.Table, name: str, top: int = 10) -> dict[str, Any]:
    """Most common sequences of segments over the stored runs of ``name``, and the time spent in each.

    Returns
    -------
    dict
        ``runs`` (the as_of dates, oldest first), ``customers``, ``paths`` (``segments``, ``customers``,
        ``share``) and ``time_in_segment`` (per segment: ``stints``, ``ended`` (left by the last run),
        ``median_days`` of the ended ones, ``median_days_ongoing`` of those still in it).
    """
    m = memberships.filter(memberships.segmentation == name)
    latest = m.group_by("as_of").aggregate(_v=m.version.max())
    m = m.join(latest, [m.as_of == latest.as_of, m.version == latest._v]).select(m.customer_id, m.as_of, m.segment)
    m = m.group_by(["customer_id", "as_of"]).aggregate(segment=m.segment.min())
    runs = [r["as_of"] for r in m.select("as_of").distinct().order_by("as_of").to_pyarrow().to_pylist()]
    if not runs:
        return {"runs": [], "customers": 0, "paths": [], "time_in_segment": []}
    last_run = ibis.literal(runs[-1], type="timestamp")
    w = ibis.window(group_by=m.customer_id, order_by=m.as_of)
    m = m.mutate(_changed=(m.segment.lag().over(w).isnull() | (m.segment != m.segment.lag().over(w))).cast("int64"))
    m = m.mutate(stint=m._changed.sum().over(ibis.cumulative_window(group_by=m.customer_id, order_by=m.as_of)))
    stints = m.group_by(["customer_id", "stint"]).aggregate(segment=m.segment.min(), entered=m.as_of.min())
    sw = ibis.window(group_by=stints.customer_id, order_by=stints.stint)
    stints = stints.mutate(left=stints.entered.lead().over(sw))
    stints = stints.mutate(days=days_between(stints.left.fill_null(last_run), stints.entered),
                           ended=stints.left.notnull())
    cols = {f"s{i}": stints.segment.max(where=stints.stint == i + 1) for i in range(MAX_STINTS)}
    per_customer = stints.group_by("customer_id").aggregate(**cols)
    keys = list(cols)
    counted = per_customer.group_by(keys).aggregate(customers=per_customer.count())
    n = int(per_customer.count().to_pyarrow().as_py())
    found = counted.order_by([ibis.desc("customers"), *keys]).limit(int(top)).to_pyarrow().to_pylist()
    paths = [{"segments": [r[k] for k in keys if r[k] is not None], "customers": int(r["customers"]),
              "share": r["customers"] / n if n else None} for r in found]
    times = stints.group_by("segment").aggregate(
        stints=stints.count(), ended=stints.ended.cast("int64").sum(),
        # the days of the ended (ongoing) stints and null for the others: a median skips nulls, where a median
        # with a filter is a percentile of a computed fraction, which Spark refuses (it wants a constant)
        median_days=ibis.ifelse(stints.ended, stints.days, ibis.null("float64")).median(),
        median_days_ongoing=ibis.ifelse(stints.ended, ibis.null("float64"), stints.days).median(),
    ).order_by("segment").to_pyarrow().to_pylist()
    time_in = [{"segment": t["segment"], "stints": int(t["stints"]), "ended": int(t["ended"]),
                "median_days": None if t["median_days"] is None else round(float(t["median_days"]), 2),
                "median_days_ongoing": None if t["median_days_ongoing"] is None
                else round(float(t["median_days_ongoing"]), 2)} for t in times]
    return {"runs": [r.date().isoformat() if r.time() == r.time().min else r.isoformat() for r in runs],
            "customers": n, "paths": paths, "time_in_segment": time_in}
