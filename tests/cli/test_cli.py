"""The command line as a user runs it: exit codes, messages, --json."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import invoke_cli


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
    monkeypatch.setenv("SEGMINT_SECRET", "test-secret-key-for-pseudonyms")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("SEGMINT_WORKSPACE", raising=False)

    def _run(*args: str, env_extra=None) -> Result:
        for k, v in (env_extra or {}).items():
            monkeypatch.setenv(k, v)
        return Result(*invoke_cli(capsys, args))

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


def test_init_makes_segments_and_prints_json(run, tmp_path):
    r = run("init", str(tmp_path / "a"), "--name", "Shop A", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["name"] == "Shop A" and info["workspace"] == str(tmp_path / "a")
    assert (tmp_path / "a" / "segments").is_dir() and (tmp_path / "a" / "reports").is_dir()
    assert info["store"].endswith("store.duckdb") and (tmp_path / "a" / ".segmint" / "store.duckdb").exists()


def test_init_takes_the_workspace_as_every_command_does(run, tmp_path):
    assert run("init", "-w", str(tmp_path / "b")).returncode == 0
    assert (tmp_path / "b" / "segmint.yaml").exists()
    r = run("init", env_extra={"SEGMINT_WORKSPACE": str(tmp_path / "c")})
    assert r.returncode == 0 and (tmp_path / "c" / "segmint.yaml").exists()
    r = run("init", str(tmp_path / "f"))  # DIR wins over $SEGMINT_WORKSPACE (still set)
    assert r.returncode == 0 and (tmp_path / "f" / "segmint.yaml").exists()
    r = run("init", str(tmp_path / "d"), "-w", str(tmp_path / "e"))
    assert r.returncode == 1 and "two folders" in r.stderr and not (tmp_path / "d").exists()


def test_token_commands_print_one_json_object(run, workspace):
    w = ["-w", str(workspace)]
    made = json.loads(run("token", "create", "--role", "viewer", "--name", "board", *w, "--json").stdout)
    assert made["name"] == "board" and made["token"].startswith("smt_") and made["active"]
    revoked = run("token", "revoke", "board", *w, "--json")
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout)["name"] == "board" and json.loads(revoked.stdout)["active"] is False
    listed = json.loads(run("token", "list", *w, "--json").stdout)
    assert listed == {"tokens": []}
    listed = json.loads(run("token", "list", "--all", *w, "--json").stdout)
    assert [t["name"] for t in listed["tokens"]] == ["board"] and "token" not in listed["tokens"][0]


def test_serve_no_serve_json(run, workspace):
    r = run("serve", "-w", str(workspace), "--demo-token", "--no-serve", "--port", "9123", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["api"] == "http://localhost:9123/api/v1" and info["demo_token"].startswith("smt_")
    assert info["serving"] is False


@pytest.fixture
def segmented(run, workspace, tmp_path):
    """A workspace with a few customers and one rules segmentation, run at two dates."""
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,customer_id,ordered_at,amount\n" + "".join(
        f"O{i},C{i % 6},2024-0{1 + i % 5}-1{i % 9},{10 + 7 * i}\n" for i in range(30)))
    assert run("ingest", "orders", str(orders), "-w", str(workspace)).returncode == 0
    (workspace / "segments" / "spend.yaml").write_text(
        "spend:\n  kind: rules\n  segments:\n    - {name: Big, where: monetary_total >= 300}\n  else: Small\n")
    for as_of in ("2024-04-01", "2024-07-01"):
        r = run("segment", "spend", "--as-of", as_of, "-w", str(workspace))
        assert r.returncode == 0, r.stderr
    return workspace


def test_segment_commands_print_one_json_object(run, segmented, tmp_path):
    w = ["-w", str(segmented)]
    listed = json.loads(run("segment", "--list", *w, "--json").stdout)
    assert [s["name"] for s in listed["segmentations"]] == ["spend"]
    hist = json.loads(run("history", "spend", *w, "--json").stdout)
    assert hist["segmentation"] == "spend" and {h["as_of"] for h in hist["history"]} == {"2024-04-01", "2024-07-01"}
    # this shop's customers carry no marketing consent: the export leaves them out unless asked
    mem = json.loads(run("members", "spend", "Big", *w, "--json", "--include-unconsented").stdout)
    assert mem["segment"] == "Big" and mem["members"] and all(m["segment"] == "Big" for m in mem["members"])
    r = run("members", "spend", "-o", str(tmp_path / "all.csv.gz"), *w, "--json")
    assert json.loads(r.stdout) == {"file": str(tmp_path / "all.csv.gz"), "rows": 0, "left_out_without_consent": 6}
    r = run("members", "spend", "-o", str(tmp_path / "all.csv.gz"), *w, "--json", "--include-unconsented")
    assert json.loads(r.stdout) == {"file": str(tmp_path / "all.csv.gz"), "rows": 6, "left_out_without_consent": 0}
    report = json.loads(run("report", "spend", "-o", str(tmp_path / "r.html"), *w, "--json").stdout)
    assert report["file"] == str(tmp_path / "r.html") and report["bytes"] == (tmp_path / "r.html").stat().st_size


def test_template_takes_the_name_of_the_new_definition(run, segmented):
    import yaml

    r = run("segment", "my_rfm", "--template", "rfm")
    assert r.returncode == 0 and "segments/my_rfm.yaml" in r.stdout
    assert list(yaml.safe_load(r.stdout)) == ["my_rfm"]
    (segmented / "segments" / "my_rfm.yaml").write_text(r.stdout)
    r = run("segment", "my_rfm", "--as-of", "2024-07-01", "-w", str(segmented), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kind"] == "rules"
    assert list(json.loads(run("segment", "--template", "rfm", "--json").stdout)) == ["rfm"]


def test_main_shows_unexpected_warnings_on_one_line_and_hides_none(capsys, monkeypatch):
    # main() ignored every RuntimeWarning for the whole process, hiding optimiser overflows (issue 14)
    import warnings

    import pytest

    from segmint import cli

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # restored after the test
    with warnings.catch_warnings():
        with pytest.raises(SystemExit):
            cli.main(["--help"])
        assert not any(f[0] == "ignore" and f[2] is RuntimeWarning for f in warnings.filters)
        assert warnings.showwarning is cli._show_warning
        cli._show_warning(RuntimeWarning("overflow encountered in exp"), RuntimeWarning, "/x/bgnbd.py", 12)
    err = capsys.readouterr().err
    assert "warning: overflow encountered in exp (RuntimeWarning, bgnbd.py:12)" in err
