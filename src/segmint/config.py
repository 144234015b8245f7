"""The workspace configuration file, ``segmint.yaml``, as pydantic models.

Unknown keys are errors (a typo must not be silently ignored) and get a
"did you mean ...?" suggestion. Sections that later features add
(``segmentations``...) are validated by their own modules and kept here as
plain mappings so that this module stays small.

Examples
--------
>>> cfg = Config.parse({"name": "shop", "timezone": "Europe/London"})
>>> cfg.privacy.min_segment_size
10
>>> Config.parse({"nmae": "shop"})
Traceback (most recent call last):
...
segmint.errors.ConfigError: segmint.yaml: unknown key 'nmae' at the top level; did you mean 'name'?
"""

from __future__ import annotations

import datetime as dt
import re

import zoneinfo
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from segmint.config_journeys import JourneysConfig, PsychographicsConfig
from segmint.errors import ConfigError, did_you_mean
from segmint.monitor.settings import MonitoringConfig  # monitoring (issue 17)

PiiAction = Literal["hash", "drop", "keep"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SourceConfig(_Strict):
    """How one source maps onto a canonical table (used by ``segmint ingest`` defaults)."""

    map: dict[str, str] = Field(default_factory=dict, description="canonical column -> source column")
    preset: str | None = None
    date_format: str | None = None
    timezone: str | None = None
    decimal: Literal[".", ","] = "."
    line_items: bool = False


# --- privacy and fairness (issue 20; docs/privacy.md) ---
#: Protected attributes by default: a column or feature with one of these names (or ``<name>_...``, e.g. age_band).
DEFAULT_SENSITIVE = ("age", "gender", "ethnicity", "religion", "health")


class SensitiveConfig(_Strict):
    """Sensitive attributes: rules, clustering features and lookalike models refuse them without a purpose."""

    attributes: list[str] = Field(default_factory=lambda: list(DEFAULT_SENSITIVE),
                                  description="protected attributes (a feature named so, or <name>_..., counts)")
    columns: list[str] = Field(default_factory=list, description="more columns you name as sensitive")
    purposes: list[str] = Field(default_factory=list,
                                description="purposes that allow them: a segmentation with `purpose:` one of "
                                            "these may use them, and the allowance goes to the audit log")


class FairnessConfig(_Strict):
    """The fairness table of a segmentation (``segmint fairness``)."""

    attributes: list[str] = Field(default_factory=lambda: ["gender", "age_band"],
                                  description="protected attributes audited by default (features of the snapshot)")
    threshold: float = Field(0.8, gt=0, le=1, description="the four-fifths rule: a disparity ratio below it is "
                                                          "flagged")
    reference: dict[str, str] = Field(default_factory=dict,
                                      description="attribute -> the reference group (default: the largest)")
    bootstrap: int = Field(200, ge=0, le=10_000, description="bootstrap resamples for the intervals (0: none)")
    intersections: list[list[str]] = Field(default_factory=lambda: [["gender", "age_band"]],
                                           description="attribute pairs audited as intersectional groups")


class RetentionRule(_Strict):
    """How long rows of one table are kept."""

    months: int = Field(..., ge=1, le=1200)
    column: str | None = Field(None, description="the date column (default: the table's event time)")


class PrivacyConfig(_Strict):
    """Personal data handling (docs/ingest.md, "Personal data")."""

    pii: dict[str, PiiAction] = Field(
        default_factory=dict,
        description="source column -> hash | drop | keep; also covers the copies of a duplicated header "
                    "(email_1, email_2...). Detected columns without an entry are hashed (email, phone, "
                    "names...) or refused (card numbers, national ids, passports, bank accounts)",
    )
    detect_pii: bool = Field(True, description="look for personal data by column name and by value; "
                                               "false: only the columns listed in pii are treated")
    min_segment_size: int = Field(10, ge=1)
    default_country_code: str = "44"
    sensitive: SensitiveConfig = Field(default_factory=SensitiveConfig)
    fairness: FairnessConfig = Field(default_factory=FairnessConfig)


class FeatureConfig(_Strict):
    """Feature settings."""

    windows: list[int] = Field(default_factory=lambda: [30, 90, 365])
    rfm_bins: int = Field(5, ge=2, le=10)
    #: The workspace's ``psychographics:`` section (scales, free-text questions), set by Config (issue 23).
    _psychographics: PsychographicsConfig | None = PrivateAttr(default=None)

    @field_validator("windows")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if not v or any(w <= 0 for w in v):
            raise ValueError("windows must be a non-empty list of positive day counts")
        return sorted(set(v))


_OFFSET_DATE = re.compile(r"([+-])(\d+)([dwmy])")


def _resolve_date(value: dt.date | str, today: dt.date) -> dt.date:
    """A date, or ``today`` / ``+1y`` / ``-120y`` / ``+6m`` / ``+30d`` / ``+2w`` counted from ``today``."""
    if isinstance(value, dt.date):
        return value
    text = value.strip().lower()
    if text == "today":
        return today
    m = _OFFSET_DATE.fullmatch(text)
    if m is None:
        return dt.date.fromisoformat(text)
    n = int(m.group(2)) * (1 if m.group(1) == "+" else -1)
    unit = m.group(3)
    if unit in "dw":
        return today + dt.timedelta(days=n * (7 if unit == "w" else 1))
    months = today.year * 12 + today.month - 1 + (n if unit == "m" else 12 * n)
    year, month = divmod(months, 12)
    if not 1 <= year <= 9999:
        raise ValueError(f"{value!r} is too far from today")
    # 29 February plus one year is 28 February: clamp to the month's last day
    last = (dt.date(year + (month == 11), (month + 1) % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month + 1, min(today.day, last))


class PlausibleDates(_Strict):
    """The range of dates ingest accepts and as-of dates may take (docs/config.md).

    Each end is a date (``1900-01-01``) or an offset from today (``today``, ``+1y``,
    ``-120y``, ``+6m``, ``+30d``, ``+2w``), so a default never goes stale.

    Examples
    --------
    >>> p = PlausibleDates()
    >>> p.bounds(dt.date(2024, 2, 29))
    (datetime.datetime(1900, 1, 1, 0, 0), datetime.datetime(2025, 3, 1, 0, 0))
    >>> PlausibleDates.model_validate({"from": "-10y", "to": "today"}).describe(dt.date(2024, 5, 1))
    '2014-05-01 to 2024-05-01'
    """

    from_: dt.date | str = Field("1900-01-01", alias="from",
                                 description="earliest plausible date: a date or an offset like -120y")
    to: dt.date | str = Field("+1y", description="latest plausible date (the whole day): a date or an offset "
                                                 "from today like +1y")

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _date_or_offset(cls, v: Any) -> dt.date | str:
        if isinstance(v, dt.datetime):
            v = v.date()
        try:
            if not isinstance(v, (dt.date, str)):
                raise ValueError
            _resolve_date(v, dt.date.today())
        except ValueError:
            raise ValueError(f"{v!r} is neither a date (YYYY-MM-DD) nor an offset from today such as +1y, "
                             "-120y, +6m, +30d or today") from None
        return v

    @model_validator(mode="after")
    def _ordered(self) -> "PlausibleDates":
        lo, hi = _resolve_date(self.from_, dt.date.today()), _resolve_date(self.to, dt.date.today())
        if lo > hi:
            raise ValueError(f"'from' ({lo}) is after 'to' ({hi})")
        return self

    def dates(self, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
        """The first and the last plausible day."""
        today = today or dt.date.today()
        lo, hi = _resolve_date(self.from_, today), _resolve_date(self.to, today)
        if lo > hi:
            raise ConfigError(f"ingest.plausible_dates: 'from' ({lo}) is after 'to' ({hi})")
        return lo, hi

    def bounds(self, today: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
        """``(first, end)`` as datetimes: a time is plausible when ``first <= t < end``."""
        lo, hi = self.dates(today)
        end = dt.datetime.max if hi == dt.date.max else dt.datetime.combine(hi + dt.timedelta(days=1), dt.time())
        return dt.datetime.combine(lo, dt.time()), end

    def describe(self, today: dt.date | None = None) -> str:
        lo, hi = self.dates(today)
        return f"{lo.isoformat()} to {hi.isoformat()}"


class IngestConfig(_Strict):
    """Ingest settings that hold for every source (docs/config.md)."""

    plausible_dates: PlausibleDates = Field(
        default_factory=PlausibleDates,
        description="rows with a date outside this range are quarantined as implausible_date; as-of dates "
                    "outside it are refused")


#: A memory size as DuckDB's ``memory_limit`` takes it: a number and a unit (checked in config and in the store).
MEMORY_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*")


class SparkConfig(_Strict):
    """Settings of the Spark backend (``engine.backend: spark``; docs/spark.md)."""

    master: str = Field("local[2]", description="local[N], local[*], spark://HOST:PORT, yarn or k8s://URL")
    warehouse: str | None = Field(
        None, description="where the Parquet tables live (a folder, hdfs:// or s3a:// URL); "
                          "null: .segmint/spark/warehouse in the workspace")
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="extra Spark settings (spark.executor.memory: 4g ...), applied "
                                          "before segmint's own fixed ones (UTC, ANSI, NaN handling)")

    @field_validator("master")
    @classmethod
    def _master(cls, v: str) -> str:
        if not re.fullmatch(r"local(\[(\d+|\*)\])?|yarn|(spark|k8s|mesos)://\S+", v):
            raise ValueError(f"{v!r} is not a Spark master; write local[2], local[*], spark://HOST:7077, "
                             "yarn or k8s://https://HOST:PORT")
        return v


class EngineConfig(_Strict):
    """Settings of the embedded DuckDB engine (docs/config.md)."""

    memory_limit: str | None = Field(
        "1GB",
        description="most memory DuckDB's buffer pool may hold (it counts in the process's memory); "
                    "larger intermediates spill to disk. null: DuckDB's default, 80% of the RAM",
    )
    threads: int | None = Field(None, ge=1, description="DuckDB's worker threads; null: one per core")
    # --- Spark backend (issue 22): docs/spark.md ---
    backend: Literal["duckdb", "spark"] = Field(
        "duckdb", description="the engine that holds the tables and runs the work: duckdb (a file in the "
                              "workspace) or spark (Parquet tables in a Spark warehouse; docs/spark.md)")
    spark: SparkConfig = Field(default_factory=lambda: SparkConfig())

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, v: str | None) -> str | None:
        if v is not None and not MEMORY_SIZE.fullmatch(v):
            raise ValueError(f"{v!r} is not a size; write a number and a unit, e.g. 1GB or 512MB "
                             "(null: DuckDB's default, 80% of the RAM)")
        return v


class ValidationConfig(_Strict):
    """Scorecard and profile settings (docs/config.md)."""

    max_rows: int | None = Field(
        100_000, ge=100,
        description="above this many customers, the scorecard's effect sizes and tests (and the profile's "
                    "differentiators) use a stratified sample of this many; null: every customer",
    )
    random_state: int = Field(0, description="seed of that sample and of the scorecard's resamples")


class ExportsConfig(_Strict):
    """How audiences are written out (``segmint members -o``, the API's export)."""

    neutralise_formulas: bool = Field(
        True, description="prefix CSV text cells that begin with = + - @ tab or CR with a single quote, so a "
                          "spreadsheet shows them as text (CSV injection); false: exact cells for machine consumers")


class ActivationConfig(_Strict):
    """How segments leave segmint for destinations (docs/activation.md)."""

    allow_http_hosts: list[str] = Field(
        default_factory=list,
        description="hosts a destination may reach over plain http besides loopback (127.0.0.1, ::1, "
                    "localhost); every other destination URL must be https")
    batch_size: int = Field(1000, ge=1, le=10_000, description="most changes in one webhook request or file")
    timeout_s: float = Field(15.0, gt=0, le=300, description="seconds a webhook receiver has to answer")
    worker_every_s: float = Field(5.0, gt=0, description="how often `segmint serve`'s delivery worker syncs")


class Config(_Strict):
    """The whole ``segmint.yaml``."""

    version: int = 1
    name: str = "segmint workspace"
    timezone: str = "UTC"
    currency: str = "GBP"
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    exports: ExportsConfig = Field(default_factory=ExportsConfig)
    segmentations: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # --- activation (issue 18) ---
    activation: ActivationConfig = Field(default_factory=ActivationConfig)
    destinations: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="name -> a destination (docs/activation.md): kind, segmentations, ...")
    # --- monitoring (issue 17) ---
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    # --- journeys and psychographics (issue 23): models in segmint.config_journeys ---
    journeys: JourneysConfig = Field(default_factory=JourneysConfig)
    psychographics: PsychographicsConfig = Field(default_factory=PsychographicsConfig)

    @model_validator(mode="after")
    def _features_see_psychographics(self) -> "Config":
        self.features._psychographics = self.psychographics  # the survey scales and topics are features
        return self
    retention: dict[str, RetentionRule] = Field(default_factory=dict,
                                                description="table -> how long its rows are kept (docs/privacy.md)")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; use an IANA name such as 'UTC' or 'Europe/London'")
        return v

    @field_validator("sources")
    @classmethod
    def _known_tables(cls, v: dict[str, SourceConfig]) -> dict[str, SourceConfig]:
        from segmint.contracts import CONTRACTS

        for name in v:
            if name not in CONTRACTS:
                raise ValueError(f"unknown table {name!r} in sources; {did_you_mean(name, CONTRACTS)}")
        return v

    @classmethod
    def load(cls, path: Path) -> "Config":
        """Read and validate a ``segmint.yaml`` file."""
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
        return cls.parse(raw, source=str(path))

    @classmethod
    def parse(cls, raw: dict[str, Any], source: str = "segmint.yaml") -> "Config":
        """Validate ``raw``, turning pydantic's errors into one readable :class:`ConfigError`."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(_explain(exc, source)) from None


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Find the pydantic model that owns the location ``loc`` (for key suggestions)."""
    model: type[BaseModel] | None = Config
    for part in loc[:-1]:
        if model is None:
            return None
        field = model.model_fields.get(str(part))
        if field is None:
            # a dict level (sources.<table>): the value model is the dict's value type
            continue
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        candidates = [a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = candidates[0] if candidates else None
    return model


def _explain(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc[:-1]) or "the top level"
        if err["type"] == "extra_forbidden":
            model = _model_at(loc)
            known = [f.alias or n for n, f in model.model_fields.items()] if model else []
            lines.append(f"unknown key {loc[-1]!r} at {where}; {did_you_mean(str(loc[-1]), known)}")
        else:
            path = ".".join(str(p) for p in loc) or "the top level"
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{path}: {msg}")
    return f"{source}: " + "; ".join(lines)


def render_default_yaml(name: str) -> str:
    """The commented ``segmint.yaml`` written by ``segmint init``."""
    return DEFAULT_YAML.format(name=name)


DEFAULT_YAML = """\
# segmint workspace configuration. Every key is optional; unknown keys are errors.
# Docs: docs/config.md
version: 1
name: {name}

# Time zone of timestamps that carry none (IANA name). Stored times are UTC.
timezone: UTC
currency: GBP

# Per-table ingest defaults: column mapping (canonical: source), presets, formats.
# sources:
#   orders:
#     map: {{order_id: InvoiceNo, customer_id: CustomerID, ordered_at: InvoiceDate}}
#     date_format: "%d/%m/%Y %H:%M"   # strptime format when dates are not ISO
#     decimal: "."                   # "," for amounts written 12,50
#     line_items: false              # true: one row per item; amounts summed per order
sources: {{}}

ingest:
  # Rows with a date outside this range are quarantined (implausible_date); as-of
  # dates outside it are refused. Each end: a date or an offset from today (+1y, -120y).
  plausible_dates: {{from: 1900-01-01, to: +1y}}

privacy:
  # Columns holding personal data (found by name or by value: email, phone, name,
  # address...) are replaced by keyed HMAC-SHA256 pseudonyms; card numbers, national
  # ids, passports and bank accounts stop the ingest until you choose. Per column:
  # hash | drop | keep, e.g. pii: {{card_number: drop, email: hash}}.
  detect_pii: true
  pii: {{}}
  # Aggregates of segments smaller than this are suppressed in reports and exports.
  min_segment_size: 10
  default_country_code: "44"   # for phone numbers written without one

features:
  windows: [30, 90, 365]   # day windows for orders/spend in the last N days
  rfm_bins: 5              # RFM scores 1..rfm_bins

# Segmentations (rules, rfm, cluster, tiers) are defined here or in segments/*.yaml.
segmentations: {{}}
"""
