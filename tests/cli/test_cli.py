"""The command line as a user runs it: exit codes, messages, --json."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def run_subprocess(*args: str) -> subprocess.CompletedProcess:
    """The real thing, for exit codes and tracebacks exactly as a shell sees them."""
    import os

    env = {**os.environ, "SEGMINT_SECRET": "test-secret-key-for-pseudonyms", "COLUMNS": "200"}
    env.pop("SEGMINT_WORKSPACE", None)
    return subprocess.run([sys.executable, "-m", "segmint.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def run(capsys, monkeypatch):
    """Run the CLI in this process (fast), with the exit code main() gives."""
    from segmint.cli import _state, main

    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("SEGMINT_WORKSPACE", raising=False)

    def _run(*args: str, env_extra=None) -> Result:
        for k, v in (env_extra or {}).items():
            monkeypatch.setenv(k, v)
        _state["debug"] = False
        capsys.readouterr()
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return _run


@pytest.fixture
def workspace(tmp_path, run):
    r = run("init", str(tmp_path / "shop"))
    assert r.returncode == 0, r.stderr
    return tmp_path / "shop"


def test_init_writes_a_commented_config(workspace):
    text = (workspace / "segmint.yaml").read_text()
    assert text.startswith("#") and "timezone: UTC" in text
    assert (workspace / ".segmint" / "store.duckdb").exists()


def test_init_twice_is_a_user_error(run, workspace):
    r = run("init", str(workspace))
    assert r.returncode == 1 and "already a segmint workspace" in r.stderr and "Traceback" not in r.stderr


def test_ingest_json_report(run, workspace, tmp_path):
    src = tmp_path / "orders.csv"
    src.write_text("order_id,customer_id,ordered_at,amount\nA1,C1,2024-01-01,3\nA2,C2,bad,4\n")
    r = run("ingest", "orders", str(src), "-w", str(workspace), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["rows_read"] == 2 and report["rows_accepted"] == 1 and report["rows_quarantined"] == 1
    assert report["quarantine_reasons"] == {"unparseable_ordered_at": 1}


def test_workspace_from_environment(run, workspace, tmp_path):
    r = run("status", "--json", env_extra={"SEGMINT_WORKSPACE": str(workspace)})
    assert r.returncode == 0, r.stderr
    assert {t["table"] for t in json.loads(r.stdout)["tables"]} >= {"customers", "orders"}


def test_status_tables(run, workspace):
    r = run("status", "-w", str(workspace))
    assert r.returncode == 0 and "orders" in r.stdout and "Quarantine: empty" in r.stdout


def test_not_a_workspace(run, tmp_path):
    r = run("status", "-w", str(tmp_path))
    assert r.returncode == 1 and "not a segmint workspace" in r.stderr and "segmint init" in r.stderr


def test_malformed_file_gives_a_message_not_a_traceback(workspace, tmp_path):
    src = tmp_path / "orders.csv"
    src.write_text("a,b\n1,2\n")
    r = run_subprocess("ingest", "orders", str(src), "-w", str(workspace))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "order_id" in r.stderr and "--map" in r.stderr


def test_debug_shows_the_traceback(workspace, tmp_path):
    src = tmp_path / "orders.csv"
    src.write_text("a,b\n1,2\n")
    r = run_subprocess("--debug", "ingest", "orders", str(src), "-w", str(workspace))
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_bad_usage_exit_code_2(run, workspace):
    r = run("ingest", "orders", "x.csv", "--no-such-option")
    assert r.returncode == 2


def test_bad_config_key_did_you_mean(run, workspace):
    cfg = workspace / "segmint.yaml"
    cfg.write_text(cfg.read_text() + "\ntimezon: UTC\n")
    r = run("status", "-w", str(workspace))
    assert r.returncode == 1 and "did you mean 'timezone'" in r.stderr


def test_bad_map_syntax(run, workspace, tmp_path):
    src = tmp_path / "orders.csv"
    src.write_text("order_id,customer_id,ordered_at,amount\n")
    r = run("ingest", "orders", str(src), "-w", str(workspace), "--map", "order_id")
    assert r.returncode == 1 and "canonical=source" in r.stderr


def test_the_command_line_starts_without_scikit_learn():
    # Importing scikit-learn takes about a second; commands that fit nothing (help, status, ingest, token)
    # must not pay it. segmint.errors builds NotFittedError (a scikit-learn NotFittedError too) on first use.
    code = ("import sys, segmint.cli, segmint.workspace, segmint.errors; "
            "print('sklearn' in sys.modules); "
            "from segmint.errors import NotFittedError; import sklearn.exceptions; "
            "print(issubclass(NotFittedError, sklearn.exceptions.NotFittedError))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]
