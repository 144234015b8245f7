"""The ingest report: every row read is accepted or quarantined, by reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from segmint.ingest.checks import describe_reason


@dataclass
class IngestReport:
    """What one ingest did.

    ``rows_read == rows_accepted + rows_quarantined`` always holds; accepted rows are
    new, updated (same key, new values) or already present (identical to the store).

    Examples
    --------
    >>> r = IngestReport("orders", "orders.csv", rows_read=3, rows_new=2, rows_quarantined=1,
    ...                  quarantine_reasons={"missing_amount": 1})
    >>> r.rows_accepted
    2
    >>> r.balanced
    True
    """

    table: str
    source: str
    rows_read: int = 0
    rows_new: int = 0
    rows_updated: int = 0
    rows_already_present: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    quarantine_already_recorded: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    attribute_columns: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    #: column -> hashed | dropped | kept, for every column holding personal data
    pii: dict[str, str] = field(default_factory=dict)
    #: column -> how it was found (kind, by name or values, evidence without values) and the setting used
    pii_found: dict[str, dict] = field(default_factory=dict)
    #: how accepted rows were written: upsert, append or replace (``--mode``)
    mode: str = "upsert"
    #: stored rows that ``--mode replace`` removed (their keys are not in this source)
    rows_removed: int = 0
    #: SQL sources read with --since-column: the column, the mark read from and the new high-water mark
    since_column: str | None = None
    since: str | None = None
    high_water: str | None = None
    orders_built: int | None = None
    customers_added: int | None = None
    ingest_id: str = ""
    seconds: float = 0.0

    @property
    def rows_accepted(self) -> int:
        return self.rows_new + self.rows_updated + self.rows_already_present

    @property
    def rows_unchanged(self) -> int:
        """Accepted rows identical to the stored row of their key (nothing written for them)."""
        return self.rows_already_present

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_accepted + self.rows_quarantined

    def to_dict(self) -> dict:
        """JSON-ready dict (the ``--json`` output of ``segmint ingest``)."""
        d = asdict(self)
        d["rows_accepted"] = self.rows_accepted
        d["rows_unchanged"] = self.rows_unchanged
        d["quarantine_reason_descriptions"] = {k: describe_reason(k) for k in self.quarantine_reasons}
        return d
