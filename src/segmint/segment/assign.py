"""Segment assignment, in NumPy and as an Ibis expression that runs in the engine.

A fitted cluster model assigns a row to the segment with the lowest *score*:

* k-means: squared Euclidean distance to the centroid (less ``|x|**2``, common to all);
* GMM: ``0.5 * |(x - mean) @ P|**2 - (sum(log diag P) + log weight)``, the negative
  weighted log-likelihood without its constant (``P``: Cholesky factor of the precision);
* HDBSCAN: the cluster of the nearest exemplar, and ``"noise"`` when that exemplar's
  squared distance is beyond ``noise_radius ** 2``.

:func:`segment_scores` computes these in NumPy; :func:`assign_expression` builds the
same arithmetic, in the same order, as an Ibis expression (preprocessing included), so
``model.predict(df)`` and the engine agree row for row. No SQL text is written: the
expression compiles to DuckDB today and to Spark later. Ties go to the lowest segment
candidate on both sides (``argmin`` / ``LEAST`` over (score, index) structs).

Examples
--------
>>> import numpy as np
>>> scores = segment_scores("kmeans", {"centroids": np.array([[0.0], [10.0]])}, np.array([[1.0], [9.0]]))
>>> (scores + squared_norms(np.array([[1.0], [9.0]]))[:, None]).tolist()
[[1.0, 81.0], [81.0, 1.0]]
>>> assign_ids("kmeans", {"centroids": np.array([[0.0], [10.0]])}, np.array([[1.0], [9.0]])).tolist()
[0, 1]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from segmint.errors import ConfigError
from segmint.segment.preprocess import FALSE_STRINGS, TRUE_STRINGS

if TYPE_CHECKING:  # ibis is imported lazily: fitting in memory does not need it
    import ibis.expr.types as ir


def _gmm_constants(params: Mapping[str, Any]) -> list[float]:
    prec = np.asarray(params["precisions_cholesky"], dtype="float64")
    weights = np.asarray(params["weights"], dtype="float64")
    return [
        math.fsum(math.log(float(p)) for p in np.diag(prec[c])) + math.log(float(weights[c]))
        for c in range(len(weights))
    ]


def _expansion(centres: Any) -> tuple[list[float], np.ndarray]:
    """``|c|**2`` and ``-2 c`` per centre: ``|z - c|**2 = |z|**2 + |c|**2 - 2 z.c``.

    ``|z|**2`` is the same for every centre, so the argmin needs only the rest; each
    feature then appears once per centre (not twice), keeping the engine expression small.
    """
    centres = np.asarray(centres, dtype="float64")
    return [math.fsum(float(v) * float(v) for v in c) for c in centres], -2.0 * centres


def segment_scores(algorithm: str, params: Mapping[str, Any], Z: np.ndarray) -> np.ndarray:
    """Score of every row of preprocessed ``Z`` for every candidate (lower is better).

    Candidates are centroids (kmeans), components (gmm) or exemplars (hdbscan). For
    kmeans and hdbscan the score is the squared distance less ``|z|**2`` (see
    :func:`squared_norms`). Sums run feature by feature, left to right, exactly as
    :func:`assign_expression` does, so both sides compute the same floats.
    """
    # Feature-major copy: contiguous columns make the per-feature passes 2-3x faster.
    Zt = np.ascontiguousarray(np.asarray(Z, dtype="float64").T)
    if algorithm in ("kmeans", "hdbscan"):
        norms, slopes = _expansion(params["centroids" if algorithm == "kmeans" else "exemplars"])
        out = np.empty((len(norms), Zt.shape[1]))
        tmp = np.empty(Zt.shape[1])
        for c, (norm, slope) in enumerate(zip(norms, slopes)):
            acc = out[c]
            acc[:] = norm
            for j, value in enumerate(slope):
                np.multiply(Zt[j], value, out=tmp)  # in place: same IEEE result, no allocation
                np.add(acc, tmp, out=acc)
        return out.T
    if algorithm == "gmm":
        means = np.asarray(params["means"], dtype="float64")
        prec = np.asarray(params["precisions_cholesky"], dtype="float64")
        consts = _gmm_constants(params)
        out = np.empty((Zt.shape[1], len(means)))
        for c in range(len(means)):
            quad = None
            for j in range(means.shape[1]):
                y = None
                for i in range(means.shape[1]):
                    if prec[c, i, j] != 0.0:  # triangular factor: skip the structural zeros
                        term = (Zt[i] - means[c, i]) * prec[c, i, j]
                        y = term if y is None else y + term
                if y is not None:
                    quad = y * y if quad is None else quad + y * y
            out[:, c] = 0.5 * quad - consts[c]
        return out
    raise ConfigError(f"unknown algorithm {algorithm!r} in model")


def squared_norms(Z: np.ndarray) -> np.ndarray:
    """``|z|**2`` per row, summed left to right like the engine."""
    Zt = np.asarray(Z, dtype="float64").T
    acc = Zt[0] * Zt[0]
    for column in Zt[1:]:
        acc = acc + column * column
    return acc


def assign_ids(algorithm: str, params: Mapping[str, Any], Z: np.ndarray) -> np.ndarray:
    """Segment id per row of ``Z`` (0-based; -1 for HDBSCAN noise); the first candidate wins ties."""
    scores = segment_scores(algorithm, params, Z)
    best = np.argmin(scores, axis=1)
    if algorithm != "hdbscan":
        return best
    owners = np.asarray(params["exemplar_segments"], dtype="int64")
    nearest = scores[np.arange(len(best)), best] + squared_norms(Z)
    return np.where(nearest > float(params["noise_radius"]) ** 2, -1, owners[best])


# ---------------------------------------------------------------------- engine
def _f(value: float) -> ir.FloatingScalar:
    """A DOUBLE literal that is exactly ``value``.

    A bare ``0.1`` is a DECIMAL in DuckDB (and may overflow or round differently in
    arithmetic); the shortest round-trip string cast to DOUBLE is parsed exactly by
    DuckDB and Spark alike.
    """
    import ibis

    return ibis.literal(repr(float(value))).cast("float64")


def _feature_groups(pre: Mapping[str, Any], table: ir.Table) -> list:
    """One float expression per numeric/boolean feature, ``("onehot", text, levels, weight)``
    per categorical feature."""
    import ibis

    out = []
    for name, p in pre["params"].items():
        col = table[name]
        if p["kind"] == "numeric":
            x = col.cast("float64")
            x = ibis.cases((x.isnull() | x.isnan(), _f(p["fill"])), else_=x)
            if p["clip"] is not None:
                x = ibis.greatest(ibis.least(x, _f(p["clip"][1])), _f(p["clip"][0]))
            if p["log1p"]:
                x = (x + _f(1.0)).ln()
            out.append((x - _f(p["center"])) / _f(p["scale"]))
        elif p["kind"] == "boolean":
            dtype = col.type()
            if dtype.is_boolean():
                x = col.cast("float64")  # NULL stays NULL (ifelse would make it 0)
            elif dtype.is_numeric():
                num = col.cast("float64")
                x = ibis.cases((num.isnan(), ibis.null("float64")), (num != 0, _f(1.0)), else_=_f(0.0))
            else:
                text = col.cast("string").strip().lower()
                x = ibis.cases(
                    (text.isin(TRUE_STRINGS), _f(1.0)),
                    (text.isin(FALSE_STRINGS), _f(0.0)),
                    else_=ibis.null("float64"),
                )
            out.append(x.fill_null(_f(p["fill"])))
        else:
            out.append(("onehot", col.cast("string").fill_null(p["fill"]), p["levels"], float(p["weight"])))
    return out


def feature_expressions(pre: Mapping[str, Any], table: ir.Table) -> list[ir.FloatingValue]:
    """Ibis expressions for the preprocessed columns, in ``feature_names_out`` order.

    ``pre`` is :meth:`Preprocessor.to_dict` output.
    """
    out = []
    for item in _feature_groups(pre, table):
        if isinstance(item, tuple):
            _, text, levels, weight = item
            out.extend((text == level).ifelse(_f(weight), _f(0.0)) for level in levels)
        else:
            out.append(item)
    return out


def _linear(groups: list, coefs: np.ndarray, start: float) -> Any:
    """``start + sum_j z_j * coefs[j]`` left to right, one-hot groups as one CASE each.

    A one-hot group adds ``weight * coef`` for the row's level and exact zeros for the
    others, so a single ``CASE level WHEN ... THEN weight * coef`` term gives the same
    float as the NumPy sum while naming the column once instead of once per level.
    """
    acc, j = _f(start), 0
    for item in groups:
        if isinstance(item, tuple):
            _, text, levels, weight = item
            picks = [(level, _f(weight * float(coefs[j + i]))) for i, level in enumerate(levels)]
            acc = acc + text.cases(*picks, else_=_f(0.0))
            j += len(levels)
        else:
            acc = acc + item * _f(coefs[j])
            j += 1
    return acc


def _score_expressions(algorithm: str, params: Mapping[str, Any], groups: list) -> list:
    """The scores of :func:`segment_scores` as Ibis expressions, same operations, same order."""
    if algorithm in ("kmeans", "hdbscan"):
        norms, slopes = _expansion(params["centroids" if algorithm == "kmeans" else "exemplars"])
        return [_linear(groups, slope, norm) for norm, slope in zip(norms, slopes)]
    z = []
    for item in groups:
        if isinstance(item, tuple):
            _, text, levels, weight = item
            z.extend((text == level).ifelse(_f(weight), _f(0.0)) for level in levels)
        else:
            z.append(item)
    means = np.asarray(params["means"], dtype="float64")
    prec = np.asarray(params["precisions_cholesky"], dtype="float64")
    scores = []
    for c, const in enumerate(_gmm_constants(params)):
        quad = None
        for j in range(means.shape[1]):
            y = None
            for i in range(means.shape[1]):
                if prec[c, i, j] != 0.0:
                    term = (z[i] - _f(means[c, i])) * _f(prec[c, i, j])
                    y = term if y is None else y + term
            if y is not None:
                quad = y * y if quad is None else quad + y * y
        scores.append(_f(0.5) * quad - _f(const))
    return scores


def assign_expression(model: Any, table: ir.Table) -> ir.StringValue:
    """Segment label of every row of ``table``, as an Ibis string expression.

    Parameters
    ----------
    model : ClusterSegmenter or dict
        A fitted segmenter, or its :meth:`~ClusterSegmenter.to_dict` document.
    table : ibis.Table
        Must have the model's feature columns (raw, not preprocessed).

    Returns
    -------
    ibis string expression
        ``"cluster_1"``... (or ``"noise"`` for HDBSCAN), equal to ``model.predict``.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> from segmint.segment.cluster import ClusterSegmenter
    >>> df = pd.DataFrame({"x": [0.0, 0.2, 0.1, 9.0, 9.2, 9.1]})
    >>> seg = ClusterSegmenter(["x"], k=2, n_bootstrap=0, winsorize=None).fit(df)
    >>> t = ibis.memtable(df)
    >>> labels = ibis.duckdb.connect().execute(t.select(segment=assign_expression(seg, t)))
    >>> labels["segment"].tolist() == seg.predict(df).tolist()
    True
    """
    import ibis

    from segmint.segment import model as docs

    doc = model.to_dict() if hasattr(model, "to_dict") else docs.check_model_header(model, "cluster")
    missing = [name for name in doc["features"] if name not in table.columns]
    if missing:
        from segmint.errors import UnknownNameError, did_you_mean

        raise UnknownNameError(
            f"table has no column {missing[0]!r} that the model needs; {did_you_mean(missing[0], table.columns)}"
        )
    params = docs.from_jsonable(doc["params"])
    groups = _feature_groups(doc["preprocessing"], table)
    scores = _score_expressions(doc["algorithm"], params, groups)
    # argmin without repeating every score in every branch: LEAST over (score, index)
    # structs orders by score, then index, so the first minimum wins as in np.argmin.
    best = ibis.least(*[ibis.struct({"score": s, "index": i}) for i, s in enumerate(scores)])
    if doc["algorithm"] == "hdbscan":
        owners = [int(o) for o in params["exemplar_segments"]]
        label = best["index"].cases(
            *[(i, doc["segments"][o]) for i, o in enumerate(owners)], else_=ibis.null("string")
        )
        norm = None  # |z|**2, left to right as squared_norms() does
        for item in groups:
            if isinstance(item, tuple):
                _, text, levels, weight = item
                sq = text.isin(levels).ifelse(_f(weight * weight), _f(0.0))
            else:
                sq = item * item
            norm = sq if norm is None else norm + sq
        noisy = (best["score"] + norm) > _f(float(params["noise_radius"]) ** 2)
        return ibis.cases((noisy, ibis.literal("noise")), else_=label)
    return best["index"].cases(*enumerate(doc["segments"]), else_=ibis.null("string"))
