"""The ``monitoring:`` section of ``segmint.yaml`` (docs/monitoring.md).

Defaults follow Evidently's: a feature drifts when its distance (normalised Wasserstein for numeric
features, Jensen-Shannon for categorical ones) reaches 0.1; a population drifts when half its
monitored features do. Each segmentation may override the drift settings under
``monitoring.segmentations.<name>``.

Examples
--------
>>> m = MonitoringConfig.model_validate({"drift": {"threshold": 0.2},
...                                      "segmentations": {"behaviour": {"drift_share": 0.3}}})
>>> s = m.drift_for("behaviour")
>>> s.threshold, s.drift_share, m.drift_for("rfm").drift_share
(0.2, 0.3, 0.5)
>>> parse_duration("36h"), parse_duration("2d"), parse_duration("1w")
(129600.0, 172800.0, 604800.0)
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["AlertRule", "DriftSettings", "Freshness", "ModelHealthSettings", "MonitoringConfig", "parse_duration"]

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """Seconds in ``text``: a number and a unit, ``s``, ``m``, ``h``, ``d`` or ``w`` (``36h``, ``2d``)."""
    m = _DURATION.fullmatch(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a duration; write a number and a unit s, m, h, d or w, e.g. 2d or 36h")
    return float(m.group(1)) * _UNIT[m.group(2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DriftSettings(_Strict):
    """How feature drift is measured and when it counts."""

    reference: str = Field("previous", description="the run drift is measured against: first, previous or an "
                                                  "as-of date (YYYY-MM-DD)")
    numeric: Literal["wasserstein", "psi"] = Field("wasserstein", description="primary statistic of numeric "
                                                   "features: normalised Wasserstein distance or PSI")
    categorical: Literal["jensenshannon", "psi"] = Field("jensenshannon", description="primary statistic of "
                                                         "categorical features")
    threshold: float = Field(0.1, gt=0, description="a feature drifts when its primary statistic reaches this")
    drift_share: float = Field(0.5, gt=0, le=1, description="a population (a segment, or everyone) drifts when "
                                                            "this share of its monitored features drift")
    bins: int = Field(10, ge=2, le=100, description="quantile bins of the reference for PSI and Jensen-Shannon")
    features: list[str] | None = Field(None, description="features to monitor; null: those the segmentation "
                                                         "uses (rules: every numeric feature of the snapshot)")
    max_rows: int | None = Field(200_000, ge=1000, description="a uniform sample of this many customers per side "
                                                               "(null: everyone)")


class DriftOverride(_Strict):
    """Per-segmentation overrides of :class:`DriftSettings` (every key optional)."""

    reference: str | None = None
    numeric: Literal["wasserstein", "psi"] | None = None
    categorical: Literal["jensenshannon", "psi"] | None = None
    threshold: float | None = Field(None, gt=0)
    drift_share: float | None = Field(None, gt=0, le=1)
    bins: int | None = Field(None, ge=2, le=100)
    features: list[str] | None = None
    max_rows: int | None = Field(None, ge=1000)


class ModelHealthSettings(_Strict):
    """How a cluster model's fit is judged, and when a refresh refits it."""

    far_quantile: float = Field(0.95, gt=0.5, lt=1, description="'far from every centroid': beyond this quantile "
                                                                "of the distances at the run the model was fitted on")
    sample: int = Field(5000, ge=200, description="customers sampled to measure the fit and the stability")
    stability: bool = Field(True, description="refit on today's sample (same k) and compare labels (ARI)")
    refit_far_share: float | None = Field(None, gt=0, le=1, description="refit when the share of customers far "
                                                                        "from every centroid exceeds this")
    refit_distance_increase: float | None = Field(None, gt=0, description="refit when the mean distance to the "
                                                                          "nearest centroid grew by this fraction")
    refit_drift_share: float | None = Field(None, gt=0, le=1, description="refit when this share of the "
                                                                          "monitored features drift overall")


class Freshness(_Strict):
    """dbt-style freshness of one table: how old its newest row (or last load) may be."""

    warn_after: str | None = Field(None, description="duration, e.g. 2d")
    error_after: str | None = Field(None, description="duration, e.g. 7d")
    field: Literal["newest_row", "last_load"] = Field("newest_row", description="what ages: the newest row's "
                                                                                "time or the last load")

    @field_validator("warn_after", "error_after")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None:
            parse_duration(v)
        return v


class AlertRule(_Strict):
    """One declarative alert rule, checked by every refresh."""

    kind: Literal["share_move", "drift", "stale", "kpi_drop", "churn", "refit"]
    segmentation: str | None = Field(None, description="only this segmentation (null: every one)")
    segment: str | None = Field(None, description="only this segment")
    points: float | None = Field(None, gt=0, description="share_move: percentage points a segment's share may move")
    threshold: float | None = Field(None, gt=0, description="drift: a feature's statistic; churn: a share 0..1")
    kpi: str | None = Field(None, description="kpi_drop: revenue, orders, buyers, aov, repeat_rate_90d...")
    percent: float | None = Field(None, gt=0, description="kpi_drop: the fall, in percent, that raises it")
    severity: Literal["info", "warning", "error"] = "warning"
    name: str | None = Field(None, description="a name shown with the alert (default: from the rule)")

    @model_validator(mode="after")
    def _needs(self) -> AlertRule:
        need = {"share_move": ["points"], "kpi_drop": ["kpi", "percent"], "churn": ["threshold"]}.get(self.kind, [])
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"alert kind {self.kind!r} needs {', '.join(missing)}")
        return self

    def label(self) -> str:
        if self.name:
            return self.name
        detail = {"share_move": f"> {self.points} points", "drift": f">= {self.threshold}" if self.threshold else "",
                  "kpi_drop": f"{self.kpi} -{self.percent}%", "churn": f"> {self.threshold}"}.get(self.kind, "")
        return f"{self.kind} {detail}".strip()


def _default_alerts() -> list[AlertRule]:
    return [AlertRule(kind="share_move", points=5.0), AlertRule(kind="drift"), AlertRule(kind="stale"),
            AlertRule(kind="kpi_drop", kpi="revenue", percent=30.0)]


class MonitoringConfig(_Strict):
    """``monitoring:`` in segmint.yaml: drift, model health, freshness and alert rules (docs/monitoring.md)."""

    drift: DriftSettings = Field(default_factory=DriftSettings)
    model_health: ModelHealthSettings = Field(default_factory=ModelHealthSettings)
    freshness: dict[str, Freshness] = Field(default_factory=dict, description="table -> warn_after/error_after")
    alerts: list[AlertRule] = Field(default_factory=_default_alerts)
    segmentations: dict[str, DriftOverride] = Field(default_factory=dict, description="per-segmentation drift "
                                                                                      "overrides")
    kpi_window_days: int = Field(90, ge=1, description="the first run's KPIs count activity in this many days "
                                                       "before it (later runs: since the previous run)")
    refresh_segmentations: list[str] | None = Field(None, description="what `segmint refresh` re-assigns; "
                                                                      "null: every defined segmentation")

    def drift_for(self, name: str) -> DriftSettings:
        """The drift settings of segmentation ``name``: the defaults with its overrides applied."""
        over = self.segmentations.get(name)
        if over is None:
            return self.drift
        return self.drift.model_copy(update={k: v for k, v in over.model_dump().items() if v is not None})
