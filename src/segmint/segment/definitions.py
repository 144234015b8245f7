"""Segmentation definitions: the ``segmentations:`` section of ``segmint.yaml`` and ``segments/*.yaml``.

Each definition has a ``kind``:

``rules``
    Exclusive segments, first match wins, ``else:`` names everyone else.
``audiences``
    Overlapping audiences: a customer is in every audience whose rule holds.
``rfm``
    The built-in RFM template (:mod:`segmint.segment.rfm_template`), a ``rules`` definition.
``cluster``
    Clustering on ``features`` (or feature ``families``) with ``k`` chosen by evidence.
``hybrid``
    A ``rules`` definition where one or more segments carry a ``cluster:`` block: their
    members are clustered, everyone else keeps the rule label.
``tiers``
    Bands of one numeric feature: CLV tiers by quantile or thresholds of
    ``predicted_clv_12m``, churn-risk tiers as bands of ``probability_alive``.

Unknown keys and kinds are errors with "did you mean ...?". Rule syntax is checked
here; rule *names* are checked against the feature snapshot when the segmentation runs.

Examples
--------
>>> d = parse_definition("vip", {"kind": "rules", "segments": [{"name": "VIP", "where": "monetary_total>=1000"}],
...                               "else": "Other"})
>>> d.kind, [s.where for s in d.segments], d.else_
('rules', ['monetary_total >= 1000'], 'Other')
>>> parse_definition("x", {"kind": "clustr"})
Traceback (most recent call last):
...
segmint.errors.ConfigError: segmentation 'x': unknown kind 'clustr'; did you mean 'cluster'?
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from segmint.errors import ConfigError, did_you_mean

__all__ = [
    "ClusterSpec",
    "Definition",
    "Preprocessing",
    "RuleDef",
    "SegmentRule",
    "TierDef",
    "definition_from_json",
    "fingerprint",
    "load_definitions",
    "parse_definition",
]

#: Feature families clustered when a cluster definition names neither features nor families.
DEFAULT_FAMILIES = ("recency", "frequency", "monetary", "cadence", "mix", "engagement")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _canonical_rule(text: str) -> str:
    # Parsed once here so a syntax error names the segmentation at load time, and so that
    # "x>1" and "x > 1" are the same definition (and the same version).
    from segmint.segment.rule_parser import parse

    return parse(text).to_text()


class Preprocessing(_Strict):
    """How features are put on one scale before clustering (see :class:`~segmint.segment.preprocess.Preprocessor`)."""

    log_skewed: bool = True
    winsorize: tuple[float, float] | None = (0.01, 0.99)
    scaling: Literal["robust", "standard"] | None = "robust"
    categorical_weight: float | Literal["auto"] = "auto"


class ClusterSpec(_Strict):
    """Clustering settings, shared by ``kind: cluster`` and the ``cluster:`` block of a hybrid segment."""

    features: list[str] | None = None
    families: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    algorithm: Literal["kmeans", "gmm", "hdbscan"] = "kmeans"
    k: int | Literal["auto"] = "auto"
    k_range: tuple[int, int] = (2, 10)
    sample_size: int = Field(50_000, ge=10)
    n_bootstrap: int = Field(5, ge=0)
    stability_threshold: float = Field(0.8, ge=0, le=1)
    min_cluster_size: int | None = Field(None, ge=2)
    random_state: int = 0
    preprocessing: Preprocessing = Field(default_factory=Preprocessing)

    @field_validator("k")
    @classmethod
    def _k(cls, v):
        if isinstance(v, int) and v < 1:
            raise ValueError("k must be 'auto' or a positive integer")
        return v

    @field_validator("k_range")
    @classmethod
    def _range(cls, v):
        if not 2 <= v[0] <= v[1]:
            raise ValueError("k_range must be [low, high] with 2 <= low <= high")
        return v

    @field_validator("families")
    @classmethod
    def _families(cls, v):
        from segmint.features.catalog import FAMILIES

        for fam in v or []:
            if fam not in FAMILIES:
                raise ValueError(f"unknown feature family {fam!r}; {did_you_mean(fam, FAMILIES)}")
        return v


class SegmentRule(_Strict):
    """One named rule; in a hybrid definition it may carry a ``cluster:`` block."""

    name: str = Field(min_length=1)
    where: str = Field(min_length=1)
    description: str | None = None
    cluster: ClusterSpec | None = None

    @field_validator("where")
    @classmethod
    def _parse(cls, v: str) -> str:
        return _canonical_rule(v)


def _segments_list(v: Any) -> Any:
    # ``segments: {VIP: "spend > 1000"}`` is a shorter way to write the list form.
    if isinstance(v, Mapping):
        return [{"name": k, **w} if isinstance(w, Mapping) else {"name": k, "where": w} for k, w in v.items()]
    return v


class RuleDef(_Strict):
    """``kind: rules`` (exclusive), ``audiences`` (overlapping), ``rfm`` (template) or ``hybrid``."""

    kind: Literal["rules", "audiences", "rfm", "hybrid"]
    description: str | None = None
    purpose: str | None = None  # allows sensitive attributes (privacy.sensitive.purposes; docs/privacy.md)
    segments: list[SegmentRule] = Field(default_factory=list)
    else_: str | None = Field(None, alias="else")

    @field_validator("segments", mode="before")
    @classmethod
    def _as_list(cls, v):
        return _segments_list(v)

    @model_validator(mode="after")
    def _check(self) -> RuleDef:
        if self.kind == "rfm":
            if self.segments:
                raise ValueError("kind rfm uses the built-in template; to edit its segments, print it with "
                                 "`segmint segment --template rfm`, paste it and change kind to rules")
            from segmint.segment.rfm_template import RFM_ELSE, rfm_segments

            self.segments = [SegmentRule(name=n, where=w) for n, w in rfm_segments()]
            self.else_ = self.else_ or RFM_ELSE
        if not self.segments:
            raise ValueError("needs at least one segment under 'segments' (name and where)")
        names = [s.name for s in self.segments] + ([self.else_] if self.else_ else [])
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"segment names must be unique; repeated: {', '.join(dupes)}")
        clustered = [s.name for s in self.segments if s.cluster is not None]
        if self.kind == "hybrid" and not clustered:
            raise ValueError("kind hybrid needs a 'cluster:' block inside at least one of its segments")
        if self.kind != "hybrid" and clustered:
            raise ValueError(f"segment {clustered[0]!r} has a 'cluster:' block; use kind: hybrid")
        return self

    @property
    def exclusive(self) -> bool:
        return self.kind != "audiences"

    def rule_pairs(self) -> list[tuple[str, str]]:
        return [(s.name, s.where) for s in self.segments]

    def segment_names(self) -> list[str]:
        return [s.name for s in self.segments] + ([self.else_] if self.else_ else [])


#: What ``by:`` of a tiers definition means: feature, and how bands run.
TIER_PRESETS: dict[str, dict[str, Any]] = {
    "clv": {"feature": "predicted_clv_12m", "quantiles": [0.5, 0.8, 0.95],
            "labels": ["Low value", "Medium value", "High value", "Top value"]},
    "churn": {"feature": "probability_alive", "thresholds": [0.3, 0.7],
              "labels": ["High risk", "Medium risk", "Low risk"]},
}


class TierDef(_Strict):
    """``kind: tiers``: bands of one numeric feature, lowest band first.

    A band holds values from its lower cut (included) up to the next cut (excluded).
    Cuts are ``thresholds`` (fixed numbers) or ``quantiles`` (fitted on the snapshot the
    version is first run on, then kept, so tiers stay comparable over time).
    """

    kind: Literal["tiers"]
    description: str | None = None
    purpose: str | None = None  # allows sensitive attributes (privacy.sensitive.purposes; docs/privacy.md)
    by: Literal["clv", "churn"] | None = None
    feature: str | None = None
    quantiles: list[float] | None = None
    thresholds: list[float] | None = None
    labels: list[str] | None = None
    missing: str | None = "No prediction"

    @model_validator(mode="after")
    def _fill(self) -> TierDef:
        if self.quantiles is not None and self.thresholds is not None:
            raise ValueError("give either quantiles or thresholds, not both")
        preset = TIER_PRESETS.get(self.by or "", {})
        self.feature = self.feature or preset.get("feature")
        if self.feature is None:
            raise ValueError("needs 'by: clv', 'by: churn' or a numeric 'feature'")
        if self.quantiles is None and self.thresholds is None:
            self.quantiles = preset.get("quantiles")
            self.thresholds = preset.get("thresholds")
            self.labels = self.labels or preset.get("labels")
        if self.quantiles is None and self.thresholds is None:
            raise ValueError("needs 'quantiles' (e.g. [0.5, 0.8, 0.95]) or 'thresholds' (cut values)")
        cuts = self.quantiles if self.quantiles is not None else self.thresholds
        if not cuts or any(b <= a for a, b in zip(cuts, cuts[1:])):
            raise ValueError("cut points must be a non-empty, strictly increasing list")
        if self.quantiles is not None and not all(0 < q < 1 for q in self.quantiles):
            raise ValueError("quantiles must lie strictly between 0 and 1")
        if self.labels is None:
            self.labels = [f"tier_{i + 1}" for i in range(len(cuts) + 1)]
        if len(self.labels) != len(cuts) + 1:
            raise ValueError(f"{len(cuts)} cut points make {len(cuts) + 1} tiers, but {len(self.labels)} "
                             "labels were given (list them lowest first)")
        names = self.labels + ([self.missing] if self.missing else [])
        if len(set(names)) != len(names):
            raise ValueError("tier labels (and 'missing') must be unique")
        return self

    def segment_names(self) -> list[str]:
        return list(self.labels or []) + ([self.missing] if self.missing else [])


class ClusterDef(ClusterSpec):
    """``kind: cluster``."""

    kind: Literal["cluster"]
    description: str | None = None
    purpose: str | None = None  # allows sensitive attributes (privacy.sensitive.purposes; docs/privacy.md)


#: The built-in definitions; a registered kind (:mod:`segmint.segment.kinds`) may bring its own.
Definition = RuleDef | ClusterDef | TierDef
_NESTED: dict[str, type[BaseModel]] = {"segments": SegmentRule, "cluster": ClusterSpec,
                                       "preprocessing": Preprocessing}


def parse_definition(name: str, raw: Any, source: str = "segmint.yaml") -> Definition:
    """Validate one definition; errors name the segmentation, the file and the key."""
    from segmint.paths import check_name

    check_name(name, "segmentation", source)  # it becomes a file name (reports/NAME.html)
    where = f"segmentation {name!r}" + ("" if source == "segmint.yaml" else f" ({source})")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping with a 'kind', got {type(raw).__name__}")
    from segmint.segment import kinds

    kind = raw.get("kind")
    known = kinds.names()
    if kind is None:
        raise ConfigError(f"{where}: missing 'kind'; use one of {', '.join(known)}")
    if not isinstance(kind, str):  # e.g. `kind: [rules]` in YAML: a list is no kind (and cannot be hashed)
        raise ConfigError(f"{where}: 'kind' must be one word, one of {', '.join(known)}; got a "
                          f"{type(kind).__name__}: {kind!r}")
    if kind not in known:
        raise ConfigError(f"{where}: unknown kind {kind!r}; {did_you_mean(str(kind), known)}")
    model = kinds.get(kind).definition
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(f"{where}: " + _explain(exc, model)) from None
    except ConfigError as exc:  # a rule syntax error raised inside a validator
        raise ConfigError(f"{where}: {exc}") from None


def _explain(exc: ValidationError, model: type[BaseModel]) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            owner = model
            for part in loc[:-1]:
                owner = _NESTED.get(str(part), owner)
            known = [f.alias or n for n, f in owner.model_fields.items()]
            at = ".".join(str(p) for p in loc[:-1]) or "the top"
            lines.append(f"unknown key {loc[-1]!r} at {at}; {did_you_mean(str(loc[-1]), known)}")
        else:
            path = ".".join(str(p) for p in loc if not str(p).startswith("function-")) or "definition"
            lines.append(f"{path}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(lines)


def load_definitions(path: str | Path, inline: Mapping[str, Any] | None = None) -> dict[str, Definition]:
    """All definitions of a workspace: ``inline`` (segmint.yaml's ``segmentations:``) first, then
    ``segments/*.yaml`` under the workspace folder ``path``, by file name.

    A ``segments/*.yaml`` file holds either ``segmentations: {name: definition}`` or the
    ``{name: definition}`` mapping directly. A name defined twice is an error naming both files.
    """
    raw: dict[str, tuple[Any, str]] = {n: (d, "segmint.yaml") for n, d in (inline or {}).items()}
    folder = Path(path) / "segments"
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")) if folder.is_dir() else []
    for file in files:
        rel = f"segments/{file.name}"
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{rel}: not valid YAML: {exc}") from None
        if isinstance(data, Mapping) and set(data) == {"segmentations"}:
            data = data["segmentations"] or {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{rel}: expected a mapping of segmentation name to definition")
        for name, d in data.items():
            if name in raw:
                raise ConfigError(f"segmentation {name!r} is defined twice: in {raw[name][1]} and in {rel}; "
                                  "rename one of them")
            raw[str(name)] = (d, rel)
    return {name: parse_definition(name, d, src) for name, (d, src) in raw.items()}


def to_json(defn: Definition) -> str:
    """The definition as canonical JSON (sorted keys, defaults filled in)."""
    return json.dumps(defn.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))


def fingerprint(defn: Definition) -> str:
    """What decides the version: the canonical JSON without descriptions (they change no label)."""
    data = defn.model_dump(mode="json", by_alias=True)
    data.pop("description", None)
    data.pop("purpose", None)  # why a segmentation exists changes no label
    for seg in data.get("segments") or []:
        seg.pop("description", None)
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def definition_from_json(text: str) -> Definition:
    """Read back :func:`to_json` output (as stored in the ``segmentations`` table)."""
    data = json.loads(text)
    if data.get("kind") == "rfm":  # the template's segments are filled in again from the code
        data.pop("segments", None)
    from segmint.segment import kinds

    return kinds.get(data["kind"]).definition.model_validate(data)
