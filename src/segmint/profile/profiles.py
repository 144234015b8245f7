"""Segment profiles: what sets each segment apart from the whole base, in tidy tables.

:func:`profile` returns a :class:`Profile` with

* ``sizes``: customers, share and KPIs per segment (revenue, mean spend, order value,
  frequency, recency, tenure, CLV, consent: whichever columns exist, see :data:`KPIS`);
* ``means``: every numeric feature's segment mean vs the population mean, and the index
  ``segment mean / population mean x 100`` (100 = like everyone, 200 = twice as much);
* ``differentiators``: the features that set a segment apart, ranked by effect size;
* ``mix``: top categories, channels and regions per segment, with their index;
* ``demographics``: gender, age band and other demographic mixes;
* ``overlap``: customers in both of two audiences (overlapping audiences only).

**Small cells are suppressed.** Aggregates of a segment with fewer than
``min_segment_size`` customers are NaN with ``suppressed = True``, and so is any count
of customers (a category, a region, an overlap) below that size, so a profile never
reveals a handful of identifiable people. :attr:`Profile.note` says what was held back.

Examples
--------
>>> import pandas as pd
>>> f = pd.DataFrame({"monetary_total": [10.0, 20, 30, 40, 500], "frequency": [1, 1, 2, 2, 9]},
...                  index=list("abcde"))
>>> p = profile(f, pd.Series(["x", "x", "y", "y", "z"], index=list("abcde")), min_segment_size=2)
>>> p.sizes[["segment", "customers", "revenue", "suppressed"]].to_dict("records")
[{'segment': 'x', 'customers': 2.0, 'revenue': 30.0, 'suppressed': False}, {'segment': 'y', 'customers': 2.0, 'revenue': 70.0, 'suppressed': False}, {'segment': 'z', 'customers': nan, 'revenue': nan, 'suppressed': True}]
>>> print(p.note)
1 segment has fewer than 2 customers; its figures are suppressed to protect privacy: z.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segmint._nan import nanmean, nanmedian, nanstd  # noqa: F401
import pandas as pd

from segmint.evaluate.distinct import effect_sizes
from segmint.evaluate.inputs import Segmented, as_float, prepare
from segmint.evaluate.scorecard import records

#: KPI -> (column, aggregate). Missing columns are skipped.
KPIS: dict[str, tuple[str, str]] = {
    "revenue": ("monetary_total", "sum"),
    "mean_spend": ("monetary_total", "mean"),
    "mean_order_value": ("monetary_mean", "mean"),
    "mean_frequency": ("frequency", "mean"),
    "mean_recency_days": ("recency_days", "mean"),
    "mean_tenure_days": ("tenure_days", "mean"),
    "mean_clv": ("predicted_clv_12m", "mean"),
    "probability_alive": ("probability_alive", "mean"),
    "consent_share": ("marketing_consent", "mean"),
}
#: Share columns whose suffix is a value of a mix: category_share_books -> category "books".
MIX_PREFIXES = {"category_share_": "category", "channel_share_": "channel"}
#: Categorical columns shown as a mix (geography) and as demographics.
MIX_COLUMNS = ("region", "country", "city", "preferred_channel")
DEMOGRAPHIC_COLUMNS = ("gender", "age", "is_business", "industry", "company_size")
AGE_BANDS = (0, 25, 35, 45, 55, 65, 200)
AGE_LABELS = ("under 25", "25-34", "35-44", "45-54", "55-64", "65+")


@dataclass
class Profile:
    """Tidy tables describing every segment against the whole base."""

    sizes: pd.DataFrame
    means: pd.DataFrame
    differentiators: pd.DataFrame
    mix: pd.DataFrame
    demographics: pd.DataFrame
    overlap: pd.DataFrame | None
    population: dict[str, float]
    min_segment_size: int
    suppressed: list[str] = field(default_factory=list)
    n_customers: int = 0

    @property
    def segments(self) -> list[str]:
        return self.sizes["segment"].tolist()

    @property
    def suppressed_cells(self) -> int:
        """Category, region or overlap cells held back inside segments that are shown."""
        shown = ~self.mix["segment"].isin(self.suppressed)
        n = int(self.mix.loc[shown, "suppressed"].sum())
        demo_shown = ~self.demographics["segment"].isin(self.suppressed)
        return n + int(self.demographics.loc[demo_shown, "suppressed"].sum())

    @property
    def note(self) -> str:
        """A sentence on small-cell protection ('' when nothing was held back)."""
        parts = []
        if self.suppressed:
            k = len(self.suppressed)
            parts.append(f"{k} segment{'s have' if k > 1 else ' has'} fewer than {self.min_segment_size} "
                         f"customers; {'their' if k > 1 else 'its'} figures are suppressed to protect privacy: "
                         + ", ".join(self.suppressed) + ".")
        cells = self.suppressed_cells
        if cells:
            parts.append(f"{cells} category, region or demographic cells count fewer than {self.min_segment_size} "
                         "customers and are suppressed.")
        return " ".join(parts)

    def kpi(self, segment: str, name: str) -> float:
        row = self.sizes.loc[self.sizes.segment == segment]
        return float(row[name].iloc[0]) if name in row and len(row) else np.nan

    def index_of(self, segment: str, feature: str) -> float:
        m = self.means[(self.means.segment == segment) & (self.means.feature == feature)]
        return float(m["index"].iloc[0]) if len(m) else np.nan

    def mean_of(self, segment: str, feature: str) -> float:
        m = self.means[(self.means.segment == segment) & (self.means.feature == feature)]
        return float(m["segment_mean"].iloc[0]) if len(m) else np.nan

    def heatmap(self, features: list[str] | None = None) -> pd.DataFrame:
        """Index by segment (rows) x feature (columns), suppressed segments left out."""
        m = self.means[~self.means.suppressed]
        if features is not None:
            m = m[m.feature.isin(features)]
        table = m.pivot(index="segment", columns="feature", values="index")
        return table.reindex(index=[s for s in self.segments if s in table.index])

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_customers": self.n_customers,
            "min_segment_size": self.min_segment_size,
            "suppressed": self.suppressed,
            "note": self.note,
            "population": {k: (None if not np.isfinite(v) else float(v)) for k, v in self.population.items()},
            "sizes": records(self.sizes),
            "means": records(self.means),
            "differentiators": records(self.differentiators),
            "mix": records(self.mix),
            "demographics": records(self.demographics),
            "overlap": None if self.overlap is None else records(self.overlap.reset_index()),
        }


def profile(features: pd.DataFrame, labels, catalog=None, min_segment_size: int = 10,
            top_n: int = 5) -> Profile:
    """Profile every segment against the whole base (see the module docstring).

    Parameters
    ----------
    features : DataFrame
        One row per customer, indexed by customer id.
    labels : Series or boolean DataFrame
        Segment per customer, or one column per (overlapping) audience.
    catalog : mapping, optional
        feature -> (family, kind, description).
    min_segment_size : int
        Smallest count of customers shown (``privacy.min_segment_size`` in ``segmint.yaml``).
    top_n : int
        Differentiators and mix values kept per segment.
    """
    seg = prepare(features, labels, catalog)
    sizes = seg.members.sum().astype(int)
    small = [s for s in seg.segments if sizes[s] < min_segment_size]
    means = _means(seg, small)
    population = {kpi: _aggregate(seg.features, col, how) for kpi, (col, how) in KPIS.items()
                  if col in seg.features.columns}
    population["customers"] = float(len(seg.features))
    return Profile(
        sizes=_sizes(seg, sizes, small),
        means=means,
        differentiators=_differentiators(seg, means, small, top_n),
        mix=_mix(seg, sizes, small, min_segment_size, top_n, demographic=False),
        demographics=_mix(seg, sizes, small, min_segment_size, None, demographic=True),
        overlap=_overlap(seg, min_segment_size) if seg.overlapping else None,
        population=population, min_segment_size=min_segment_size, suppressed=small,
        n_customers=len(seg.features),
    )


def _aggregate(frame: pd.DataFrame, col: str, how: str) -> float:
    x = as_float(frame[col])
    if not np.isfinite(x).any():
        return np.nan
    return float(np.nansum(x)) if how == "sum" else float(nanmean(x))


def _sizes(seg: Segmented, sizes: pd.Series, small: list[str]) -> pd.DataFrame:
    n = len(seg.features)
    total = {kpi: _aggregate(seg.features, col, "sum") for kpi, (col, how) in KPIS.items()
             if how == "sum" and col in seg.features}
    rows = []
    for s in seg.segments:
        sub = seg.features[seg.members[s].to_numpy()]
        row: dict[str, Any] = {"segment": s, "customers": float(sizes[s]), "share": sizes[s] / n}
        for kpi, (col, how) in KPIS.items():
            if col in sub.columns:
                row[kpi] = _aggregate(sub, col, how)
                if how == "sum":
                    row[f"{kpi}_share"] = row[kpi] / total[kpi] if total[kpi] else np.nan
        row["suppressed"] = s in small
        rows.append(row)
    out = pd.DataFrame(rows)
    values = [c for c in out.columns if c not in ("segment", "suppressed")]
    out.loc[out.suppressed, values] = np.nan
    return out


def _means(seg: Segmented, small: list[str]) -> pd.DataFrame:
    rows = []
    cols = seg.numeric()
    X = np.column_stack([as_float(seg.features[c]) for c in cols]) if cols else np.empty((len(seg.features), 0))
    pop = nanmean(X, axis=0) if cols else np.empty(0)
    for s in seg.segments:
        m = seg.members[s].to_numpy()
        sub = X[m]
        with np.errstate(all="ignore"):
            mean = nanmean(sub, axis=0) if len(sub) else np.full(len(cols), np.nan)
        for j, c in enumerate(cols):
            hidden = s in small
            idx = 100 * mean[j] / pop[j] if abs(pop[j]) > 1e-12 else np.nan
            rows.append([s, c, seg.catalog[c].family, np.nan if hidden else mean[j], pop[j],
                         np.nan if hidden else idx, hidden])
    return pd.DataFrame(rows, columns=["segment", "feature", "family", "segment_mean", "population_mean",
                                       "index", "suppressed"])


def _differentiators(seg: Segmented, means: pd.DataFrame, small: list[str], top_n: int) -> pd.DataFrame:
    cols = ["segment", "rank", "feature", "family", "kind", "direction", "effect", "magnitude", "segment_mean",
            "population_mean", "index", "top_value", "q_value"]
    effects = effect_sizes(seg, seg)
    effects = effects[effects.significant & (effects.magnitude != "negligible") & ~effects.segment.isin(small)]
    if effects.empty:
        return pd.DataFrame(columns=cols)
    top = effects.groupby("segment", sort=False).head(top_n).copy()
    top["rank"] = top.groupby("segment", sort=False).cumcount() + 1
    top["direction"] = np.where(top.kind == "categorical", "over-represented",
                                np.where(top.smd > 0, "higher", "lower"))
    top = top.merge(means[["segment", "feature", "population_mean", "index"]], on=["segment", "feature"],
                    how="left")
    return top[cols].reset_index(drop=True)


def _as_text(values: pd.Series) -> pd.Series:
    """Category values as text, missing ones as ``(missing)``."""
    return values.astype("object").where(values.notna(), "(missing)").astype(str)


def _mix_sources(seg: Segmented, demographic: bool) -> list[tuple[str, str, pd.Series | None, list[str]]]:
    """(dimension, kind, categorical values | None, share columns) for each mix to show."""
    out = []
    if demographic:
        for c in DEMOGRAPHIC_COLUMNS:
            if c not in seg.features:
                continue
            if c == "age" and seg.kinds.get(c) == "numeric":
                band = pd.cut(as_float(seg.features[c]), AGE_BANDS, right=False, labels=AGE_LABELS)
                out.append(("age band", "categorical", pd.Series(band, index=seg.features.index), []))
            elif c in seg.kinds:
                out.append((c, "categorical", seg.features[c], []))
        return out
    for prefix, dim in MIX_PREFIXES.items():
        share_cols = [c for c in seg.numeric() if c.startswith(prefix)]
        if share_cols:
            out.append((dim, "shares", None, share_cols))
    for c in MIX_COLUMNS:
        if c in seg.features and seg.kinds.get(c) == "categorical":
            out.append((c, "categorical", seg.features[c], []))
    return out


def _mix(seg: Segmented, sizes: pd.Series, small: list[str], min_size: int, top_n: int | None,
         demographic: bool) -> pd.DataFrame:
    cols = ["segment", "dimension", "value", "share", "population_share", "index", "rank", "suppressed"]
    rows = []
    for dim, kind, values, share_cols in _mix_sources(seg, demographic):
        # What does not depend on the segment is computed once per dimension: converting a million values
        # to text for every segment was most of the profile's time.
        if kind == "shares":
            arrays = {re.sub(r"^[a-z]+_share_", "", c): as_float(seg.features[c]) for c in share_cols}
            pop = pd.Series({name: nanmean(a) for name, a in arrays.items()})
        else:
            text = _as_text(values)
            pop = text.value_counts(normalize=True)
        for s in seg.segments:
            m = seg.members[s].to_numpy()
            if kind == "shares":
                share = pd.Series({name: nanmean(a[m]) for name, a in arrays.items()})
                counts = None
            else:
                counts = text[m].value_counts()
                share = counts / max(int(m.sum()), 1)
            share = share.sort_values(ascending=False)
            for rank, (value, sh) in enumerate(share.items(), start=1):
                if top_n is not None and rank > top_n:
                    break
                hidden = s in small or (counts is not None and counts.get(value, 0) < min_size)
                p = float(pop.get(value, np.nan))
                rows.append([s, dim, str(value), np.nan if hidden else float(sh), p,
                             np.nan if hidden or not p else 100 * float(sh) / p, rank, hidden])
    return pd.DataFrame(rows, columns=cols)


def _overlap(seg: Segmented, min_size: int) -> pd.DataFrame:
    """Customers in both audiences (diagonal: in the audience); small counts suppressed."""
    M = seg.members.to_numpy(int)
    both = (M.T @ M).astype(float)
    both[both < min_size] = np.nan
    return pd.DataFrame(both, index=pd.Index(seg.segments, name="segment"), columns=seg.segments)
