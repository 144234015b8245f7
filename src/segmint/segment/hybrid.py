"""Clusterings fitted on the feature snapshot, alone or inside a rule segment (hybrid).

A *hybrid* segmentation is a rules segmentation in which some segments carry a
``cluster:`` block: the members of such a segment are clustered (say the Active
customers into behavioural groups) while everyone else keeps the rule label (New,
Lost...). Labels of clustered members are ``"<segment>/cluster_<i>"``.

Fitting runs in memory on a bounded sample drawn reproducibly from the segment's
members (customer ids sorted, then a seeded draw); assignment of every customer is an
Ibis expression (rules compile, nearest centroid via :mod:`segmint.segment.assign`).

Examples
--------
>>> import ibis, pyarrow as pa
>>> t = ibis.memtable(pa.table({"customer_id": ["a", "b"], "frequency": [1, 2], "rfm_score": ["1", "2"],
...                             "signup_at": pa.array([None, None], pa.timestamp("us"))}))
>>> from segmint.segment.definitions import ClusterSpec
>>> cluster_features(ClusterSpec(families=["frequency", "recency"]), t)
{'frequency': 'numeric'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from segmint.errors import ConfigError, FitError, UnknownNameError, did_you_mean
from segmint.segment import model as docs
from segmint.segment.assign import assign_expression
from segmint.segment.cluster import NOISE, ClusterSegmenter
from segmint.segment.definitions import DEFAULT_FAMILIES, ClusterSpec
from segmint.segment.rules import RuleSegmentation

__all__ = [
    "KIND",
    "SEPARATOR",
    "bounded_sample",
    "cluster_features",
    "fit_cluster",
    "fit_hybrid",
    "hybrid_expression",
]

KIND = "hybrid"
SEPARATOR = "/"
ID = "customer_id"
#: Never clustered when picked by family: the text code of the RFM scores (the scores are there).
_SKIP = ("rfm_score",)


def cluster_features(spec: ClusterSpec, table: ir.Table) -> dict[str, str]:
    """Features to cluster on and their preprocessing kind (numeric, boolean, categorical)."""
    from segmint.features.catalog import catalog_for

    try:
        catalog = catalog_for(table)
    except UnknownNameError:  # a table from elsewhere (not a snapshot): fall back on its own types
        catalog = None
    kinds = {}
    for name, dtype in table.schema().items():
        if name in ("as_of", ID):
            continue
        kinds[name] = ("boolean" if dtype.is_boolean() else "numeric" if dtype.is_numeric()
                       else "categorical" if dtype.is_string() else "other")
    if spec.features:
        names = list(spec.features)
        for n in names:
            if n not in kinds:
                raise UnknownNameError(f"cluster feature {n!r} is not in the snapshot; {did_you_mean(n, kinds)}")
            if kinds[n] == "other":
                raise ConfigError(f"cluster feature {n!r} is a {table.schema()[n]} and cannot be clustered on; "
                                  "use numbers, flags or categories")
    else:
        families = spec.families or list(DEFAULT_FAMILIES)
        names = [n for n, k in kinds.items() if k != "other" and n not in _SKIP
                 and catalog is not None and n in catalog and catalog[n].family in families]
    for n in spec.exclude:
        if n not in kinds:
            raise UnknownNameError(f"excluded feature {n!r} is not in the snapshot; {did_you_mean(n, kinds)}")
    names = [n for n in names if n not in spec.exclude]
    if not names:
        raise ConfigError("no feature to cluster on: list 'features' or 'families' that the snapshot has")
    return {n: kinds[n] for n in names}


def bounded_sample(table: ir.Table, columns: list[str], size: int, seed: int):
    """At most ``size`` rows of ``table`` as pandas, drawn reproducibly; rows sorted by customer id.

    Only the id column leaves the engine to draw the sample; the feature columns of the
    drawn rows follow through a semi-join, so memory stays bounded by ``size``.
    """
    ids = table.select(ID).order_by(ID).to_pyarrow()[ID]
    if len(ids) > size:
        pick = np.sort(np.random.default_rng(seed).choice(len(ids), size=size, replace=False))
        chosen = ibis.memtable(pa.table({"_sample_id": ids.take(pa.array(pick))}))
        table = table.semi_join(chosen, table[ID] == chosen["_sample_id"])
    return table.select(ID, *columns).order_by(ID).to_pyarrow().to_pandas().set_index(ID)


def fit_cluster(spec: ClusterSpec, table: ir.Table, label_prefix: str = "cluster_") -> ClusterSegmenter:
    """Fit a :class:`ClusterSegmenter` as ``spec`` says on a bounded sample of ``table``."""
    kinds = cluster_features(spec, table)
    frame = bounded_sample(table, list(kinds), spec.sample_size, spec.random_state)
    if frame.empty:
        raise FitError("no customer to cluster (the snapshot or the segment is empty)")
    pre = spec.preprocessing
    seg = ClusterSegmenter(
        features=kinds, algorithm=spec.algorithm, k=spec.k, k_range=tuple(spec.k_range),
        sample_size=spec.sample_size, n_bootstrap=spec.n_bootstrap,
        stability_threshold=spec.stability_threshold, min_cluster_size=spec.min_cluster_size,
        random_state=spec.random_state, log_skewed=pre.log_skewed,
        winsorize=tuple(pre.winsorize) if pre.winsorize else None, scaling=pre.scaling,
        categorical_weight=pre.categorical_weight, label_prefix=label_prefix,
    )
    return seg.fit(frame)


def fit_hybrid(defn, table: ir.Table, resolver=None) -> dict[str, Any]:
    """Fit the clusters of a hybrid definition; return its JSON model document.

    Parameters
    ----------
    defn : segmint.segment.definitions.RuleDef
        ``kind: hybrid``.
    table : ibis.Table
        The feature snapshot.
    resolver : callable, optional
        Segment resolver for rules that use ``in_segment``.
    """
    rules = RuleSegmentation(defn.rule_pairs(), else_=defn.else_, exclusive=True)
    labelled = table.mutate(_rule_segment=rules.compile(table, resolver))
    clusters = {}
    for seg in defn.segments:
        if seg.cluster is None:
            continue
        members = labelled.filter(labelled._rule_segment == seg.name).drop("_rule_segment")
        try:
            fitted = fit_cluster(seg.cluster, members, label_prefix=f"{seg.name}{SEPARATOR}cluster_")
        except FitError as err:
            raise FitError(f"cannot cluster segment {seg.name!r}: {err}") from None
        clusters[seg.name] = fitted.to_dict()
    return docs.to_jsonable({**docs.model_header(KIND), "rules": rules.to_dict(), "clusters": clusters})


def hybrid_expression(doc: Mapping[str, Any], table: ir.Table, resolver=None) -> ir.StringValue:
    """Label of every row: the rule segment, or ``segment/cluster_i`` inside a clustered segment."""
    doc = docs.check_model_header(docs.from_jsonable(dict(doc)), KIND)
    rules = RuleSegmentation.from_dict(doc["rules"])
    rule_label = rules.compile(table, resolver)
    branches = []
    for segment, cdoc in doc["clusters"].items():
        inner = assign_expression(cdoc, table)
        inner = ibis.cases((inner == NOISE, ibis.literal(f"{segment}{SEPARATOR}{NOISE}")), else_=inner)
        branches.append((rule_label == segment, inner))
    return ibis.cases(*branches, else_=rule_label) if branches else rule_label


def hybrid_segments(doc: Mapping[str, Any]) -> list[str]:
    """Every label a hybrid model can give, in rule order."""
    names = []
    for r in doc["rules"]["segments"]:
        c = doc["clusters"].get(r["name"])
        names.extend(c["segments"] if c else [r["name"]])
    if doc["rules"].get("else"):
        names.append(doc["rules"]["else"])
    return names


def explain_cluster(doc: Mapping[str, Any], row, top: int = 5, segmenter: ClusterSegmenter | None = None,
                    values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Why a customer is in their cluster: distance to every segment, and the features that pull most.

    Parameters
    ----------
    doc : dict
        A cluster model document.
    row : pandas.DataFrame
        One row with the model's raw feature columns.
    top : int, default 5
        How many pulling features to report.
    segmenter : ClusterSegmenter, optional
        ``doc`` already rebuilt (:func:`segmint.segment.reasons.plan` keeps one per model).
    values : mapping, optional
        The same customer as plain JSON values (``row`` may then be None): numeric features
        are transformed without pandas (:meth:`~segmint.segment.preprocess.Preprocessor.transform_row`),
        with the same result.

    Returns
    -------
    dict
        ``segment`` (nearest), ``distances`` (segment and Euclidean distance in the
        preprocessed space, nearest first) and ``pulls``: per preprocessed feature, its
        raw value, the customer's scaled value, the two nearest centres' values and
        ``pull`` = how much nearer this feature puts the customer to the nearest centre
        than to the runner-up (squared distance units; positive pulls towards the segment).
    """
    seg = segmenter if segmenter is not None else ClusterSegmenter.from_dict(doc)
    z = seg.preprocessor_.transform_row(values) if values is not None else None
    if z is None:
        if row is None:
            import pandas as pd

            row = pd.DataFrame([dict(values)])
        z = seg.preprocessor_.transform(row[list(seg.preprocessor_.kinds_)])[0]
        values = None
    params, names = seg.params_, seg.preprocessor_.get_feature_names_out()
    if seg.algorithm == "hdbscan":  # a segment's centre is its exemplar nearest to the customer
        ex, owner = np.asarray(params["exemplars"]), np.asarray(params["exemplar_segments"])
        centres = []
        for s in range(len(seg.segments_)):
            mine = ex[owner == s]
            centres.append(mine[np.argmin(((mine - z) ** 2).sum(axis=1))])
        centres = np.asarray(centres)
    else:
        centres = np.asarray(params["centroids" if seg.algorithm == "kmeans" else "means"])
    dist = np.sqrt(((centres - z) ** 2).sum(axis=1))
    order = np.argsort(dist, kind="stable")
    first, second = order[0], order[1] if len(order) > 1 else order[0]
    pull = (z - centres[second]) ** 2 - (z - centres[first]) ** 2
    best = np.argsort(-pull, kind="stable")[:top]
    pulls = []
    for j in best:
        raw = names[j].split("=", 1)[0]
        if values is not None:  # ints, floats or None (transform_row took them): what the frame gives back
            value = values.get(raw)
        else:
            value = row[raw].iloc[0]
            value = None if pd_isna(value) else (value.item() if hasattr(value, "item") else value)
        pulls.append({"feature": names[j], "value": value, "scaled": float(z[j]),
                      "segment_centre": float(centres[first, j]), "runner_up_centre": float(centres[second, j]),
                      "pull": float(pull[j])})
    return {
        "segment": seg.segments_[first],
        "runner_up": seg.segments_[second],
        "distances": [{"segment": seg.segments_[i], "distance": float(dist[i])} for i in order],
        "pulls": pulls,
    }


def pd_isna(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value)) if np.ndim(value) == 0 else False
