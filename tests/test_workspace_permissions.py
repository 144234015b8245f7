"""The store's folder is the owner's alone: store.duckdb was created world-readable (0644) beside a 0600 key
(issue 15, Low)."""

from __future__ import annotations

import stat

from segmint.workspace import Workspace


def test_the_state_folder_is_readable_by_its_owner_only(tmp_path):
    ws = Workspace.init(tmp_path / "shop")
    ws.close()
    state = tmp_path / "shop" / ".segmint"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert (state / "store.duckdb").exists()
