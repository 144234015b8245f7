"""The store: the only place that holds the engine's connection and sends SQL text.

* :mod:`segmint.store.engine`: :class:`Store`, the connection to the workspace's DuckDB
  file, its settings, canonical tables, transactions, per-thread cursors and deletes;
* :mod:`segmint.store.runs`, :mod:`segmint.store.tokens`, :mod:`segmint.store.audit`: the
  statements on the segmentations', the API tokens' and the audit log's tables
  (``store.runs``, ``store.tokens``, ``store.audit``);
* :mod:`segmint.store.sql`: every SQL text, with the DuckDB-only ones marked
  (:data:`segmint.store.sql.ENGINE_SPECIFIC`) and their portable equivalents named.

Everything else reads and writes through Ibis expressions on :attr:`Store.con`, or
through these methods (``tests/test_architecture.py`` holds the boundary).
"""

from segmint.store.engine import DEFAULT_MEMORY_LIMIT, LINEAGE, SYSTEM_TABLES, Store, canonical_schema

__all__ = ["Store", "canonical_schema", "DEFAULT_MEMORY_LIMIT", "LINEAGE", "SYSTEM_TABLES"]
