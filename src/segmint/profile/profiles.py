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

Sizes, means, KPIs and mixes count every customer: they are group-bys over the columns
(one ``np.bincount`` per column), never a copy of a segment's rows. The differentiators
rank effect sizes, which above ``max_rows`` customers come from the same stratified sample
as the scorecard's (:mod:`segmint.evaluate.sampling`); :attr:`Profile.sample` says so.

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
from segmint.evaluate.sampling import sample_info, stratified_sample
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
    #: How the differentiators' sample was drawn (``customers``, ``of``, ``note``...); None when exact.
    sample: dict[str, Any] | None = None

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
            "sample": self.sample,
        }


def profile(features: pd.DataFrame | None = None, labels=None, catalog=None, min_segment_size: int = 10,
            top_n: int = 5, *, max_rows: int | None = None, random_state: int = 0,
            prepared: Segmented | None = None) -> Profile:
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
    max_rows : int, optional
        Above this many customers, the differentiators' effect sizes come from a stratified
        sample of ``max_rows`` (seeded by ``random_state``); sizes, means and mixes stay exact.
    prepared : Segmented, optional
        ``features``, ``labels`` and ``catalog`` already aligned by :func:`~segmint.evaluate.inputs.prepare`
        (give it instead of them).
    """
    seg = prepared if prepared is not None else prepare(features, labels, catalog)
    sizes = seg.members.sum().astype(int)
    small = [s for s in seg.segments if sizes[s] < min_segment_size]
    means = _means(seg, small)
    population = {kpi: _aggregate(_column(seg, col), how) for kpi, (col, how) in KPIS.items()
                  if col in seg.features.columns}
    population["customers"] = float(len(seg.features))
    work = stratified_sample(seg, max_rows, random_state)
    info = sample_info(work)
    return Profile(
        sizes=_sizes(seg, sizes, small),
        means=means,
        differentiators=_differentiators(work, means, small, top_n),
        mix=_mix(seg, sizes, small, min_segment_size, top_n, demographic=False),
        demographics=_mix(seg, sizes, small, min_segment_size, None, demographic=True),
        overlap=_overlap(seg, min_segment_size) if seg.overlapping else None,
        population=population, min_segment_size=min_segment_size, suppressed=small,
        n_customers=len(seg.features), sample=None if info is None else info.to_dict(),
    )


def _column(seg: Segmented, col: str) -> np.ndarray:
    # converted where used, not kept: kept for every column it would hold GBs at a million customers
    return as_float(seg.features[col])


def _aggregate(x: np.ndarray, how: str) -> float:
    if not np.isfinite(x).any():
        return np.nan
    return float(np.nansum(x)) if how == "sum" else float(nanmean(x))


def _group_sums(seg: Segmented, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per segment (in ``seg.segments`` order): the sum of the finite values of ``x`` and their count."""
    ok = ~np.isnan(x)  # what nansum and nanmean count
    return seg.segment_sums(x[ok], ok), seg.segment_sums(rows=ok)


def _group_aggregate(seg: Segmented, x: np.ndarray, how: str) -> np.ndarray:
    """:func:`_aggregate` of every segment at once (NaN where a segment has no value)."""
    total, count = _group_sums(seg, x)
    with np.errstate(all="ignore"):
        out = total if how == "sum" else total / count
    return np.where(count > 0, out, np.nan)


def _sizes(seg: Segmented, sizes: pd.Series, small: list[str]) -> pd.DataFrame:
    n = len(seg.features)
    present = {kpi: (col, how) for kpi, (col, how) in KPIS.items() if col in seg.features}
    total = {kpi: _aggregate(_column(seg, col), "sum") for kpi, (col, how) in present.items() if how == "sum"}
    per_segment = {kpi: _group_aggregate(seg, _column(seg, col), how) for kpi, (col, how) in present.items()}
    rows = []
    for i, s in enumerate(seg.segments):
        row: dict[str, Any] = {"segment": s, "customers": float(sizes[s]), "share": sizes[s] / n}
        for kpi, (col, how) in present.items():
            row[kpi] = float(per_segment[kpi][i])
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
    k = len(seg.segments)
    pop = np.array([nanmean(_column(seg, c)) for c in cols], float)
    # segments x features; a group-by per column, never a copy of a segment's rows
    seg_means = (np.column_stack([_group_aggregate(seg, _column(seg, c), "mean") for c in cols]) if cols
                 else np.empty((k, 0)))
    for i, s in enumerate(seg.segments):
        mean = seg_means[i]
        for j, c in enumerate(cols):
            hidden = s in small
            idx = 100 * mean[j] / pop[j] if abs(pop[j]) > 1e-12 else np.nan
            rows.append([s, c, seg.catalog[c].family, np.nan if hidden else mean[j], pop[j],
                         np.nan if hidden else idx, hidden])
    return pd.DataFrame(rows, columns=["segment", "feature", "family", "segment_mean", "population_mean",
                                       "index", "suppressed"])


def _differentiators(seg: Segmented, means: pd.DataFrame, small: list[str], top_n: int) -> pd.DataFrame:
    cols = ["segment", "rank", "feature", "family", "kind", "direction", "effect", "measure", "magnitude", "segment_mean",
            "population_mean", "index", "top_value", "q_value"]
    effects = effect_sizes(prepared=seg)
    effects = effects[effects.significant & (effects.magnitude != "negligible") & ~effects.segment.isin(small)]
    if effects.empty:
        return pd.DataFrame(columns=cols)
    top = effects.groupby("segment", sort=False).head(top_n).copy()
    top["rank"] = top.groupby("segment", sort=False).cumcount() + 1
    top["direction"] = np.where(top.kind == "categorical", "over-represented",
                                np.where(top.effect > 0, "higher", "lower"))
    top = top.merge(means[["segment", "feature", "population_mean", "index"]], on=["segment", "feature"],
                    how="left")
    return top[cols].reset_index(drop=True)


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
    n = len(seg.features)
    for dim, kind, values, share_cols in _mix_sources(seg, demographic):
        # Per dimension, one group-by over integer codes: converting a million values to text, or masking
        # them once per segment, was most of the profile's time.
        if kind == "shares":
            names = [re.sub(r"^[a-z]+_share_", "", c) for c in share_cols]
            columns = [_column(seg, c) for c in share_cols]
            pop = pd.Series({name: nanmean(a) for name, a in zip(names, columns)})
            per_segment = np.column_stack([_group_aggregate(seg, a, "mean") for a in columns])
        else:
            codes, text = _text_codes(values)
            table = seg.crosstab(codes, len(text))
            # everyone's mix (audiences overlap, so it is not the sum of theirs)
            pop = pd.Series(np.bincount(codes, minlength=len(text)) / max(n, 1), index=text)
        for i, s in enumerate(seg.segments):
            if kind == "shares":
                share = pd.Series(per_segment[i], index=names)
                counts = None
            else:
                counts = _value_counts(seg, s, codes, table[i], text)
                share = counts / max(int(sizes[s]), 1)
            share = share.sort_values(ascending=False)
            for rank, (value, sh) in enumerate(share.items(), start=1):
                if top_n is not None and rank > top_n:
                    break
                hidden = s in small or (counts is not None and counts.get(value, 0) < min_size)
                p = float(pop.get(value, np.nan))
                rows.append([s, dim, str(value), np.nan if hidden else float(sh), p,
                             np.nan if hidden or not p else 100 * float(sh) / p, rank, hidden])
    return pd.DataFrame(rows, columns=cols)


def _text_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the values as text (missing as ``(missing)``), and those texts in order of first appearance.

    Values that read the same are one category. Only the distinct values are turned into text: turning a
    million values into text took seconds per column.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = [str(u) for u in uniques] + ["(missing)"]
    merged, text = pd.factorize(np.asarray(labels, dtype=object))  # values that read the same are one category
    codes = merged[codes]  # code -1 (missing) picks "(missing)", the last label
    return codes, np.asarray(text, dtype=object)


def _value_counts(seg: Segmented, segment: str, codes: np.ndarray, counts: np.ndarray, text: np.ndarray) -> pd.Series:
    """What ``text[m].value_counts()`` gives for the segment's customers, from their counts.

    ``value_counts`` lists equal counts in order of first appearance among the segment's customers; that
    order is looked up only when two counts tie.
    """
    present = np.flatnonzero(counts)
    if len(np.unique(counts[present])) < len(present):
        m = seg.members[segment].to_numpy(bool)
        present = pd.unique(codes[m])
    return pd.Series(counts[present], index=pd.Index(text[present], dtype=object), name="count").sort_values(
        ascending=False, kind="stable")


def _overlap(seg: Segmented, min_size: int) -> pd.DataFrame:
    """Customers in both audiences (diagonal: in the audience); small counts suppressed."""
    M = seg.members.to_numpy(int)
    both = (M.T @ M).astype(float)
    both[both < min_size] = np.nan
    return pd.DataFrame(both, index=pd.Index(seg.segments, name="segment"), columns=seg.segments)
