"""Are the segments stable? Bootstrap refits and agreement between two dates.

:func:`bootstrap_agreement` resamples customers with replacement, fits a surrogate
(a nearest-centroid model or a decision tree) that learns the segments from the
features of the resample, and asks it to assign the customers the resample left out
(out of bag). Segments that reflect structure in the data come back the same: the
adjusted Rand index (ARI) with the labels is high and every segment's Jaccard (members
assigned back / members in either) is high. Segments drawn at random come back as
noise, because a surrogate fitted on one resample learns nothing that holds on others.

Any segmentation can be checked this way (rules, RFM, clusters), because only its
labels are needed, not the method that produced them.

:func:`temporal_agreement` compares the labels of the same customers at two ``as_of``
dates: ARI, and per segment the share that stayed (retention) and the Jaccard of the
two member sets.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = np.r_[rng.normal(0, 1, (150, 2)), rng.normal(10, 1, (150, 2))]
>>> summary, per_segment = bootstrap_agreement(X, np.repeat(["a", "b"], 150), n_bootstrap=5)
>>> round(summary["bootstrap_ari"], 2), per_segment.round(2).to_dict()
(1.0, {'a': 1.0, 'b': 1.0})
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import NearestCentroid
from sklearn.tree import DecisionTreeClassifier

from segmint.errors import DataError, examples
from segmint.evaluate.inputs import has_duplicates


def _surrogate(kind: str, seed: int):
    if kind == "centroid":
        return NearestCentroid()
    if kind == "tree":
        return DecisionTreeClassifier(max_depth=6, min_samples_leaf=5, random_state=seed)
    raise ValueError(f"surrogate must be 'tree' or 'centroid', not {kind!r}")


def bootstrap_agreement(X: np.ndarray, labels, n_bootstrap: int = 20, surrogate: str = "tree",
                        random_state: int = 0) -> tuple[dict[str, float], pd.Series]:
    """Out-of-bag agreement of surrogates refitted on bootstrap resamples.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Standardised features of (a sample of) the customers.
    labels : array-like of shape (n,)
        Their segments.
    n_bootstrap : int
        Resamples; 10-20 are enough for a verdict, more narrow the spread.
    surrogate : {"tree", "centroid"}
        The model refitted on each resample. A tree follows rule-shaped segments (RFM,
        rules); nearest centroids follow clusters.
    random_state : int
        Seed of the resamples.

    Returns
    -------
    summary : dict
        ``bootstrap_ari`` (mean), ``bootstrap_ari_sd``, ``min_jaccard``, ``n_bootstrap``.
    jaccard : Series
        Mean Jaccard per segment.
    """
    labels = np.asarray(labels).astype(str)
    classes = list(pd.unique(labels))
    n = len(labels)
    rng = np.random.default_rng(random_state)
    aris, jac = [], {c: [] for c in classes}
    for b in range(n_bootstrap):
        rows = rng.integers(0, n, size=n)
        oob = np.setdiff1d(np.arange(n), rows)
        if len(np.unique(labels[rows])) < 2 or len(oob) < 2:
            continue
        model = _surrogate(surrogate, int(rng.integers(0, 2**31 - 1))).fit(X[rows], labels[rows])
        pred = model.predict(X[oob])
        truth = labels[oob]
        aris.append(adjusted_rand_score(truth, pred))
        for c in classes:
            a, p = truth == c, pred == c
            union = np.sum(a | p)
            if np.sum(a) > 0:
                jac[c].append(np.sum(a & p) / union)
    per_segment = pd.Series({c: float(np.mean(v)) if v else np.nan for c, v in jac.items()}, name="jaccard")
    summary = {
        "bootstrap_ari": float(np.mean(aris)) if aris else np.nan,
        "bootstrap_ari_sd": float(np.std(aris)) if aris else np.nan,
        "min_jaccard": float(per_segment.min()) if per_segment.notna().any() else np.nan,
        "n_bootstrap": len(aris),
        "surrogate": surrogate,
    }
    return summary, per_segment


def temporal_agreement(labels: pd.Series, labels_later: pd.Series) -> tuple[dict[str, float], pd.DataFrame]:
    """Agreement of the same segmentation at two dates.

    Returns
    -------
    summary : dict
        ``temporal_ari`` over customers labelled at both dates, ``customers_both``,
        ``customers_only_earlier``, ``customers_only_later``.
    per_segment : DataFrame
        ``segment, earlier, later, stayed, retention, jaccard`` (customers missing at the
        later date count as having left).

    Raises
    ------
    DataError
        A customer id appears more than once in either labelling.

    Examples
    --------
    >>> a = pd.Series(["x", "x", "y", "y"], index=[1, 2, 3, 4])
    >>> b = pd.Series(["x", "y", "y", "y"], index=[1, 2, 3, 4])
    >>> s, seg = temporal_agreement(a, b)
    >>> seg[["segment", "retention", "jaccard"]].to_dict("records")
    [{'segment': 'x', 'retention': 0.5, 'jaccard': 0.5}, {'segment': 'y', 'retention': 1.0, 'jaccard': 0.6666666666666666}]
    """
    for what, given in (("labels", labels), ("labels_later", labels_later)):
        if has_duplicates(given.index):  # the counts below need one label per customer
            dup = given.index[given.index.duplicated()].unique()
            raise DataError(f"{what}: {len(dup)} customer ids appear more than once ({examples(dup)}); "
                            "give one label per customer")
    a = labels.dropna().astype(str)
    b = labels_later.dropna().astype(str)
    both = a.index.intersection(b.index)
    a_both, b_both = a.loc[both].to_numpy(), b.loc[both].to_numpy()
    summary = {
        # on integer codes: scikit-learn sorts text labels first (2 s for 800,000 customers), and the index
        # does not depend on what the segments are called
        "temporal_ari": (float(adjusted_rand_score(pd.factorize(a_both)[0], pd.factorize(b_both)[0]))
                         if len(both) > 1 else np.nan),
        "customers_both": len(both),
        "customers_only_earlier": len(a) - len(both),
        "customers_only_later": len(b) - len(both),
    }
    # Counts, not sets of ids: a set per segment of a million customers took seconds. A customer stayed in
    # s when labelled s at both dates; the union of before and after is before + after - stayed.
    earlier, later = a.value_counts(), b.value_counts()
    stayed_in = pd.Series(a_both[a_both == b_both]).value_counts()
    rows = []
    for s in pd.unique(a):
        before, after, stayed = int(earlier[s]), int(later.get(s, 0)), int(stayed_in.get(s, 0))
        rows.append([s, before, after, stayed, stayed / before, stayed / (before + after - stayed)])
    return summary, pd.DataFrame(rows, columns=["segment", "earlier", "later", "stayed", "retention", "jaccard"])
