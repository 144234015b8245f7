"""Retention: rows older than the period are purged, recorded in the ledger, their bytes gone."""

from __future__ import annotations

import datetime as dt

import pytest

from segmint.config import RetentionRule
from segmint.errors import ConfigError

pytestmark = pytest.mark.db


def test_events_older_than_the_period_are_purged_and_recorded(shop):
    events = shop.store.table("events")
    now = dt.datetime(2026, 1, 1)
    shop.config.retention = {"events": RetentionRule(months=6)}
    old = int(events.filter(events.occurred_at < dt.datetime(2025, 7, 1)).count().execute())
    total = shop.store.count("events")
    assert 0 < old < total
    dry = shop.apply_retention(dry_run=True, now=now)
    assert dry["tables"]["events"]["rows"] == old and dry["rewritten"] is None
    assert shop.store.count("events") == total
    info = shop.apply_retention(now=now)
    assert info["rows"] == old and info["tables"]["events"]["before"] == "2025-07-01"
    assert info["rewritten"]["bytes_after"] > 0
    assert shop.store.count("events") == total - old
    entry = shop.erasure_ledger()[0]
    assert entry["action"] == "retention" and entry["tables"] == {"events": old}
    assert entry["details"]["events"]["months"] == 6
    assert shop.apply_retention(now=now)["rows"] == 0  # idempotent


def test_a_wrong_table_or_column_is_refused_with_the_choices(shop):
    shop.config.retention = {"evnets": RetentionRule(months=6)}
    with pytest.raises(ConfigError, match="did you mean 'events'"):
        shop.apply_retention()
    shop.config.retention = {"events": RetentionRule(months=6, column="event")}
    with pytest.raises(ConfigError, match="not a date or time; use one of occurred_at"):
        shop.apply_retention()


def test_the_cli(shop_path, capsys):
    from segmint.cli import main

    (shop_path / "segmint.yaml").write_text((shop_path / "segmint.yaml").read_text() +
                                            "\nretention:\n  quarantine: {months: 1}\n")
    with pytest.raises(SystemExit) as exit_:
        main(["retention", "apply", "--dry-run", "-w", str(shop_path)])
    assert exit_.value.code in (0, None)
    assert "quarantine" in capsys.readouterr().out


def test_refresh_purges_by_the_retention_periods_first(shop_path, capsys):
    import json

    from segmint.cli import main

    (shop_path / "segmint.yaml").write_text((shop_path / "segmint.yaml").read_text() +
                                            "\nretention:\n  events: {months: 1}\n")
    with pytest.raises(SystemExit) as exit_:
        main(["refresh", "--json", "-w", str(shop_path)])
    assert exit_.value.code in (0, None)
    info = json.loads(capsys.readouterr().out)
    assert info["retention"]["rows"] > 0 and info["retention"]["tables"]["events"]["months"] == 1
    assert info["retention"]["rewritten"]["bytes_after"] > 0
    from segmint.workspace import Workspace

    with Workspace.open(shop_path) as ws:
        assert ws.erasure_ledger()[0]["action"] == "retention"
        assert ws.erasure_ledger()[0]["who"] == "refresh"
