"""Model health of a cluster segmentation: does the stored model still fit today's customers?

Three figures on a bounded sample of a run's snapshot, in the model's own preprocessed space:

* ``mean_distance``: mean Euclidean distance to the nearest centroid (GMM: mean), and its change
  since the run the model was fitted on (``distance_increase``, a fraction);
* ``far_share``: share of customers farther from every centroid than the ``far_quantile`` of the
  distances at the fitted run (so about ``1 - far_quantile`` there);
* ``stability``: the adjusted Rand index between the stored model's labels and a refit's (same k,
  same settings) on today's sample; 1 is the same partition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from segmint.features.snapshot import load_features
from segmint.segment.context import iso

__all__ = ["is_cluster", "model_health"]


def is_cluster(doc: Mapping[str, Any]) -> bool:
    """Whether ``doc`` is a cluster model with centroids or means (kmeans, GMM)."""
    params = doc.get("params") or {}
    return doc.get("kind") == "cluster" and ("centroids" in params or "means" in params)


def _distances(seg, doc: Mapping[str, Any], frame) -> np.ndarray:
    z = np.asarray(seg.preprocessor_.transform(frame), dtype="float64")
    params = doc["params"]
    centres = np.asarray(params.get("centroids", params.get("means")), dtype="float64")
    d2 = ((z[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    return np.sqrt(d2.min(axis=1))


def _sample(store, as_of, columns: list[str], size: int, seed: int):
    from segmint.segment.hybrid import bounded_sample

    return bounded_sample(load_features(store, as_of), columns, size, seed)


def model_health(store, doc: Mapping[str, Any], fitted_as_of, as_of, settings) -> dict[str, Any]:
    """Health of the cluster model ``doc`` at ``as_of`` against its fit at ``fitted_as_of``.

    ``settings`` is a :class:`~segmint.monitor.settings.ModelHealthSettings`.
    """
    from sklearn.metrics import adjusted_rand_score

    from segmint.segment.cluster import ClusterSegmenter

    seg = ClusterSegmenter.from_dict(doc)
    columns = list(doc["features"])
    ref = _sample(store, fitted_as_of, columns, settings.sample, 0)
    cur = ref if iso(fitted_as_of) == iso(as_of) else _sample(store, as_of, columns, settings.sample, 0)
    d_ref, d_cur = _distances(seg, doc, ref), _distances(seg, doc, cur)
    cut = float(np.quantile(d_ref, settings.far_quantile))
    out: dict[str, Any] = {
        "fitted_as_of": iso(fitted_as_of), "as_of": iso(as_of), "sample": int(len(cur)),
        "mean_distance_fitted": float(d_ref.mean()), "mean_distance": float(d_cur.mean()),
        "distance_increase": float(d_cur.mean() / d_ref.mean() - 1) if d_ref.mean() > 0 else None,
        "far_cut": cut, "far_share": float((d_cur > cut).mean()), "stability": None,
    }
    if settings.stability and len(cur) >= 2 * seg.k_:
        params = seg.get_params()
        params.update(k=seg.k_, n_bootstrap=0)
        refit = ClusterSegmenter(**params).fit(cur)
        out["stability"] = float(adjusted_rand_score(seg.predict(cur), refit.predict(cur)))
    return out


def refit_reasons(health: Mapping[str, Any] | None, drift_share: float | None, settings) -> list[str]:
    """Why a refresh should refit, by the rules in ``monitoring.model_health`` (empty: keep the model)."""
    reasons = []
    if health:
        if settings.refit_far_share is not None and health["far_share"] > settings.refit_far_share:
            reasons.append(f"far_share {health['far_share']:.3f} > refit_far_share {settings.refit_far_share}")
        inc = health.get("distance_increase")
        if settings.refit_distance_increase is not None and inc is not None and inc > settings.refit_distance_increase:
            reasons.append(f"distance_increase {inc:.3f} > refit_distance_increase {settings.refit_distance_increase}")
    if settings.refit_drift_share is not None and drift_share is not None and drift_share >= settings.refit_drift_share:
        reasons.append(f"drift_share {drift_share:.3f} >= refit_drift_share {settings.refit_drift_share}")
    return reasons
