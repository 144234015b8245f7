"""The ``journeys:`` and ``psychographics:`` sections of ``segmint.yaml`` (issue 23).

Kept out of :mod:`segmint.config` so that module stays small; :class:`~segmint.config.Config`
holds one field per section.

Examples
--------
>>> j = JourneysConfig.model_validate({"session_gap_minutes": 45, "groups": {"email": "^email_"}})
>>> j.session_gap_minutes, j.groups
(45, {'email': '^email_'})
>>> from segmint.config import Config
>>> Config.parse({"journeys": {"groups": {"bad": "a("}}})
Traceback (most recent call last):
...
segmint.errors.ConfigError: segmint.yaml: journeys.groups: groups.bad: 'a(' is not a valid regular expression (missing ), unterminated subpattern at position 1)
>>> p = PsychographicsConfig.model_validate({"scales": {"price": ["q1", "q2", "q3r"]}})
>>> p.scales["price"], p.scale_range
(['q1', 'q2', 'q3r'], (1.0, 5.0))
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["JourneysConfig", "PsychographicsConfig"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class JourneysConfig(_Strict):
    """Sessions and path cleaning (``journeys:`` in segmint.yaml)."""

    session_gap_minutes: int = Field(30, ge=1, le=7 * 24 * 60,
                                     description="a gap of inactivity longer than this starts a new session")
    groups: dict[str, str] = Field(
        default_factory=dict,
        description="path cleaning: step name -> regular expression; events whose name matches are shown as "
                    "that step (the first matching group wins, in the order written)")
    collapse_repeats: bool = Field(True, description="a step repeated in a row counts once in a path")
    in_report: bool = Field(False, description="the HTML report shows each segment's session paths as a Sankey "
                                               "(one query per segment over every event: off by default)")

    @field_validator("groups")
    @classmethod
    def _regexes(cls, v: dict[str, str]) -> dict[str, str]:
        for name, pattern in v.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"groups.{name}: {pattern!r} is not a valid regular expression ({exc})") from None
        return v


class PsychographicsConfig(_Strict):
    """Survey scales and free-text questions (``psychographics:`` in segmint.yaml)."""

    scales: dict[str, list[str]] = Field(
        default_factory=dict,
        description="scale -> its questions; an item written with a trailing 'r' (q3r) is question q3 "
                    "reverse-coded, unless a question named q3r exists")
    scale_range: tuple[float, float] = Field(
        (1.0, 5.0), description="lowest and highest answer of the scales' items (reverse coding: lo + hi - x)")
    text_questions: list[str] = Field(
        default_factory=list, description="questions answered in free text: topics and topic shares per customer")
    max_topics: int = Field(8, ge=2, le=30, description="the most topics `segmint topics` considers")
    embedder: str = Field("auto", pattern="^(auto|wordllama|tfidf)$",
                          description="auto: wordllama when installed (segmint[text]), else TF-IDF + SVD")

    @model_validator(mode="after")
    def _check(self) -> "PsychographicsConfig":
        lo, hi = self.scale_range
        if not lo < hi:
            raise ValueError(f"scale_range: the lowest answer ({lo}) must be below the highest ({hi})")
        for name, items in self.scales.items():
            if not re.fullmatch(r"[A-Za-z0-9_]+", name):
                raise ValueError(f"scales: {name!r} must be letters, digits and underscores (it names a feature)")
            if len(items) < 2:
                raise ValueError(f"scales.{name}: a scale needs at least two questions, got {items}")
        return self
