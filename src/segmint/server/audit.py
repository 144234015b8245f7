"""The audit log, as the server uses it: :class:`segmint.activate.audit.AuditLog` (one table, one class, for the
API's exports and the CLI's alike)."""

from segmint.activate.audit import AuditLog

__all__ = ["AuditLog"]
