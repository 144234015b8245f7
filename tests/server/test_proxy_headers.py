"""X-Forwarded-For is believed only from configured proxies: uvicorn believes it from loopback by default, so a
client on the server's host could rotate it past the login backoff (issue 15, Low)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("proxies, believed", [([], False), (["10.0.0.7"], True)])
def test_the_runner_believes_forwarded_headers_only_from_trusted_proxies(shop, monkeypatch, proxies, believed):
    from segmint.server import Settings, runner

    seen = {}

    class Recorder:
        def __init__(self, config):
            seen["config"] = config

        def run(self):
            seen["ran"] = True

    monkeypatch.setattr(runner, "_server", lambda config, on_listening, on_stopped=None: Recorder(config))
    runner.serve(shop, Settings(port=8765, trusted_proxies=proxies))
    config = seen["config"]
    assert seen["ran"] and config.proxy_headers is believed
    if believed:
        config.load()  # uvicorn wraps the app in its proxy middleware, trusting only the listed address
        assert "10.0.0.7" in str(config.forwarded_allow_ips)


def test_serve_takes_trusted_proxies_from_the_command_line():
    from typer.testing import CliRunner

    from segmint.cli import app

    help_text = CliRunner().invoke(app, ["serve", "--help"]).output
    assert "--trusted-proxy" in help_text
