"""The segmentation scorecard: distinct, stable, substantial, reachable, explainable, profitable.

:func:`scorecard` answers each question with numbers and tests, judged against
:class:`~segmint.evaluate.thresholds.Thresholds`, and a sentence a marketer can read.
It needs only plain inputs: a feature table indexed by customer id and the segment
labels (a Series, or a boolean DataFrame for overlapping audiences; measures that need
one segment per customer are then reported as ``n/a``).

Model-based measures (silhouette, separability, bootstrap, surrogate tree) run on a
stratified sample of ``sample_size`` customers. Effect sizes and tests use every customer,
unless there are more than ``max_rows`` (``validation.max_rows`` in ``segmint.yaml``): then
they are computed on a stratified sample of ``max_rows`` customers (every segment kept, small
ones whole; see :mod:`segmint.evaluate.sampling`), which reaches the same verdicts in a
fraction of the time and memory, and the model-based measures standardise their features
with that sample's medians and spreads. Sizes, reach and value always use every customer.
:attr:`Scorecard.sample` says which was done.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> f = pd.DataFrame({"spend": np.r_[rng.normal(0, 1, 300), rng.normal(5, 1, 300)],
...                   "visits": np.r_[rng.normal(0, 1, 300), rng.normal(5, 1, 300)]})
>>> card = scorecard(f, pd.Series(["low"] * 300 + ["high"] * 300), n_bootstrap=5)
>>> card.verdicts["distinct"], card.verdicts["stable"], card.verdicts["substantial"]
('pass', 'pass', 'pass')
>>> card.verdicts["reachable"]
'n/a'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from segmint.evaluate.distinct import cluster_quality, effect_sizes, feature_tests, separability
from segmint.evaluate.explain import explain
from segmint.evaluate.inputs import Segmented, as_float, prepare, standardized, stratified_rows
from segmint.evaluate.sampling import sample_info, stratified_sample
from segmint.evaluate.stability import bootstrap_agreement, temporal_agreement
from segmint.evaluate.thresholds import Thresholds, worst

#: The frozen default limits (a frozen dataclass, so sharing one instance is safe).
DEFAULT_THRESHOLDS = Thresholds()
CRITERIA = ("distinct", "stable", "substantial", "reachable", "explainable", "profitable")
#: Columns that, when present, say a customer can be contacted (besides consent).
CONTACT_COLUMNS = ("has_email", "has_phone", "email", "phone", "contactable", "preferred_channel")
COLUMNS = ["criterion", "metric", "value", "threshold", "verdict", "sentence"]
SEGMENT_COLUMNS = ["segment", "criterion", "metric", "value", "ci_low", "ci_high", "threshold", "verdict",
                   "sentence"]


@dataclass
class Scorecard:
    """The scorecard of one segmentation: tidy tables and a JSON-ready :meth:`to_dict`."""

    segmentation: pd.DataFrame
    segments: pd.DataFrame
    effects: pd.DataFrame
    tests: pd.DataFrame
    rules: pd.DataFrame
    thresholds: Thresholds
    n_customers: int
    details: dict[str, Any] = field(default_factory=dict)
    #: The fairness table (:func:`segmint.privacy.fairness.fairness_table`) when ``fairness=`` was given.
    fairness: dict[str, Any] | None = None

    @property
    def verdicts(self) -> dict[str, str]:
        """criterion -> the worst verdict among its measures."""
        return {c: worst(self.segmentation.loc[self.segmentation.criterion == c, "verdict"]) for c in CRITERIA}

    @property
    def overall(self) -> str:
        return worst(self.verdicts.values())

    @property
    def sample(self) -> dict[str, Any] | None:
        """How the sampled statistics were drawn (``customers``, ``of``, ``note``...); None when exact."""
        return self.details.get("sample")

    @property
    def sample_note(self) -> str:
        """"computed on a stratified sample of N of M customers" (with what it covers), or ''."""
        s = self.sample
        if not s:
            return ""
        return (f"Effect sizes and tests were {s['note']} (validation.max_rows = {s['max_rows']:,}, seed "
                f"{s['random_state']}), and the model-based measures standardised on it; sizes, reach and value "
                "use every customer.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall,
            "verdicts": self.verdicts,
            "n_customers": self.n_customers,
            "sample": _jsonable(self.sample),
            "segmentation": records(self.segmentation),
            "segments": records(self.segments),
            "rules": records(self.rules),
            "tests": records(self.tests),
            "thresholds": self.thresholds.to_dict(),
            "details": _jsonable(self.details),
            "fairness": _jsonable(self.fairness),
        }


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values; NaN becomes None."""
    return [_jsonable(r) for r in frame.to_dict("records")]


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def scorecard(features: pd.DataFrame | None = None, labels=None, catalog=None, labels_later: pd.Series | None = None,
              consent_column: str = "marketing_consent", value_column: str = "monetary_total",
              clv_column: str = "predicted_clv_12m", thresholds: Thresholds = DEFAULT_THRESHOLDS,
              random_state: int = 0, *, n_bootstrap: int = 20, sample_size: int = 5000,
              contact_columns: Sequence[str] | None = None, min_segment_size: int = 10,
              max_rows: int | None = None, prepared: Segmented | None = None,
              fairness: dict[str, Any] | None = None) -> Scorecard:
    """Score a segmentation on the six criteria.

    Parameters
    ----------
    features : DataFrame
        One row per customer, indexed by customer id.
    labels : Series or boolean DataFrame
        Segment per customer, or one column per (overlapping) audience.
    catalog : mapping, optional
        feature -> (family, kind, description).
    labels_later : Series, optional
        The same segmentation at a later ``as_of``, for temporal stability.
    consent_column, value_column, clv_column : str
        Columns for reach, revenue share and value (skipped when absent).
    thresholds : Thresholds
        Pass / warn limits.
    random_state : int
        Seed of every sample and resample.
    n_bootstrap : int
        Bootstrap resamples for stability and confidence intervals.
    sample_size : int
        Customers (stratified) used by the model-based measures.
    contact_columns : sequence of str, optional
        Columns that show a contact channel; default: those of :data:`CONTACT_COLUMNS` present.
    min_segment_size : int
        Small-cell protection (``privacy.min_segment_size``): a segment with fewer customers
        shows no per-segment figures (only that it is too small), and is left out of the
        "least distinct / stable / reachable segment" summaries.
    max_rows : int, optional
        With more customers than this, effect sizes, tests and the model-based measures are
        computed on a stratified sample of ``max_rows`` customers (seeded by ``random_state``;
        recorded in :attr:`Scorecard.sample`). None: every customer, however many.
    prepared : Segmented, optional
        ``features``, ``labels`` and ``catalog`` already aligned by :func:`~segmint.evaluate.inputs.prepare`
        (give it instead of them): the workspace prepares a run once for its scorecard, profile and report.
    fairness : dict, optional
        ``privacy.fairness`` settings (``attributes``, ``intersections``, ``threshold``, ``bootstrap``,
        ``reference``): the scorecard then carries the fairness table of those protected attributes
        found among the features (:attr:`Scorecard.fairness`; small cells under ``min_segment_size``
        suppressed). Every customer counts, whatever ``max_rows``.
    """
    seg = prepared if prepared is not None else prepare(features, labels, catalog)
    t = thresholds
    n = len(seg.features)
    sizes = seg.members.sum().astype(int)
    b = _Builder(t, [s for s in seg.segments if sizes[s] < min_segment_size], min_segment_size)
    details: dict[str, Any] = {"segments": seg.segments, "unassigned": seg.unassigned,
                               "overlapping": seg.overlapping}
    # The statistics that compare distributions run on ``work``: the customers themselves, or a stratified
    # sample of them above ``max_rows``. Sizes, reach and value below always count every customer.
    work = stratified_sample(seg, max_rows, random_state)
    info = sample_info(work)
    if info is not None:
        details["sample"] = info.to_dict()

    # The model-based measures below fit small models on at most ``sample_size`` customers: there BLAS
    # threads wait on each other more than they work (the separability fits took 45 s instead of 0.8 s
    # on a busy 2-core machine), so they run on one thread. The bootstrap refits of the stability check
    # (about a second of tree fits whatever the base size) run on a second thread meanwhile, beside the
    # effect sizes and tests: scikit-learn builds trees without holding the GIL, so on two cores they
    # are nearly free. Their rows still come in the same place.
    with threadpool_limits(1), ThreadPoolExecutor(max_workers=1) as pool:
        rows = X = y = used = refits = None
        if not seg.overlapping:
            # The same customers as without ``max_rows`` (drawn from everyone, by segment codes: the same
            # draw as by labels, without comparing a million texts), so these measures do not move with the
            # cap; only the standardisation's medians and spreads come from ``work``.
            rows = stratified_rows(seg.codes(), sample_size, random_state=random_state)
            X, used = standardized(seg, rows, reference=work)
            y = seg.labels.to_numpy()[rows]
            refits = pool.submit(bootstrap_agreement, X, y, n_bootstrap=n_bootstrap, random_state=random_state)
        # Every measure is bounded in [0, 1] as |effect| (Cliff's delta, difference in proportions, Cramer's V):
        # no conversion to a "d-equivalent", which ran to 63,245 for a segment defined by one category.
        effects = effect_sizes(prepared=work, alpha=t.alpha)
        tests = feature_tests(prepared=work, alpha=t.alpha)
        _distinct(b, work, effects, tests, sizes)
        if refits is not None:
            _cluster_measures(b, X, y, used, random_state)
            _stability(b, seg, refits.result())
        else:
            for metric in ("silhouette", "separability"):
                b.seg_row("distinct", metric, np.nan, "Needs one segment per customer; these audiences overlap.")
            b.seg_row("stable", "bootstrap_ari", np.nan, "Needs one segment per customer; these audiences overlap.")
        if labels_later is not None:
            _temporal(b, seg, labels_later)
        _substantial(b, seg, sizes, n)
        _reachable(b, seg, sizes, consent_column, contact_columns)
        rules = pd.DataFrame(columns=["segment", "text", "conditions", "support", "support_share", "precision"])
        if not seg.overlapping and len(seg.segments) >= 2:
            sub = prepare(seg.features.iloc[rows], seg.labels.iloc[rows], seg.catalog)
            ex = explain(prepared=sub, random_state=random_state)
            rules = ex.rules
            details["explanation"] = {"max_depth": ex.max_depth, "train_fidelity": ex.train_fidelity,
                                      "features_used": ex.features_used}
            b.seg_row("explainable", "fidelity", ex.fidelity,
                      f"A depth-{ex.max_depth} decision tree puts {ex.fidelity:.0%} of unseen customers in their own "
                      f"segment, using {len(ex.features_used)} features ({', '.join(ex.features_used[:4])}"
                      f"{', ...' if len(ex.features_used) > 4 else ''}).")
            for s in seg.segments:
                r = ex.recall.get(s, np.nan)
                top = ex.rules_for(s)
                rule = f" Main rule: {top[0]}." if top else " No leaf of the tree describes it."
                b.segment_row(s, "explainable", "recall", r, f"The tree assigns {r:.0%} of '{s}' correctly.{rule}")
        else:
            b.seg_row("explainable", "fidelity", np.nan, "Needs one segment per customer; these audiences overlap.")
        _profitable(b, seg, sizes, value_column, clv_column, n_bootstrap * 10, random_state)
    fair = _fairness(seg, fairness, min_segment_size, random_state) if fairness is not None else None
    return Scorecard(b.frame(), b.segment_frame(), effects, tests, rules, t, n, details, fair)


def _fairness(seg: Segmented, settings: dict[str, Any], min_cell: int, seed: int) -> dict[str, Any]:
    """The fairness table of the prepared run, with the names asked for but not among the features."""
    from segmint.privacy.fairness import attribute_columns, fairness_table

    names = list(settings.get("attributes", []))
    columns = attribute_columns(seg.features, names, list(settings.get("intersections", [])))
    if seg.overlapping:  # one row per (customer, audience) held
        held = seg.members.stack()
        labels = pd.Series(held[held].index.get_level_values(1), index=held[held].index.get_level_values(0))
    else:
        labels = seg.labels
    table = fairness_table(labels, columns, min_cell=min_cell, threshold=settings.get("threshold", 0.8),
                           bootstrap=settings.get("bootstrap", 200), reference=settings.get("reference"),
                           random_state=seed)
    return {"not_in_snapshot": [x for x in names if x not in columns], **table}


class _Builder:
    """Collects rows, judging each with the thresholds."""

    def __init__(self, t: Thresholds, hidden: list[str], min_size: int) -> None:
        self.t, self.rows, self.seg_rows = t, [], []
        self.hidden, self.min_size = hidden, min_size

    def shown(self, segments) -> list[str]:
        return [s for s in segments if s not in self.hidden]

    def seg_row(self, criterion: str, metric: str, value: float, sentence: str) -> None:
        self.rows.append([criterion, metric, _f(value), self.t.describe(metric), self.t.judge(metric, _f(value)),
                          sentence])

    def segment_row(self, segment: str, criterion: str, metric: str, value: float, sentence: str,
                    ci: tuple[float, float] = (np.nan, np.nan)) -> None:
        if segment in self.hidden:  # small-cell protection: say it is too small, nothing more
            verdict = self.t.judge(metric, _f(value)) if criterion == "substantial" else "n/a"
            self.seg_rows.append([segment, criterion, metric, np.nan, np.nan, np.nan, self.t.describe(metric),
                                  verdict, (f"'{segment}' has fewer than {self.min_size} customers; its figures "
                                            "are suppressed.")])
            return
        self.seg_rows.append([segment, criterion, metric, _f(value), ci[0], ci[1], self.t.describe(metric),
                              self.t.judge(metric, _f(value)), sentence])

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)

    def segment_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.seg_rows, columns=SEGMENT_COLUMNS)


def _f(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return np.nan


def _distinct(b: _Builder, seg: Segmented, effects: pd.DataFrame, tests: pd.DataFrame, sizes) -> None:
    best = {}
    for s in seg.segments:
        e = effects[(effects.segment == s) & effects.significant]
        if len(e):
            top = e.loc[e["abs_effect"].idxmax()]
            best[s] = (float(top["abs_effect"]), str(top["feature"]), str(top["measure"]))
            b.segment_row(s, "distinct", "max_effect", best[s][0],
                          f"'{s}' differs most on {top['feature']} ({_effect_words(top)}).")
        else:
            best[s] = (0.0, "", "")
            b.segment_row(s, "distinct", "max_effect", 0.0,
                          f"'{s}' shows no significant difference from the rest of the base.")
    least = min(b.shown(best) or best, key=lambda s: best[s][0])
    value, feat, measure = best[least]
    where = f", on {feat}" if feat else ""
    size = f"{measure} {value:.2f}" if measure else f"{value:.2f}"
    b.seg_row("distinct", "min_effect", value,
              f"Every segment differs from the rest of the base by a bounded effect (0 to 1) of at least {size} "
              f"(least distinct: '{least}'{where}).")
    if len(tests):
        sig = int(tests.significant.sum())
        b.seg_row("distinct", "significant_features", sig,
                  f"{sig} of {len(tests)} features differ between segments (Kruskal-Wallis / chi-square, "
                  f"Benjamini-Hochberg q < {b.t.alpha:g}).")


def _effect_words(row) -> str:
    """The effect in words, each number labelled with its measure."""
    if row["kind"] == "categorical":
        return f"Cramer's V {row['cramers_v']:.2f}, most over-represented: {row['top_value']}"
    direction = "higher" if row["effect"] > 0 else "lower"
    if row["kind"] == "binary":
        return (f"{direction}, difference in proportions {row['effect']:+.2f} at its higher value "
                f"(Cramer's V {row['cramers_v']:.2f})")
    return f"{direction}, Cliff's delta {row['cliffs_delta']:+.2f}, standardised mean difference {row['smd']:+.2f}"


def _cluster_measures(b: _Builder, X: np.ndarray, y: np.ndarray, used: list[str], seed: int) -> None:
    q = cluster_quality(X, y, random_state=seed)
    b.seg_row("distinct", "silhouette", q["silhouette"],
              f"Mean silhouette {q['silhouette']:.2f} on {len(used)} standardised numeric features "
              f"({min(len(y), 2000):,} sampled customers); above 0.25 shows real structure.")
    b.seg_row("distinct", "calinski_harabasz", q["calinski_harabasz"],
              f"Calinski-Harabasz {q['calinski_harabasz']:,.0f}: between- vs within-segment dispersion "
              "(higher is better; compare segmentations of the same data).")
    b.seg_row("distinct", "davies_bouldin", q["davies_bouldin"],
              f"Davies-Bouldin {q['davies_bouldin']:.2f}: how much the closest segments overlap (lower is better).")
    sep = separability(X, y, random_state=seed)
    model = sep["model"] or "no classifier"
    b.seg_row("distinct", "separability", sep["separability"],
              f"A {model} recovers the segment of unseen customers with balanced accuracy "
              f"{sep['balanced_accuracy']:.2f} ({sep['chance']:.2f} by chance).")


def _stability(b: _Builder, seg: Segmented, refitted: tuple[dict[str, Any], pd.Series]) -> None:
    summary, jac = refitted  # bootstrap_agreement's answer
    b.seg_row("stable", "bootstrap_ari", summary["bootstrap_ari"],
              f"Refitted on {summary['n_bootstrap']} bootstrap resamples, a decision tree re-assigns unseen "
              f"customers with adjusted Rand index {summary['bootstrap_ari']:.2f} "
              f"(sd {summary['bootstrap_ari_sd']:.2f}).")
    shown = jac[b.shown(jac.index)]
    least = shown.idxmin() if shown.notna().any() else None
    low = float(shown.min()) if least is not None else np.nan
    b.seg_row("stable", "min_jaccard", low,
              f"The least stable segment, '{least}', keeps a mean Jaccard of {low:.2f} "
              "across resamples (above 0.75 is stable, below 0.5 dissolves).")
    for s in seg.segments:
        v = jac.get(s, np.nan)
        b.segment_row(s, "stable", "jaccard", v, f"'{s}' keeps a mean bootstrap Jaccard of {v:.2f}.")


def _temporal(b: _Builder, seg: Segmented, labels_later: pd.Series) -> None:
    if seg.overlapping:
        b.seg_row("stable", "temporal_ari", np.nan, "Temporal agreement needs one segment per customer.")
        return
    summary, per = temporal_agreement(seg.labels, labels_later)
    b.seg_row("stable", "temporal_ari", summary["temporal_ari"],
              f"Between the two dates the labels agree with adjusted Rand index {summary['temporal_ari']:.2f} "
              f"over {summary['customers_both']:,} customers labelled at both.")
    for r in per.itertuples():
        b.segment_row(r.segment, "stable", "retention", r.retention,
                      f"{r.retention:.0%} of '{r.segment}' are still in it at the later date "
                      f"(Jaccard {r.jaccard:.2f}).")


def _substantial(b: _Builder, seg: Segmented, sizes: pd.Series, n: int) -> None:
    for s in seg.segments:
        size, share = int(sizes[s]), sizes[s] / n
        b.segment_row(s, "substantial", "size", size, f"'{s}' has {size:,} customers.")
        b.segment_row(s, "substantial", "share", share, f"'{s}' is {share:.1%} of the base.")
    small = sizes.idxmin()
    if small in b.hidden:
        k = len(b.hidden)
        b.rows.append(["substantial", "min_size", np.nan, b.t.describe("min_size"),
                       b.t.judge("min_size", float(sizes.min())),
                       (f"{k} segment{'s have' if k > 1 else ' has'} fewer than {b.min_size} customers "
                        f"({', '.join(b.hidden)}); exact sizes are suppressed.")])
        b.rows.append(["substantial", "min_share", np.nan, b.t.describe("min_share"),
                       b.t.judge("min_share", sizes.min() / n),
                       f"{len(seg.segments)} segments; the smallest is under {b.min_size / n:.1%} of the base."])
        return
    b.seg_row("substantial", "min_size", int(sizes.min()),
              f"The smallest segment, '{small}', has {int(sizes.min()):,} customers "
              f"({sizes.min() / n:.1%} of {n:,}).")
    b.seg_row("substantial", "min_share", sizes.min() / n,
              f"{len(seg.segments)} segments; the smallest is {sizes.min() / n:.1%} of the base.")


def _reachable(b: _Builder, seg: Segmented, sizes: pd.Series, consent: str, contact) -> None:
    f = seg.features
    if consent not in f.columns:
        b.seg_row("reachable", "min_reachable_share", np.nan,
                  f"No {consent!r} column: reach cannot be measured.")
        return
    ok = pd.Series(np.nan_to_num(as_float(f[consent])) > 0, index=f.index)
    contact = [c for c in (contact if contact is not None else CONTACT_COLUMNS) if c in f.columns]
    for c in contact:
        v = f[c]
        if pd.api.types.is_bool_dtype(v) or pd.api.types.is_numeric_dtype(v):
            has = v.fillna(False).astype(bool).to_numpy(bool)
        else:
            # judge each distinct value once (text for a million customers took a second per column)
            codes, uniques = pd.factorize(v, use_na_sentinel=True)
            filled = np.asarray([str(u).strip() != "" for u in uniques] + [False], dtype=bool)
            has = filled[codes]  # code -1 (missing) picks the final False
        ok &= has
    how = "marketing consent" + (f" and {' and '.join(contact)}" if contact else "")
    shares = {s: float(ok[seg.members[s].to_numpy()].mean()) for s in seg.segments}
    for s, v in shares.items():
        b.segment_row(s, "reachable", "reachable_share", v, f"{v:.0%} of '{s}' can be reached ({how}).")
    least = min(b.shown(shares) or shares, key=shares.get)
    note = "" if contact else " No contact-channel column was found, so consent alone counts."
    b.seg_row("reachable", "min_reachable_share", shares[least],
              f"In the least reachable segment, '{least}', {shares[least]:.0%} can be contacted ({how}).{note}")


def _profitable(b: _Builder, seg: Segmented, sizes, value_col: str, clv_col: str, n_boot: int, seed: int) -> None:
    f = seg.features
    rng = np.random.default_rng(seed)
    if value_col in f.columns:
        value = np.nan_to_num(as_float(f[value_col]))
        total = value.sum()
        shares = {s: float(value[seg.members[s].to_numpy()].sum() / total) if total else np.nan
                  for s in seg.segments}
        for s, v in shares.items():
            b.segment_row(s, "profitable", "revenue_share", v,
                          f"'{s}' brings {v:.1%} of {value_col} from {sizes[s] / len(f):.1%} of customers.")
        top = max(b.shown(shares) or shares, key=lambda s: shares[s] if np.isfinite(shares[s]) else -1)
        b.seg_row("profitable", "top_revenue_share", shares[top],
                  f"'{top}' brings the largest share of {value_col}: {shares[top]:.1%} from "
                  f"{sizes[top] / len(f):.1%} of customers.")
    col = clv_col if clv_col in f.columns else value_col if value_col in f.columns else None
    if col is None:
        b.seg_row("profitable", "value_effect", np.nan, f"Neither {clv_col!r} nor {value_col!r} is present.")
        return
    x = as_float(f[col])
    for s in seg.segments:
        v = x[seg.members[s].to_numpy()]
        v = v[np.isfinite(v)]
        mean, lo, hi = bootstrap_mean_ci(v, n_boot, rng)
        b.segment_row(s, "profitable", f"mean_{col}", mean,
                      f"'{s}' has mean {col} {mean:,.2f} (95% CI {lo:,.2f} to {hi:,.2f}).", (lo, hi))
    if not seg.overlapping:
        value = seg.over(pd.DataFrame({col: x}, index=f.index))
        tests = feature_tests(prepared=value)
        eps = float(tests["effect"].iloc[0]) if len(tests) else np.nan
        b.seg_row("profitable", "value_effect", eps,
                  f"Segments differ in {col} with epsilon-squared {eps:.2f} (Kruskal-Wallis; 0.08 is a medium "
                  "effect): they are worth treating differently.")


def bootstrap_mean_ci(v: np.ndarray, n_boot: int, rng: np.random.Generator, level: float = 0.95,
                      max_cells: int = 5_000_000) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap interval; the normal interval once a bootstrap would be too big.

    >>> m, lo, hi = bootstrap_mean_ci(np.arange(100.0), 200, np.random.default_rng(0))
    >>> m, lo < m < hi
    (49.5, True)
    """
    if len(v) == 0:
        return np.nan, np.nan, np.nan
    mean = float(v.mean())
    if len(v) < 2:
        return mean, np.nan, np.nan
    a = (1 - level) / 2
    if len(v) * n_boot > max_cells:  # the central limit theorem is exact enough at this size
        half = 1.959964 * v.std(ddof=1) / math.sqrt(len(v))
        return mean, mean - half, mean + half
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    return mean, float(np.quantile(means, a)), float(np.quantile(means, 1 - a))
