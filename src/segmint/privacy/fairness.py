"""The fairness table of a segmentation: each protected group's share in each segment against the base.

For every protected attribute (``privacy.fairness.attributes``: gender and age band by default,
and the intersections listed, gender x age band) and every segment:

* **share**: the group's share of the segment's members, against its share of the base (every
  customer of the run), and their ratio (``representation``: 1 is proportional);
* **selection rate**: the share of the group's customers that the segment holds, from
  fairlearn's :class:`~fairlearn.metrics.MetricFrame` (``selection_rate`` by group), and the
  **disparity ratio** against the reference group (``privacy.fairness.reference``; default the
  largest group). The four-fifths rule flags a ratio under the threshold (0.8) as ``under`` and
  one over its inverse (1.25) as ``over``;
* **balance** (Chierichetti et al., 2017, "Fair clustering through fairlets"): the smallest ratio
  between two groups' member counts in the segment (``min/max``; 1 is perfectly balanced, 0
  means a group is absent); beside it the base's balance, which no segment can exceed on average;
* **bootstrap intervals** (95%, percentile) for the share and the disparity ratio: the customers
  are resampled with replacement, as a multinomial draw over (group, segments) cells;
* **small cells**: a cell (group x segment) with fewer members than ``privacy.min_segment_size``
  has its numbers suppressed, and says so; a group that small in the base is suppressed too.

Examples
--------
>>> import pandas as pd
>>> labels = pd.Series(["A"] * 60 + ["B"] * 40, index=[f"C{i}" for i in range(100)])
>>> gender = pd.Series(["F"] * 50 + ["M"] * 10 + ["M"] * 40, index=labels.index)
>>> t = fairness_table(labels, {"gender": gender}, min_cell=5, bootstrap=0, reference={"gender": "F"})
>>> a = t["attributes"][0]
>>> [(s["segment"], s["balance"]) for s in a["segments"]]
[('A', 0.2), ('B', 0.0)]
>>> cell = [c for c in a["segments"][0]["cells"] if c["group"] == "M"][0]
>>> cell["selection_rate"], cell["disparity_ratio"], cell["four_fifths"]
(0.2, 0.2, 'under')
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

MISSING = "(missing)"


def _selection_rates(member: np.ndarray, codes: np.ndarray, names: list[str]) -> pd.Series:
    """Selection rate (share of each group's customers in the segment) by group, via fairlearn's MetricFrame.

    ``codes`` are the customers' group numbers (positions in ``names``).
    """
    from fairlearn.metrics import MetricFrame, selection_rate

    # One weighted row per (group, in the segment or not): the same rates, where MetricFrame on one row per
    # customer stacks every value in Python (17 CPU s for three attributes of 200,000 customers). The cells are
    # counted on the group numbers: a group-by on the names took 0.1 s a segment at 900,000 customers.
    counts = np.bincount(codes.astype(np.int64) * 2 + member.astype(np.int64), minlength=2 * len(names))
    cell = np.flatnonzero(counts)
    group, weight = np.asarray(names, dtype=object)[cell // 2], counts[cell].astype(float)
    if len(cell) < 2:  # one group wholly in or out: MetricFrame refuses a single row ("too many dimensions")
        return pd.Series((cell % 2).astype(float), index=pd.Index(group, name="sensitive_feature_0"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fairlearn warns on constant y_true; the rate does not use it
        mf = MetricFrame(metrics=selection_rate, y_true=np.ones(len(cell), dtype=int),
                         y_pred=cell % 2, sensitive_features=group,
                         sample_params={"sample_weight": weight})
    return mf.by_group


def _membership(labels: pd.Series) -> tuple[pd.Index, list[str], np.ndarray]:
    """Customers, segment names and a (customers x segments) boolean matrix; several rows per customer allowed."""
    labels = labels.dropna()
    # factorize numbers customers in order of appearance (as ``unique``) and segments sorted, in one hash pass
    # each: looking every customer up again in an index of strings took a second at 900,000 customers
    rows, customers = pd.factorize(labels.index.astype(str))
    cols, segments = pd.factorize(labels.astype(str).to_numpy(), sort=True)
    matrix = np.zeros((len(customers), len(segments)), dtype=bool)
    matrix[rows, cols] = True
    return pd.Index(customers), [str(s) for s in segments], matrix


def _round(x: float | None, n: int = 4) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), n)


def fairness_table(labels: pd.Series, attributes: Mapping[str, pd.Series], *, min_cell: int = 10,
                   threshold: float = 0.8, bootstrap: int = 200, reference: Mapping[str, str] | None = None,
                   random_state: int = 0) -> dict[str, Any]:
    """The fairness table of one run: ``labels`` (segment by customer id) against each attribute's groups.

    ``attributes`` maps a name (``gender``, ``gender x age_band``) to the group of each customer
    (a Series indexed by customer id; missing values become the group ``(missing)``).
    """
    customers, segments, matrix = _membership(labels)
    rng = np.random.default_rng(random_state)
    out = {"customers": int(len(customers)), "segments": segments, "threshold": threshold,
           "min_cell": int(min_cell), "bootstrap": int(bootstrap), "attributes": []}
    for name, values in attributes.items():
        groups = values.reindex(customers).astype("object").where(lambda v: v.notna(), MISSING).astype(str)
        out["attributes"].append(_one(name, groups, segments, matrix, min_cell, threshold, bootstrap,
                                      (reference or {}).get(name), rng))
    return out


def _one(name: str, groups: pd.Series, segments: list[str], matrix: np.ndarray, min_cell: int, threshold: float,
         bootstrap: int, reference: str | None, rng: np.random.Generator) -> dict[str, Any]:
    codes, names = pd.factorize(groups, sort=True)
    names = [str(n) for n in names]
    n_total = len(groups)
    base = np.bincount(codes, minlength=len(names)).astype(float)
    shown = [g for g in names if g != MISSING and base[names.index(g)] >= min_cell]
    if reference is None or reference not in shown:
        note = None if reference is None else f"reference group {reference!r} is absent or under the small-cell " \
                                               "threshold; the largest group is the reference"
        reference = max(shown, key=lambda g: base[names.index(g)]) if shown else None
    else:
        note = None
    counts = np.stack([np.bincount(codes[matrix[:, j]], minlength=len(names)) for j in range(len(segments))], 1)
    lo_hi = _bootstrap(codes, matrix, len(names), names, reference, bootstrap, rng) if bootstrap else None
    ref_i = names.index(reference) if reference is not None else None
    base_balance = _balance(base, [names.index(g) for g in shown])
    seg_rows = []
    flagged = 0
    for j, segment in enumerate(segments):
        member = matrix[:, j]
        n_seg = int(member.sum())
        rates = _selection_rates(member, codes, names)
        cells = []
        for i, g in enumerate(names):
            n_gs = int(counts[i, j])
            suppressed = g not in shown or n_gs < min_cell
            cell: dict[str, Any] = {"group": g, "members": None if suppressed else n_gs, "suppressed": suppressed}
            if not suppressed:
                share = n_gs / n_seg if n_seg else None
                base_share = base[i] / n_total
                rate = float(rates.get(g, np.nan))
                ref_rate = float(rates.get(reference, np.nan)) if reference is not None else np.nan
                ratio = rate / ref_rate if ref_rate else np.nan
                verdict = ("ok" if not np.isfinite(ratio) or threshold <= ratio <= 1 / threshold
                           else "under" if ratio < threshold else "over")
                flagged += verdict != "ok"
                cell.update(share=_round(share), base_share=_round(base_share),
                            representation=_round(share / base_share if share is not None else None),
                            selection_rate=_round(rate), disparity_ratio=_round(ratio), four_fifths=verdict)
                if lo_hi is not None:
                    cell["share_ci"] = [_round(lo_hi["share"][0][i, j]), _round(lo_hi["share"][1][i, j])]
                    cell["disparity_ci"] = [_round(lo_hi["ratio"][0][i, j]), _round(lo_hi["ratio"][1][i, j])]
            cells.append(cell)
        seg_rows.append({"segment": segment, "customers": n_seg,
                         "balance": _round(_balance(counts[:, j].astype(float), [names.index(g) for g in shown])),
                         "cells": cells})
    return {"attribute": name, "reference": reference, "note": note, "balance_base": _round(base_balance),
            "groups": [{"group": g, "customers": int(base[i]) if g in shown else None,
                        "base_share": _round(base[i] / n_total) if g in shown else None, "suppressed": g not in shown}
                       for i, g in enumerate(names)],
            "segments": seg_rows, "flagged": int(flagged)}


def _balance(counts: np.ndarray, idx: list[int]) -> float | None:
    """Chierichetti's balance over the shown groups: min count / max count (0 when a group is absent)."""
    if len(idx) < 2:
        return None
    c = counts[idx]
    return float(c.min() / c.max()) if c.max() > 0 else None


def _bootstrap(codes: np.ndarray, matrix: np.ndarray, n_groups: int, names: list[str], reference: str | None,
               reps: int, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """95% percentile intervals of share (group | segment) and the disparity ratio, by multinomial resampling.

    Customers with the same group and the same set of segments are one cell; resampling customers with
    replacement draws the cells' counts from a multinomial with their observed shares.
    """
    patterns, inverse = _patterns(matrix)
    cell = codes.astype(np.int64) * len(patterns) + inverse
    keys, n = np.unique(cell, return_counts=True)
    g_of, p_of = keys // len(patterns), keys % len(patterns)
    draws = rng.multinomial(int(n.sum()), n / n.sum(), size=reps).astype(float)  # reps x cells
    seg_of = patterns[p_of].astype(float)  # cells x segments
    group_onehot = np.zeros((len(keys), n_groups))
    group_onehot[np.arange(len(keys)), g_of] = 1.0
    # members[r, g, s] = sum over cells of draws * group * in-segment
    members = np.einsum("rc,cg,cs->rgs", draws, group_onehot, seg_of)
    group_total = draws @ group_onehot  # r x g
    seg_total = members.sum(axis=1)  # r x s
    with np.errstate(divide="ignore", invalid="ignore"):
        share = members / seg_total[:, None, :]
        rate = members / group_total[:, :, None]
        if reference is not None:
            ratio = rate / rate[:, [names.index(reference)], :]
        else:
            ratio = np.full_like(rate, np.nan)
    q = lambda a, p: np.nanpercentile(np.where(np.isfinite(a), a, np.nan), p, axis=0)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN cell has no interval
        return {"share": (q(share, 2.5), q(share, 97.5)), "ratio": (q(ratio, 2.5), q(ratio, 97.5))}


def _patterns(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a boolean (customers x segments) matrix and each customer's row number among them.

    As ``np.unique(matrix, axis=0, return_inverse=True)``, whose sort of rows as records took 4 s a call at
    900,000 customers: each row is packed into bytes and read as one big-endian unsigned integer (up to 64
    segments) or one fixed-size record, and the keys are sorted instead. Both keep the rows' order (the first
    segment most significant), so the patterns come out in the same order as ``np.unique``'s, and so do
    the bootstrap's draws.
    """
    packed = np.packbits(matrix, axis=1, bitorder="big")
    width = packed.shape[1]
    if width <= 8:
        padded = np.zeros((len(packed), 8), dtype=np.uint8)
        padded[:, :width] = packed
        keys = padded.view(">u8").ravel()
    else:
        keys = np.ascontiguousarray(packed).view(np.dtype((np.void, width))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return matrix[first], inverse.ravel()


def attribute_columns(features: pd.DataFrame, names: list[str], intersections: list[list[str]]) -> dict[str, pd.Series]:
    """The protected attributes to audit, from the run's feature frame, and their intersections (``a x b``).

    Names the frame lacks are left out (the caller says which).
    """
    out: dict[str, pd.Series] = {}
    for n in names:
        if n in features.columns:
            out[n] = features[n]
    for combo in intersections:
        if len(combo) >= 2 and all(c in features.columns for c in combo):
            parts = [features[c].astype("object").where(features[c].notna(), MISSING).astype(str) for c in combo]
            joined = parts[0]
            for p in parts[1:]:
                joined = joined + " | " + p
            out[" x ".join(combo)] = joined
    return out


__all__ = ["MISSING", "attribute_columns", "fairness_table"]
