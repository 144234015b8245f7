"""The API contract (issue 15): ``schemathesis run --checks all`` against a live ``segmint`` server.

A real server process on 127.0.0.1 over the 300-customer shop, an admin token, every check
schemathesis has, over every operation of the served OpenAPI document (examples, coverage,
fuzzing and stateful phases), with a fixed seed and a bounded number of examples. The run
must finish without a single failure: every answer documented, schema-valid requests
accepted (or answered 404/409 where the schema says so), schema-violating ones rejected.

The exceptions the schema cannot express are in ``schemathesis.toml`` beside this file.
The login backoff is configured for the run: schemathesis sends hundreds of requests with
a wrong token and expects 401 to each, which the default backoff answers with 429 after
five (as it should: tests/server/test_auth.py and test_proxy_headers.py test the lockout,
and that a valid token still works behind it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .live import live_server

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Examples per operation and phase: about five minutes for the 42 operations on a quiet 2-core machine
#: (16 under a load average of 22).
EXAMPLES = "15"


def _admin_token(path: Path) -> str:
    from segmint.server.tokens import TokenStore
    from segmint.workspace import Workspace

    ws = Workspace.open(path)
    try:
        return TokenStore(ws.store).create("schemathesis-admin", "admin")[1]
    finally:
        ws.close()


#: Operations run on their own, after the main run: revoking tokens (the stateful phase would follow
#: GET /tokens to DELETE /tokens/{token_id} and revoke the run's own token half-way) and erasing customers
#: (each erasure rewrites the store's file, closing every cursor: docs/privacy.md).
ON_THEIR_OWN = ("DELETE /api/v1/tokens/{token_id}", "DELETE /api/v1/customers/{customer_id}")


def _schemathesis(port: int, token: str, cwd: Path, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run the CLI in ``cwd`` (it writes its .schemathesis/ cache there, not into the checkout)."""
    argv = ["--config-file", str(CONFIG), "run", f"http://127.0.0.1:{port}/api/v1/openapi.json",
            "--header", f"Authorization: Bearer {token}", "--checks", "all", "--seed", "1",
            "--max-examples", EXAMPLES, "--request-timeout", "60", "--no-color", *args]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "schemathesis.cli", *argv], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=cwd)


def test_schemathesis_checks_all_against_a_live_server(shop_path, tmp_path):
    token = _admin_token(shop_path)
    with live_server(shop_path, tmp_path / "server.log", failed_logins_allowed=1_000_000) as port:
        main = _schemathesis(port, token, tmp_path, *(a for name in ON_THEIR_OWN for a in ("--exclude-name", name)))
        alone = [_schemathesis(port, token, tmp_path, "--include-name", name) for name in reversed(ON_THEIR_OWN)]
    for result in (main, *alone):
        out = result.stdout + result.stderr
        assert result.returncode == 0, out[-12000:]  # schemathesis exits 1 on any failure
    out = main.stdout
    total = int(re.search(r"Selected: \d+/(\d+)", out).group(1))  # every operation of the document
    assert f"Selected: {total - 2}/{total}" in out and f"Tested: {total - 2}" in out, out[-3000:]
    assert total >= 42, out[-3000:]  # issue 15's 21 operations and wave 2's 21: none left out
    assert all("Tested: 1" in r.stdout for r in alone), [r.stdout[-3000:] for r in alone]
    assert "Authentication failed" not in out, out[-3000:]  # the token was never locked out or revoked
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log[-3000:]
