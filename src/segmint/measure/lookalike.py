"""Lookalikes: who outside a segment resembles its members (positive-unlabelled learning).

The members of a seed segment are the labelled positives; everyone else is unlabelled,
a mix of people who would fit the segment and people who would not. Elkan and Noto (2008)
show that a classifier ``g(x) = P(labelled | x)`` trained to tell the seed from the rest
is proportional to the probability of *being* a positive, ``P(positive | x) = g(x) / c``,
where ``c = P(labelled | positive)`` is estimated as the mean of ``g`` over seed members
the classifier did not train on. So the ranking is the classifier's, and the calibrated
score reads as "the expected share of people at this score who are like the seed".

:func:`fit_score` does the work on a numeric matrix (scikit-learn's histogram gradient
boosting, which takes missing values as they are, trained on bounded random samples of the
seed and of the rest); :func:`lookalike` does it for a frame of people (or of prospects:
people not yet customers, their customer attributes only), :func:`score` for a matrix (what
:func:`run` builds from the feature snapshot in one query), scoring everyone outside the seed
and grouping them in percentile bands with the expected precision of each (the mean
calibrated score there).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(3000, 3)); positive = X[:, 0] > 1.0          # the hidden truth
>>> labelled = positive & (rng.random(3000) < 0.5)                     # half of them are the seed
>>> fit = fit_score(X, labelled, random_state=0)
>>> top = np.argsort(-fit.proba[~labelled])[: int(0.1 * (~labelled).sum())]
>>> bool(positive[~labelled][top].mean() > 0.6)                        # random would give ~0.09
True
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segmint.errors import DataError

__all__ = ["MIN_SEED", "LookalikeFit", "bands", "binned", "customer_matrix", "drivers", "fit_score",
           "lookalike", "matrix", "score"]

#: Fewer seed members than this and the classifier would learn noise: refused.
MIN_SEED = 100
#: Unlabelled rows the classifier trains on at most (a random sample, split in folds; everyone is scored).
MAX_TRAIN_UNLABELLED = 100_000
#: Seed members the classifier trains on at most (a random sample; all of them are scored).
MAX_TRAIN_SEED = 50_000
#: Boosting rounds of each model (no early stopping: the cost is the same for every seed).
ITERATIONS = 50
#: Their learning rate.
LEARNING_RATE = 0.2
_SKIP = {"customer_id", "as_of"}


@dataclass
class LookalikeFit:
    """A fitted PU model's output: ``g`` (P(labelled | x)) and ``proba`` (g / c, capped at 1) for every row."""

    g: np.ndarray
    proba: np.ndarray
    c: float
    trained_on: dict[str, int] = field(default_factory=dict)


def matrix(frame: pd.DataFrame, categorical: bool = False, max_levels: int = 30) -> tuple[np.ndarray, list[str]]:
    """Numeric and boolean columns of ``frame`` as a float matrix (NaN kept); with ``categorical``, text
    columns of at most ``max_levels`` values one-hot encoded."""
    cols, names = [], []
    for name in frame.columns:
        if name in _SKIP:
            continue
        s = frame[name]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols.append(pd.to_numeric(s, errors="coerce").astype("float64").to_numpy())
            names.append(name)
        elif categorical and (pd.api.types.is_string_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype)):
            levels = s.dropna().astype(str).value_counts()
            if 1 < len(levels) <= max_levels:
                text = s.astype("string")
                for lev in levels.index:
                    cols.append((text == lev).fillna(False).to_numpy(dtype="float64"))
                    names.append(f"{name}={lev}")
    if not cols:
        raise DataError("no numeric feature to learn a lookalike from; compute features with `segmint features`")
    return np.column_stack(cols), names


def binned(X: np.ndarray, rows: np.ndarray, n_bins: int = 255) -> np.ndarray:
    """``X`` with each column of more than ``n_bins`` distinct values (among ``rows``) replaced by its bin
    number at the quantiles of ``rows``; NaN kept. Column-major (the layout prediction reads fastest).

    Gradient boosting bins every feature in 255 quantiles anyway; doing it once here, unweighted, spares
    scikit-learn's weighted quantiles (one sort per quantile and column when the seed is weighted up: most
    of the fitting time at 100,000 rows) and gives every fold the same bins.

    Examples
    --------
    >>> X = np.column_stack([np.arange(1000.0), np.arange(1000.0) % 3])
    >>> X[0, 0] = np.nan
    >>> Q = binned(X, np.arange(1000))
    >>> int(np.nanmax(Q[:, 0])), bool(np.isnan(Q[0, 0])), np.unique(Q[:, 1]).tolist()  # 255 bins; 3 values kept
    (254, True, [0.0, 1.0, 2.0])
    """
    Q = np.empty(X.shape, dtype=np.float64, order="F")
    quantiles = np.linspace(0, 1, n_bins + 1)[1:-1]
    for j in range(X.shape[1]):
        col = X[:, j]
        sample = col[rows]
        sample = sample[~np.isnan(sample)]
        if len(np.unique(sample)) <= n_bins:
            Q[:, j] = col
            continue
        edges = np.unique(np.quantile(sample, quantiles, method="averaged_inverted_cdf"))
        b = np.searchsorted(edges, col, side="left").astype(np.float64)
        b[np.isnan(col)] = np.nan
        Q[:, j] = b
    return Q


def fit_score(X: np.ndarray, labelled: np.ndarray, random_state: int = 0, holdout: float = 0.2,
              folds: int = 3) -> LookalikeFit:
    """Elkan-Noto: ``g`` from seed against the rest, ``c`` from seed members held out of every fit.

    Trained on bounded random samples (at most :data:`MAX_TRAIN_SEED` seed members and
    :data:`MAX_TRAIN_UNLABELLED` others), cross-fitted: the unlabelled sample is split in ``folds``
    and each part is scored by the model that did not train on it. A model scoring the rows it learnt
    as "not seed" would push the hidden positives among them down (it memorises them), which spoils
    both the ranking and the calibration. Everyone else (the held-out seed included) gets the mean of
    the models, none of which learnt them. ``c`` is the mean ``g`` of the held-out seed members.

    A feature with no value among a model's training rows is left out of that model.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(random_state)
    pos = np.flatnonzero(labelled)
    unl = np.flatnonzero(~labelled)
    if len(pos) < MIN_SEED:
        raise DataError(f"the seed has {len(pos)} members; a lookalike needs at least {MIN_SEED} (fewer and the "
                        "model learns noise). Pick a larger segment, or a segmentation with broader segments")
    if len(unl) == 0:
        raise DataError("everyone is in the seed: there is nobody left to score")
    pos = rng.permutation(pos)
    n_cal = max(1, int(round(len(pos) * holdout)))
    cal, train_pos = pos[:n_cal], pos[n_cal:MAX_TRAIN_SEED + n_cal]  # (pos is shuffled: a random sample)
    train_unl = unl if len(unl) <= MAX_TRAIN_UNLABELLED else rng.choice(unl, MAX_TRAIN_UNLABELLED, replace=False)
    fold = rng.permutation(np.arange(len(train_unl)) % folds)  # folds of equal size
    Q = binned(X, np.concatenate([train_pos, train_unl]))
    g = np.zeros(len(X))
    oof = np.zeros(len(train_unl))  # the unlabelled sample, each scored by the model that did not learn it
    # The weights make a model's odds the density ratio of seed and rest; the population's odds are that
    # times (seed / rest): dividing by this gives P(labelled | x) back.
    scale = len(unl) / len(pos)
    # One thread: with the samples bounded each fit is small, and OpenMP's waiting threads cost more than
    # they save on a shared machine (70,000 rows, 100 rounds, load 7.6 on 2 cores: 0.9 s CPU on one thread,
    # 3.2 s on two).
    with threadpool_limits(1):
        for k in range(folds):
            tu = train_unl[fold != k]
            idx = np.concatenate([train_pos, tu])
            Xk = Q[idx]
            cols = ~np.isnan(Xk).all(axis=0)  # a feature missing for all of them breaks scikit-learn's binning
            ratio = len(tu) / len(train_pos)
            y = np.concatenate([np.ones(len(train_pos)), np.zeros(len(tu))])
            model = HistGradientBoostingClassifier(max_iter=ITERATIONS, learning_rate=LEARNING_RATE,
                                                   max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0,
                                                   early_stopping=False, random_state=random_state + k)
            # weighted so that seed and rest count equally (a small seed in a million is otherwise ignored)
            model.fit(Xk if cols.all() else Xk[:, cols], y, sample_weight=np.where(y == 1, ratio, 1.0))

            def prob(rows, model=model, cols=cols):
                Xr = Q if rows is None else Q[rows]
                p = model.predict_proba(Xr if cols.all() else Xr[:, cols])[:, 1]
                odds = p / np.clip(1 - p, 1e-12, None) / scale
                return odds / (1 + odds)

            g += prob(None) / folds  # everyone; the unlabelled sample's rows are set below
            oof[fold == k] = prob(train_unl[fold == k])
    g[train_unl] = oof
    c = float(np.mean(g[cal]))
    proba = np.clip(g / c, 0.0, 1.0) if c > 0 else g
    return LookalikeFit(g=g, proba=proba, c=c, trained_on={"seed": len(train_pos), "seed_held_out": len(cal),
                                                           "unlabelled": len(train_unl), "folds": folds})


def bands(score: np.ndarray, n_bands: int = 10) -> list[dict[str, Any]]:
    """Percentile bands 1..n of the candidates by score (band 1: the top 1%), each with its expected precision."""
    order = np.argsort(-score, kind="stable")
    n = len(score)
    out, cum_hits, cum_n = [], 0.0, 0
    for b in range(1, n_bands + 1):
        lo, hi = int(np.floor(n * (b - 1) / 100)), int(np.floor(n * b / 100))
        part = score[order[lo:hi]]
        cum_hits += float(part.sum())
        cum_n += len(part)
        out.append({"band": f"{b - 1}-{b}%", "people": int(len(part)),
                    "min_score": float(part.min()) if len(part) else None,
                    "expected_precision": float(part.mean()) if len(part) else None,
                    "cumulative_people": cum_n,
                    "cumulative_expected_precision": cum_hits / cum_n if cum_n else None})
    return out


def drivers(X: np.ndarray, names: list[str], score: np.ndarray, top: float = 0.1, k: int = 10) -> list[dict]:
    """The features that set the top ``top`` of the ranking apart: standardised mean differences, largest first."""
    cut = np.quantile(score, 1 - top) if len(score) else 0
    hi = score >= cut
    out = []
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column with no value: skipped below
        for j, name in enumerate(names):
            col = X[:, j]
            sd = np.nanstd(col)
            if not np.isfinite(sd) or sd == 0 or hi.sum() == 0:
                continue
            a, b = np.nanmean(col[hi]), np.nanmean(col)
            if np.isfinite(a) and np.isfinite(b):
                out.append({"feature": name, "top_mean": float(a), "mean": float(b),
                            "standardised_difference": float((a - b) / sd)})
    out.sort(key=lambda d: -abs(d["standardised_difference"]))
    return out[:k]


def lookalike(people: pd.DataFrame, seed_ids: set | pd.Index, candidates: pd.DataFrame | None = None,
              top: float = 0.05, categorical: bool = False, random_state: int = 0) -> dict[str, Any]:
    """Score ``candidates`` (default: ``people`` outside the seed) by resemblance to the seed.

    Parameters
    ----------
    people : DataFrame
        One row per known customer (``customer_id`` and features), the seed among them.
    seed_ids : set of ids
        The seed segment's members.
    candidates : DataFrame, optional
        People to score with the same feature columns (prospects); default: ``people`` not in the seed.
    top : float
        Share of the candidates to return in ``table``.

    Returns
    -------
    dict
        ``seed``, ``candidates``, ``c`` (Elkan-Noto's P(labelled | positive)), ``bands``, ``drivers``,
        ``features``, ``seconds`` and ``table`` (a DataFrame: ``customer_id``, ``score``, ``percentile``).
    """
    t0 = time.perf_counter()
    ids = people["customer_id"].astype(str)
    labelled = ids.isin(set(map(str, seed_ids))).to_numpy()
    X, names = matrix(people, categorical)
    if candidates is None:
        return score(X, names, ids.to_numpy(), labelled, top, random_state, t0)
    Xc_frame = candidates.reindex(columns=people.columns)
    for name in people.columns:  # the same dtypes, so one-hot levels line up
        if name in Xc_frame and pd.api.types.is_numeric_dtype(people[name]):
            Xc_frame[name] = pd.to_numeric(Xc_frame[name], errors="coerce")
    both, names = matrix(pd.concat([people, Xc_frame], ignore_index=True), categorical)
    X, Xc = both[: len(people)], both[len(people):]
    fit = fit_score(np.vstack([X, Xc]), np.concatenate([labelled, np.zeros(len(Xc), bool)]), random_state)
    return _ranked(candidates["customer_id"].astype(str).to_numpy(), fit, slice(len(people), None), Xc, names,
                   int(labelled.sum()), top, t0)


def score(X: np.ndarray, names: list[str], ids: np.ndarray, labelled: np.ndarray, top: float = 0.05,
          random_state: int = 0, t0: float | None = None) -> dict[str, Any]:
    """:func:`lookalike` on a matrix: ``X`` (a row per person, ``names`` its columns), their ``ids``, and
    ``labelled`` (the seed); everyone outside the seed is scored. The result is :func:`lookalike`'s.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 2)); labelled = (X[:, 0] > 1) & (rng.random(2000) < 0.5)
    >>> out = score(X, ["a", "b"], np.arange(2000).astype(str), labelled, top=0.1)
    >>> out["candidates"] + out["seed"], len(out["table"]), out["drivers"][0]["feature"]
    (2000, 186, 'a')
    """
    t0 = time.perf_counter() if t0 is None else t0
    fit = fit_score(X, labelled, random_state)
    rest = ~labelled
    return _ranked(ids[rest], fit, rest, X[rest], names, int(labelled.sum()), top, t0)


def _ranked(cand_ids: np.ndarray, fit: LookalikeFit, rows, Xc: np.ndarray, names: list[str], seed: int,
            top: float, t0: float) -> dict[str, Any]:
    cand_score = fit.proba[rows]
    # ranked by g: the calibrated score is capped at 1, and the ties it makes at the top are not ties for g
    order = np.argsort(-fit.g[rows], kind="stable")
    n_top = int(np.ceil(len(order) * top))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    percentile = (rank * 100 // max(len(order), 1)) + 1
    table = pd.DataFrame({"customer_id": cand_ids[order[:n_top]], "score": cand_score[order[:n_top]],
                          "percentile": percentile[order[:n_top]]})
    return {"seed": seed, "candidates": int(len(cand_ids)), "c": fit.c, "trained_on": fit.trained_on,
            "top": top, "bands": bands(cand_score), "drivers": drivers(Xc, names, cand_score),
            "features": len(names), "seconds": round(time.perf_counter() - t0, 3), "table": table}


def customer_matrix(features, seed, leave_out=()) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """The numeric and boolean columns of a feature snapshot as a float matrix, in one query.

    ``features``: the snapshot (an Ibis table with ``customer_id``); ``seed``: an Ibis table of the seed's
    ``customer_id``. The engine joins them, casts every feature to float (missing values come back NaN)
    and orders the rows by customer (the result does not depend on how the store laid them out); no
    pandas frame is made. Returns ``(X, names, ids, labelled)``; ``X`` is column-major.
    """
    import ibis

    schema = features.schema()
    names = [c for c, t in schema.items() if c not in _SKIP and c not in leave_out
             and (t.is_numeric() or t.is_boolean())]
    if not names:
        raise DataError("no numeric feature to learn a lookalike from; compute features with `segmint features`")
    marks = seed.select("customer_id").distinct().mutate(_seed=ibis.literal(True))
    j = features.left_join(marks, "customer_id")
    expr = j.select("customer_id", _seed=j._seed.notnull(),
                    **{f"f{i}": j[c].cast("float64") for i, c in enumerate(names)}).order_by("customer_id")
    t = expr.to_pyarrow()
    X = np.empty((t.num_rows, len(names)), dtype=np.float64, order="F")
    for i in range(len(names)):
        X[:, i] = t.column(f"f{i}").to_numpy()
    ids = t.column("customer_id").to_numpy()
    return X, names, ids, t.column("_seed").to_numpy()


def _attributes(store, table: str) -> pd.DataFrame:
    """The attribute columns of ``customers`` or ``prospects`` (no PII, no lineage) as a frame."""
    from segmint.contracts import CONTRACTS

    t = store.table(table)
    pii = {c.name for c in CONTRACTS[table].columns if c.tag in ("pii",)}
    keep = [c for c in t.columns if c not in pii and not c.startswith("_") and c not in ("signup_at", "city")]
    return t.select(*keep).to_pyarrow().to_pandas()


def _sensitive(people: pd.DataFrame | list[str], what: str, purpose: str | None,
               policy) -> tuple[list[str], dict[str, Any]]:
    """The columns (of a frame, or named) the model may not learn from, and what the output says about them.

    :func:`segmint.privacy.sensitive.check_features` decides: without an allowed ``purpose`` on the
    seed's segmentation the protected columns are refused (left out of the model, named with the
    setting in ``sensitive.note``); with one they are used and listed in ``sensitive.allowed``.
    """
    from segmint.privacy.sensitive import SensitiveAttributeError, check_features, is_sensitive

    if policy is None:
        return [], {"excluded": [], "allowed": [], "note": None}
    features = [c for c in getattr(people, "columns", people) if c not in _SKIP]
    try:
        allowed = check_features(what, features, purpose, policy)
    except SensitiveAttributeError as exc:
        refused = sorted(c for c in features if is_sensitive(c, policy))
        return refused, {"excluded": refused, "allowed": [], "note": f"{exc} They were left out of the model."}
    return [], {"excluded": [], "allowed": allowed, "note": None}


def run(ctx, target: str, source: str = "customers", top: float = 0.05, random_state: int = 0,
        sensitive=None) -> dict[str, Any]:
    """The lookalike of ``target`` (``SEGMENTATION:SEGMENT``, its latest run) among customers or prospects.

    ``sensitive`` (``privacy.sensitive``): protected columns are left out unless the seed's
    segmentation declares an allowed ``purpose:`` (the result's ``sensitive`` says which, and why).
    """
    from segmint.errors import ConfigError, did_you_mean
    from segmint.features.snapshot import load_features
    from segmint.segment import membership as ms
    from segmint.segment import runs

    name, sep, segment = target.partition(":")
    if not sep or not name or not segment:
        raise ConfigError(f"{target!r}: name the seed as SEGMENTATION:SEGMENT, e.g. rfm:Champions")
    if source not in ("customers", "prospects"):
        raise ConfigError(f"--from {source!r}: use customers or prospects")
    if not 0 < top <= 1:
        raise ConfigError(f"--top {top}: a share between 0 and 100%")
    version, as_of = runs.run_of(ctx, name)
    m = ms.memberships(ctx.store, name, version, as_of)
    members = m.filter(m.segment == segment).select("customer_id")
    n_seed = int(members.count().to_pyarrow().as_py())
    if not n_seed:
        known = sorted(m.select("segment").distinct().to_pyarrow()["segment"].to_pylist())
        raise DataError(f"{name}:{segment} has no members in its latest run ({as_of.date()}); a lookalike needs "
                        f"at least {MIN_SEED} seed members. Segments with members: {did_you_mean(segment, known)}")
    if n_seed < MIN_SEED:
        raise DataError(f"{name}:{segment} has {n_seed} members at {as_of.date()}; a lookalike needs at least "
                        f"{MIN_SEED} seed members (fewer and the model learns noise). Pick a larger segment")
    purpose = getattr(ctx.definitions().get(name), "purpose", None)
    if source == "customers":
        t0 = time.perf_counter()
        features = load_features(ctx.store, as_of).drop("as_of")
        refused, guard = _sensitive(list(features.columns), f"the lookalike of {target}", purpose, sensitive)
        X, names, ids, labelled = customer_matrix(features, members, refused)
        out = score(X, names, ids, labelled, top, random_state, t0)
    else:
        prospects = _attributes(ctx.store, "prospects")
        if prospects.empty:
            raise DataError("the prospects table is empty; ingest it first: `segmint ingest prospects FILE` "
                            "(the customers' columns: customer_id, age, region, is_business...)")
        people = _attributes(ctx.store, "customers")
        common = [c for c in people.columns if c in prospects.columns]
        refused, guard = _sensitive(people[common], f"the lookalike of {target}", purpose, sensitive)
        common = [c for c in common if c not in refused]
        seed = set(members.to_pyarrow()["customer_id"].to_pylist())
        out = lookalike(people[common], seed, prospects[common], top=top, categorical=True,
                        random_state=random_state)
    out.update({"seed_segment": target, "as_of": as_of.date().isoformat(), "from": source, "sensitive": guard})
    return out
