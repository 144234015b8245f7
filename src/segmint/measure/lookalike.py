"""Lookalikes: who outside a segment resembles its members (positive-unlabelled learning).

The members of a seed segment are the labelled positives; everyone else is unlabelled,
a mix of people who would fit the segment and people who would not. Elkan and Noto (2008)
show that a classifier ``g(x) = P(labelled | x)`` trained to tell the seed from the rest
is proportional to the probability of *being* a positive, ``P(positive | x) = g(x) / c``,
where ``c = P(labelled | positive)`` is estimated as the mean of ``g`` over seed members
the classifier did not train on. So the ranking is the classifier's, and the calibrated
score reads as "the expected share of people at this score who are like the seed".

:func:`fit_score` does the work on a numeric matrix (scikit-learn's histogram gradient
boosting, which takes missing values as they are, trained on every seed member and a
bounded sample of the rest); :func:`lookalike` reads the feature snapshot (customers) or the
``prospects`` table (people not yet customers: their customer attributes only), scores
everyone outside the seed and groups them in percentile bands with the expected precision
of each (the mean calibrated score there).

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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segmint.errors import DataError

__all__ = ["MIN_SEED", "LookalikeFit", "bands", "drivers", "fit_score", "lookalike", "matrix"]

#: Fewer seed members than this and the classifier would learn noise: refused.
MIN_SEED = 100
#: Unlabelled rows the classifier trains on at most (a sample; everyone is scored).
MAX_TRAIN_UNLABELLED = 200_000
#: Seed members the classifier trains on at most (a random sample; all of them are scored).
MAX_TRAIN_SEED = 100_000
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


def fit_score(X: np.ndarray, labelled: np.ndarray, random_state: int = 0, holdout: float = 0.2,
              folds: int = 3) -> LookalikeFit:
    """Elkan-Noto: ``g`` from seed against the rest, ``c`` from seed members held out of every fit.

    Cross-fitted: the unlabelled rows are split in ``folds``; each is scored by a model that did not
    train on it. A model scoring the rows it learnt as "not seed" would push the hidden positives among
    them down (it memorises them), which spoils both the ranking and the calibration. Rows outside the
    training sample, and the held-out seed, get the mean of the models.
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
    fold = rng.integers(0, folds, len(train_unl))
    g = np.zeros(len(X))
    in_train = np.zeros(len(X), bool)
    in_train[train_unl] = True
    rest = np.flatnonzero(~in_train)  # the seed (training and held out) and unsampled rows
    # Small problems run on one thread: OpenMP on a busy machine costs more than it saves.
    with threadpool_limits(1 if len(X) < 100_000 else None):
        for k in range(folds):
            tu = train_unl[fold != k]
            idx = np.concatenate([train_pos, tu])
            y = np.concatenate([np.ones(len(train_pos)), np.zeros(len(tu))])
            ratio = len(tu) / max(len(train_pos), 1)
            # weighted so that seed and rest count equally (a small seed in a million is otherwise ignored)
            model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=15,
                                                   min_samples_leaf=40, l2_regularization=1.0,
                                                   random_state=random_state + k)
            model.fit(X[idx], y, sample_weight=np.where(y == 1, ratio, 1.0))
            # undo the weights' and the sampling's scaling of the odds: P(labelled | x) back
            scale = ratio * len(unl) / len(train_unl)

            def prob(rows):
                p = model.predict_proba(X[rows])[:, 1]
                odds = p / np.clip(1 - p, 1e-12, None) / scale
                return odds / (1 + odds)

            out = train_unl[fold == k]
            g[out] = prob(out)
            g[rest] += prob(rest) / folds
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
    with np.errstate(invalid="ignore", divide="ignore"):
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
        fit = fit_score(X, labelled, random_state)
        cand_ids, cand_score, Xc = ids[~labelled].to_numpy(), fit.proba[~labelled], X[~labelled]
    else:
        Xc_frame = candidates.reindex(columns=people.columns)
        for name in people.columns:  # the same dtypes, so one-hot levels line up
            if name in Xc_frame and pd.api.types.is_numeric_dtype(people[name]):
                Xc_frame[name] = pd.to_numeric(Xc_frame[name], errors="coerce")
        both, names = matrix(pd.concat([people, Xc_frame], ignore_index=True), categorical)
        X, Xc = both[: len(people)], both[len(people):]
        fit = fit_score(np.vstack([X, Xc]), np.concatenate([labelled, np.zeros(len(Xc), bool)]), random_state)
        cand_ids, cand_score = candidates["customer_id"].astype(str).to_numpy(), fit.proba[len(people):]
    order = np.argsort(-cand_score, kind="stable")
    n_top = int(np.ceil(len(order) * top))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    percentile = (rank * 100 // max(len(order), 1)) + 1
    table = pd.DataFrame({"customer_id": cand_ids[order[:n_top]], "score": cand_score[order[:n_top]],
                          "percentile": percentile[order[:n_top]]})
    return {"seed": int(labelled.sum()), "candidates": int(len(cand_ids)), "c": fit.c, "trained_on": fit.trained_on,
            "top": top, "bands": bands(cand_score), "drivers": drivers(Xc, names, cand_score),
            "features": len(names), "seconds": round(time.perf_counter() - t0, 3), "table": table}


def _attributes(store, table: str) -> pd.DataFrame:
    """The attribute columns of ``customers`` or ``prospects`` (no PII, no lineage) as a frame."""
    from segmint.contracts import CONTRACTS

    t = store.table(table)
    pii = {c.name for c in CONTRACTS[table].columns if c.tag in ("pii",)}
    keep = [c for c in t.columns if c not in pii and not c.startswith("_") and c not in ("signup_at", "city")]
    return t.select(*keep).to_pyarrow().to_pandas()


def _sensitive(people: pd.DataFrame, what: str, purpose: str | None, policy) -> tuple[list[str], dict[str, Any]]:
    """The columns the model may not learn from, and what the output says about them.

    :func:`segmint.privacy.sensitive.check_features` decides: without an allowed ``purpose`` on the
    seed's segmentation the protected columns are refused (left out of the model, named with the
    setting in ``sensitive.note``); with one they are used and listed in ``sensitive.allowed``.
    """
    from segmint.privacy.sensitive import SensitiveAttributeError, check_features, is_sensitive

    if policy is None:
        return [], {"excluded": [], "allowed": [], "note": None}
    features = [c for c in people.columns if c not in _SKIP]
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
    seed = m.filter(m.segment == segment).select("customer_id").to_pyarrow()["customer_id"].to_pylist()
    if not seed:
        known = sorted(m.select("segment").distinct().to_pyarrow()["segment"].to_pylist())
        raise DataError(f"{name}:{segment} has no members in its latest run ({as_of.date()}); a lookalike needs "
                        f"at least {MIN_SEED} seed members. Segments with members: {did_you_mean(segment, known)}")
    if len(seed) < MIN_SEED:
        raise DataError(f"{name}:{segment} has {len(seed)} members at {as_of.date()}; a lookalike needs at least "
                        f"{MIN_SEED} seed members (fewer and the model learns noise). Pick a larger segment")
    purpose = getattr(ctx.definitions().get(name), "purpose", None)
    if source == "customers":
        people = load_features(ctx.store, as_of).drop("as_of").to_pyarrow().to_pandas()
        refused, guard = _sensitive(people, f"the lookalike of {target}", purpose, sensitive)
        out = lookalike(people.drop(columns=refused), set(seed), top=top, random_state=random_state)
    else:
        prospects = _attributes(ctx.store, "prospects")
        if prospects.empty:
            raise DataError("the prospects table is empty; ingest it first: `segmint ingest prospects FILE` "
                            "(the customers' columns: customer_id, age, region, is_business...)")
        people = _attributes(ctx.store, "customers")
        common = [c for c in people.columns if c in prospects.columns]
        refused, guard = _sensitive(people[common], f"the lookalike of {target}", purpose, sensitive)
        common = [c for c in common if c not in refused]
        out = lookalike(people[common], set(seed), prospects[common], top=top, categorical=True,
                        random_state=random_state)
    out.update({"seed_segment": target, "as_of": as_of.date().isoformat(), "from": source, "sensitive": guard})
    return out
