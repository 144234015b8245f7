"""The store applies the engine settings of segmint.yaml (memory bound, threads) and refuses bad ones."""

from __future__ import annotations

import pytest

from segmint.config import Config
from segmint.errors import ConfigError, WorkspaceError
from segmint.store import DEFAULT_MEMORY_LIMIT, Store


def setting(store: Store, name: str) -> str:
    return store.setting(name)


def test_default_bounds_the_buffer_pool(tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        assert DEFAULT_MEMORY_LIMIT == "1GB"
        assert setting(store, "memory_limit") == "953.6 MiB"  # DuckDB shows 10^9 bytes in MiB


def test_configured_limit_and_threads(tmp_path):
    with Store(tmp_path / "s.duckdb", memory_limit="512MB", threads=1) as store:
        assert setting(store, "memory_limit") == "488.2 MiB"
        assert setting(store, "threads") == "1"
    with Store(tmp_path / "s.duckdb", memory_limit=None) as store:
        # None keeps DuckDB's own default (a share of the machine's RAM), far above 1 GB here.
        assert setting(store, "memory_limit") not in {"953.6 MiB", "488.2 MiB"}


def test_bad_settings_are_refused_before_any_sql(tmp_path):
    with pytest.raises(WorkspaceError, match="not a size; write it as a number and a unit"):
        Store(tmp_path / "s.duckdb", memory_limit="1GB'; DROP TABLE orders; --")
    with pytest.raises(WorkspaceError, match="threads must be a whole number >= 1"):
        Store(tmp_path / "t.duckdb", threads=0)


def test_workspace_passes_its_engine_settings(ws, tmp_path):
    from segmint.workspace import Workspace

    (ws.path / "segmint.yaml").write_text("engine:\n  memory_limit: 256MB\n  threads: 1\n", encoding="utf-8")
    ws.close()
    with Workspace.open(ws.path) as again:
        assert setting(again.store, "memory_limit") == "244.1 MiB"
        assert setting(again.store, "threads") == "1"
    with pytest.raises(ConfigError, match="'lots' is not a size"):
        Config.parse({"engine": {"memory_limit": "lots"}})
