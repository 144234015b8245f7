"""The scorecard's pass / warn / fail limits, declared as data.

Each metric the scorecard judges is listed once in :data:`METRICS`: the criterion it
belongs to, whether higher is better, and the names of its pass and warn limits in
:class:`Thresholds`. Verdicts and the threshold column are generated from that table,
so changing a limit never means editing code.

Examples
--------
>>> t = Thresholds()
>>> t.judge("silhouette", 0.4), t.judge("silhouette", 0.15), t.judge("silhouette", -0.01)
('pass', 'warn', 'fail')
>>> t.judge("davies_bouldin", 0.7)
'pass'
>>> t.describe("min_share")
'>= 0.01 (warn >= 0.005)'
>>> Thresholds.from_dict({"min_sise": 50})
Traceback (most recent call last):
...
segmint.errors.ConfigError: unknown scorecard threshold 'min_sise'; did you mean 'min_size'?
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, NamedTuple

from segmint.errors import ConfigError, did_you_mean


class Metric(NamedTuple):
    """One judged metric: its criterion, direction and the :class:`Thresholds` fields of its limits."""

    criterion: str
    higher_is_better: bool
    pass_field: str
    warn_field: str
    description: str


#: metric -> how it is judged. Metrics not listed here are reported as "info".
METRICS: dict[str, Metric] = {
    "min_effect": Metric("distinct", True, "effect_pass", "effect_warn",
                         "the least distinct segment's largest bounded effect (|Cliff's delta|, difference in "
                         "proportions or Cramer's V, 0 to 1) vs the rest"),
    "max_effect": Metric("distinct", True, "effect_pass", "effect_warn",
                         "the segment's largest bounded effect (|Cliff's delta|, difference in proportions or "
                         "Cramer's V, 0 to 1) vs the rest of the base"),
    "silhouette": Metric("distinct", True, "silhouette_pass", "silhouette_warn",
                         "mean silhouette on standardised numeric features (sampled)"),
    "davies_bouldin": Metric("distinct", False, "davies_bouldin_pass", "davies_bouldin_warn",
                             "Davies-Bouldin index, lower is better"),
    "separability": Metric("distinct", True, "separability_pass", "separability_warn",
                           "cross-validated balanced accuracy, scaled so 0 is chance and 1 perfect"),
    "bootstrap_ari": Metric("stable", True, "ari_pass", "ari_warn",
                            "adjusted Rand index of bootstrap refits vs the labels, on unseen customers"),
    "min_jaccard": Metric("stable", True, "jaccard_pass", "jaccard_warn",
                          "the least stable segment's mean bootstrap Jaccard"),
    "jaccard": Metric("stable", True, "jaccard_pass", "jaccard_warn",
                      "mean bootstrap Jaccard of the segment's members"),
    "temporal_ari": Metric("stable", True, "temporal_pass", "temporal_warn",
                           "adjusted Rand index between the labels at two dates"),
    "retention": Metric("stable", True, "temporal_pass", "temporal_warn",
                        "share of the segment's customers still in it at the later date"),
    "min_share": Metric("substantial", True, "min_share", "min_share_warn", "the smallest segment's share"),
    "min_size": Metric("substantial", True, "min_size", "min_size_warn", "the smallest segment's customers"),
    "share": Metric("substantial", True, "min_share", "min_share_warn", "share of the base"),
    "size": Metric("substantial", True, "min_size", "min_size_warn", "customers"),
    "min_reachable_share": Metric("reachable", True, "reachable_pass", "reachable_warn",
                                  "the least reachable segment's share with consent and a contact channel"),
    "reachable_share": Metric("reachable", True, "reachable_pass", "reachable_warn",
                              "share with marketing consent and a contact channel"),
    "fidelity": Metric("explainable", True, "fidelity_pass", "fidelity_warn",
                       "cross-validated accuracy of a shallow decision tree reproducing the segments"),
    "recall": Metric("explainable", True, "fidelity_pass", "fidelity_warn",
                     "share of the segment the shallow tree assigns to it"),
    "value_effect": Metric("profitable", True, "value_effect_pass", "value_effect_warn",
                           "epsilon-squared of value across segments (Kruskal-Wallis)"),
}


@dataclass(frozen=True)
class Thresholds:
    """Limits of the scorecard; every pass limit has a softer warn limit.

    Defaults follow common rules of thumb: an effect of 0.33 is medium (Cliff's delta 0.33
    and 0.147 correspond to Cohen's d 0.5 and 0.2; Cramer's V's medium and small are 0.3
    and 0.1, and the same limits judge it), a
    silhouette above 0.25 shows structure, a bootstrap Jaccard above 0.75 marks a
    stable cluster (Hennig 2007), and a segment worth serving has at least 1 % of
    the base and 100 customers.
    """

    effect_pass: float = 0.33
    effect_warn: float = 0.147
    silhouette_pass: float = 0.25
    silhouette_warn: float = 0.10
    davies_bouldin_pass: float = 1.0
    davies_bouldin_warn: float = 2.0
    separability_pass: float = 0.6
    separability_warn: float = 0.3
    ari_pass: float = 0.8
    ari_warn: float = 0.6
    jaccard_pass: float = 0.75
    jaccard_warn: float = 0.5
    temporal_pass: float = 0.6
    temporal_warn: float = 0.3
    min_share: float = 0.01
    min_share_warn: float = 0.005
    min_size: float = 100
    min_size_warn: float = 50
    reachable_pass: float = 0.5
    reachable_warn: float = 0.2
    fidelity_pass: float = 0.8
    fidelity_warn: float = 0.6
    value_effect_pass: float = 0.08
    value_effect_warn: float = 0.01
    alpha: float = 0.05

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> Thresholds:
        """Thresholds from a mapping (e.g. a ``segmint.yaml`` section); unknown keys are errors."""
        known = [f.name for f in fields(cls)]
        for key in values or {}:
            if key not in known:
                raise ConfigError(f"unknown scorecard threshold {key!r}; {did_you_mean(key, known)}")
        return replace(cls(), **{k: float(v) for k, v in (values or {}).items()})

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def limits(self, metric: str) -> tuple[float, float, bool] | None:
        """``(pass, warn, higher_is_better)`` of a judged metric, else None."""
        m = METRICS.get(metric)
        if m is None:
            return None
        return getattr(self, m.pass_field), getattr(self, m.warn_field), m.higher_is_better

    def judge(self, metric: str, value: float | None) -> str:
        """``pass``, ``warn`` or ``fail``; ``info`` for unjudged metrics, ``n/a`` for missing values."""
        lim = self.limits(metric)
        if lim is None:
            return "info"
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        good, soft, higher = lim
        sign = 1 if higher else -1
        if sign * value >= sign * good:
            return "pass"
        return "warn" if sign * value >= sign * soft else "fail"

    def describe(self, metric: str) -> str:
        """The limits in words, for the scorecard's threshold column."""
        lim = self.limits(metric)
        if lim is None:
            return ""
        good, soft, higher = lim
        op = ">=" if higher else "<="
        return f"{op} {good:g} (warn {op} {soft:g})"


#: Verdicts from best to worst; a criterion's verdict is its worst metric's.
VERDICT_ORDER = ("pass", "warn", "fail")


def worst(verdicts) -> str:
    """The worst of some verdicts, ignoring ``info`` and ``n/a`` (``n/a`` when none is judged).

    >>> worst(["pass", "info", "warn"]), worst(["info"])
    ('warn', 'n/a')
    """
    judged = [v for v in verdicts if v in VERDICT_ORDER]
    return max(judged, key=VERDICT_ORDER.index) if judged else "n/a"
