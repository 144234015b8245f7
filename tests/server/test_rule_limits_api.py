"""Rules past the parser's limits are a client error in the API, never a 500 (issue 15, Low)."""

from __future__ import annotations

import pytest

from .conftest import bearer


@pytest.mark.parametrize("where", ["(" * 300 + "frequency >= 1" + ")" * 300, "not " * 995 + "frequency >= 1",
                                   "frequency > 12345678901234567890123456789012345", "frequency > 1e999999"])
def test_rule_preview_refuses_rules_past_the_limits(client, tokens, where):
    r = client.post("/api/v1/rules/preview", json={"where": where}, headers=bearer(tokens["analyst"]))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] and "rule" in r.json()["error"]["message"]
