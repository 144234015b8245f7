"""The CLI while `segmint serve` runs: every command gives the answer it gives without a server.

Two identical copies of a workspace: every command runs on copy A with no server, and on copy
B while a real `segmint serve` (a subprocess) holds B, where the CLI sends its commands to the
server (src/segmint/remote.py, src/segmint/server/routes_cli.py). The answers (``--json``,
files, exit codes, error messages) must be equal, but for what legitimately differs: times,
random ids and token secrets. Also: the server answers its API afterwards and serves the run a
forwarded command stored; two CLI writers without a server both succeed (one waits); and the
control route's security (local clients with the secret only, errors as the CLI prints them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import DATES, bearer

SEGMINT = str(Path(sys.executable).with_name("segmint"))
SECRET_ENV = {"SEGMINT_SECRET": "test-secret-key-for-pseudonyms", "COLUMNS": "200"}
#: Keys whose values differ between two runs of the same command (times, random ids, secrets).
VOLATILE = {"seconds", "ingest_id", "token_id", "created_at", "token", "hint", "started_at", "finished_at",
            "stored_at", "peak_rss_mb", "total_seconds", "elapsed_s", "ingested_at",
            "age_seconds", "last_load"}  # freshness: how old the newest row is now, when it was loaded (issue 17)


def _scrub(obj):
    if isinstance(obj, dict):
        if "skipped" in obj:
            # which features were left out, not the words: the Gamma-Gamma fit on these data diverges, and
            # where it stops ("p ran off to 2.4e+06") varies from run to run, with or without a server
            obj = {**obj, "skipped": sorted(obj["skipped"])}
        return {k: ("<volatile>" if k in VOLATILE else _scrub(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    if isinstance(obj, float):  # DuckDB's parallel sums add in the order its threads finish: last digits vary
        return float(f"{obj:.10g}")
    return obj


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    env = {**os.environ, **SECRET_ENV}
    env.pop("SEGMINT_WORKSPACE", None)
    env.pop("SEGMINT_WAIT", None)
    return env


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli(cwd, *args) -> (exit code, stdout, stderr)``: the CLI in this process (as tests/cli does)."""
    from segmint.cli import _state, main

    for k, v in SECRET_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SEGMINT_WORKSPACE", raising=False)

    def run(cwd: Path, *args: str):
        _state["debug"] = False
        capsys.readouterr()
        monkeypatch.chdir(cwd)
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _start_server(path: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([SEGMINT, "serve", "-w", str(path), "--port", str(port),
                             "--serving-index-mb", "64"],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    serve_file = path / ".segmint" / "serve.json"
    deadline = time.monotonic() + 120
    while not serve_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"segmint serve did not start: {proc.communicate(timeout=30)[0]}")
        time.sleep(0.2)
    return proc


def _get_json(info: dict, path: str, token: str):
    request = urllib.request.Request(f"http://127.0.0.1:{info['port']}{path}", headers=bearer(token))
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(2)  # Ctrl+C: a clean shutdown
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.communicate(timeout=30)[0]


# The commands a user runs, in order; each runs on copy A (no server) and on copy B (served).
# The workspace is the current folder's `shop`, so paths in answers read the same.
# a new run (at the default as_of): the server must serve it afterwards
SEGMENT_RUN = ["segment", "value", "--json", "-w", "shop"]
TOKEN = ["token", "create", "--role", "admin", "--name", "colleague", "--json", "-w", "shop"]
WHY_ERROR = ["why", "value", "no-such-customer", "-w", "shop"]  # errors: the same message and exit code
SEGMENT_ERROR = ["segment", "no-such-segmentation", "-w", "shop"]
COMMANDS = [
    ["status", "--json", "-w", "shop"],
    ["segment", "--list", "--json", "-w", "shop"],
    # (a date of its own: the snapshots of DATES, which validate and profile read, stay as they were built,
    # since a CLV fit's last digits vary from one computation to the next, with or without a server)
    ["features", "--as-of", "2025-09-01", "--json", "-w", "shop"],
    SEGMENT_RUN,
    ["members", "value", "VIP", "--json", "-w", "shop"],
    ["members", "value", "-o", "out/members.csv", "--json", "-w", "shop"],  # a path relative to the client
    ["why", "value", "C0000004", "--json", "-w", "shop"],
    ["history", "value", "--json", "-w", "shop"],
    ["diff", "value", "--from", DATES[0], "--to", DATES[1], "--json", "-w", "shop"],
    ["validate", "value", "--as-of", DATES[1], "--json", "-w", "shop"],
    ["profile", "value", "--as-of", DATES[1], "--json", "-w", "shop"],
    ["report", "value", "--as-of", DATES[1], "-o", "out/value.html", "-w", "shop"],
    TOKEN,
    ["token", "create", "--role", "viewer", "--name", "temp", "--json", "-w", "shop"],
    ["token", "revoke", "temp", "-w", "shop"],
    ["token", "list", "--json", "-w", "shop"],
    ["ingest", "customers", "new_customers.csv", "--json", "-w", "shop"],
    ["run", "--as-of", "2025-09-01", "--no-reports", "--json", "-w", "shop"],
    ["status", "--json", "-w", "shop"],
    WHY_ERROR,
    SEGMENT_ERROR,
]


def _comparable(args: list[str], text: str):
    """What must be equal: JSON but for times, ids and secrets; text but for token ids."""
    if args[0] == "run":  # its stage details hold the scorecard of a fresh snapshot (see "features" above)
        doc = json.loads(text)
        return doc["segmentations"], [s["stage"] for s in doc["stages"]]
    if "--json" in args:
        return _scrub(json.loads(text))
    return re.sub(r"\(id [0-9a-f]+\)", "(id ...)", text)


@pytest.mark.slow
def test_every_command_answers_the_same_with_and_without_serve(shop_template, tmp_path, cli):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        shutil.copytree(shop_template, folder / "shop")
        (folder / "out").mkdir()
        (folder / "new_customers.csv").write_text(
            "customer_id,email,signup_at,country\nN0001,new1@example.com,2025-11-02,Germany\n"
            "N0002,new2@example.com,2025-11-03,France\nC0000004,,not-a-date,Spain\n")
    answers_a = [cli(a, *args) for args in COMMANDS]
    expected = [1 if args in (WHY_ERROR, SEGMENT_ERROR) else 0 for args in COMMANDS]
    assert [code for code, _, _ in answers_a] == expected, [err for _, _, err in answers_a]
    assert json.loads(answers_a[COMMANDS.index(TOKEN)][1])["role"] == "admin"

    proc = _start_server(b / "shop", _free_port())
    try:
        info = json.loads((b / "shop" / ".segmint" / "serve.json").read_text())
        assert (b / "shop" / ".segmint" / "serve.json").stat().st_mode & 0o777 == 0o600
        assert info["pid"] == proc.pid and info["workspace"] == str((b / "shop").resolve())
        answers_b = [cli(b, *args) for args in COMMANDS]

        for args, (code_a, out_a, err_a), (code_b, out_b, err_b) in zip(COMMANDS, answers_a, answers_b):
            where = " ".join(args)
            assert "(through segmint serve (pid" in err_b, where
            assert code_a == code_b, f"{where}: {code_a} vs {code_b}\n{err_a}\n{err_b}"
            if code_a == 0:
                ca, cb = _comparable(args, out_a), _comparable(args, out_b)
                assert ca == cb, f"{where}: {json.dumps(ca)}\n!= {json.dumps(cb)}"
            else:
                assert out_a == out_b, where
            if "--json" not in args:  # the messages too (with --json, stderr holds progress lines with times)
                lines_b = [ln for ln in err_b.splitlines() if not ln.startswith("(through segmint serve")]
                messages_b = _comparable(args, "\n".join(lines_b))
                assert _comparable(args, err_a).splitlines() == messages_b.splitlines(), where
        assert "error: customer 'no-such-customer'" in answers_b[COMMANDS.index(WHY_ERROR)][2]
        assert (a / "out" / "members.csv").read_bytes() == (b / "out" / "members.csv").read_bytes()
        assert (b / "out" / "value.html").stat().st_size > 10_000
        assert not (b / "shop" / "out").exists()  # relative to the client's folder, not the workspace's

        # A real `segmint` process as a user runs it, and the server still answers its API.
        r = subprocess.run([SEGMINT, "status", "--json"], cwd=b / "shop", env=_env(), capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0 and json.loads(r.stdout)["name"] == "shop", r.stderr
        token = json.loads(answers_b[COMMANDS.index(TOKEN)][1])["token"]
        run = json.loads(answers_b[COMMANDS.index(SEGMENT_RUN)][1])
        assert run["as_of"] not in DATES  # a run on a new date, stored by the forwarded command
        looked_up = _get_json(info, "/api/v1/customers/C0000004?segmentation=value", token)
        membership = looked_up["memberships"][0]
        assert membership["as_of"] == run["as_of"] and membership["version"] == run["version"], looked_up
        # and the serving index holds that run (it refreshes after every forwarded command)
        deadline, indexed = time.monotonic() + 60, {}
        while indexed.get("as_of") != run["as_of"] and time.monotonic() < deadline:
            time.sleep(0.2)
            indexed = _get_json(info, "/api/v1/serving-index", token)["segmentations"].get("value", {})
        assert indexed["as_of"] == run["as_of"] and indexed["current"], indexed
        audit = _get_json(info, "/api/v1/audit?action=cli", token)
        assert any(e["target"].startswith("segment value") for e in audit)
        assert info["secret"] not in json.dumps(audit)

        # `segmint serve` beside the running one names it instead of starting.
        code, out, err = cli(b, "serve", "-w", "shop", "--port", str(_free_port()))
        assert code == 1 and f"pid {proc.pid}" in err and "already serves" in err
    finally:
        log = _stop(proc)
    assert info["secret"] not in log
    assert not (b / "shop" / ".segmint" / "serve.json").exists()  # removed when the server stops
    assert cli(b, "status", "--json", "-w", "shop")[0] == 0  # and the CLI opens the store itself again


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", [2, 15])  # Ctrl+C, and the SIGTERM of a service manager
def test_the_serve_file_goes_with_the_server(shop_template, tmp_path, signal_number):
    # uvicorn re-raises the signal it caught once it has shut down, which skipped the `finally` that removed
    # the file: the next command then had to find it stale
    shutil.copytree(shop_template, tmp_path / "shop")
    proc = _start_server(tmp_path / "shop", _free_port())
    proc.send_signal(signal_number)
    log = proc.communicate(timeout=60)[0]  # waits for the end, and closes the pipe
    assert not (tmp_path / "shop" / ".segmint" / "serve.json").exists(), log


@pytest.mark.slow
def test_two_cli_writers_without_a_server_both_succeed(shop_template, tmp_path):
    shutil.copytree(shop_template, tmp_path / "shop")
    ws = str(tmp_path / "shop")
    # Another process holds the store until both writers say they wait for it; then each gets its turn.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from segmint.workspace import Workspace; "
         "w = Workspace.open(sys.argv[1]); w.store; print('holding', flush=True); sys.stdin.read()", ws],
        env=_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    writers = [subprocess.Popen([SEGMINT, "token", "create", "--role", "viewer", "--name", f"w{i}", "--json",
                                 "-w", ws], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for i in (1, 2)]
    first_lines = [w.stderr.readline() for w in writers]
    holder.communicate("", timeout=30)
    results = [(w.wait(120), *w.communicate(timeout=120)) for w in writers]
    for line in first_lines:
        assert f"waiting for process {holder.pid} that holds the workspace store" in line
    for code, out, err in results:
        assert code == 0, err
        assert json.loads(out)["role"] == "viewer"
        assert "Traceback" not in err and "is in use by another" not in err
    r = subprocess.run([SEGMINT, "token", "list", "--json", "-w", ws], env=_env(), capture_output=True,
                       text=True, timeout=120)
    assert {"w1", "w2"} <= {t["name"] for t in json.loads(r.stdout)["tokens"]}


# -- the serve file ---------------------------------------------------------------------------------------
def _info(path: Path, pid: int, **kw):
    from segmint.remote import ServeInfo

    base = dict(pid=pid, host="127.0.0.1", port=_free_port(), url="http://localhost:1/", started_at="now",
                workspace=str(path.resolve()), secret="s" * 40, version="0")
    return ServeInfo(**{**base, **kw})


def test_a_stale_serve_file_is_ignored_and_removed(ws, cli):
    from segmint.remote import ServeFile, find_server

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ServeFile(ws.path).write(_info(ws.path, dead.pid))
    ws.close()
    assert find_server(ws.path) is None and not ServeFile(ws.path).path.exists()
    # a copied workspace carries the original's file: it names another folder
    ServeFile(ws.path).write(_info(ws.path, os.getppid(), workspace="/elsewhere/shop"))
    assert find_server(ws.path) is None and not ServeFile(ws.path).path.exists()
    # a live pid whose server does not answer: the command opens the store itself (and removes the file)
    ServeFile(ws.path).write(_info(ws.path, os.getppid()))
    code, out, err = cli(ws.path.parent, "status", "--json", "-w", ws.path.name)
    assert code == 0, err
    assert json.loads(out)["name"] == "shop" and not ServeFile(ws.path).path.exists()


# -- the control route ------------------------------------------------------------------------------------
SECRET = "control-secret-for-tests-0123456789"


@pytest.fixture
def control(shop, tokens):
    """``control(client=(host, port)) -> TestClient`` over the shop with a control secret."""
    from fastapi.testclient import TestClient

    from segmint.server import Settings, create_app

    app = create_app(shop, Settings(), control_secret=SECRET)
    clients = []

    def make(client=("127.0.0.1", 50000)):
        c = TestClient(app, client=client)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def _body(shop_path: Path, *argv: str, **kw) -> dict:
    from segmint import __version__

    return {"argv": list(argv), "cwd": str(shop_path.parent), "workspace": str(shop_path.resolve()),
            "env": SECRET_ENV, "pid": 1, "user": "tester", "version": __version__, **kw}


def _lines(response) -> tuple[int, str, str]:
    out, err, code = [], [], None
    for line in response.text.splitlines():
        msg = json.loads(line)
        if "exit" in msg:
            code = msg["exit"]
        else:
            (out if msg["stream"] == "out" else err).append(msg["text"])
    return code, "".join(out), "".join(err)


def test_control_route_runs_a_command_and_returns_errors_as_the_cli_prints_them(control, shop_path, tokens):
    c = control()
    r = c.post("/api/v1/cli", json=_body(shop_path, "segment", "--list", "--json", "-w", "shop"),
               headers={"x-segmint-control": SECRET})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    code, out, err = _lines(r)
    assert code == 0 and [s["name"] for s in json.loads(out)["segmentations"]] == ["value"]
    r = c.post("/api/v1/cli", json=_body(shop_path, "why", "value", "nobody", "-w", "shop"),
               headers={"x-segmint-control": SECRET})
    code, out, err = _lines(r)
    assert r.status_code == 200 and code == 1 and out == ""
    assert err.startswith("error: customer 'nobody'") and "Traceback" not in err
    r = c.post("/api/v1/cli", json=_body(shop_path, "status", "-w", "/somewhere/else"),
               headers={"x-segmint-control": SECRET})
    code, out, err = _lines(r)
    assert code == 1 and "error: " in err and "/somewhere/else" in err
    audit = c.get("/api/v1/audit", params={"action": "cli"}, headers=bearer(tokens["admin"])).json()
    assert [e["who"] for e in audit[:3]] == ["cli:tester"] * 3 and audit[0]["details"]["exit_code"] == 1
    assert SECRET not in json.dumps(audit)


def test_control_route_refuses_remote_clients_tokens_and_wrong_secrets(control, shop_path, tokens, caplog):
    body = _body(shop_path, "token", "create", "--role", "admin", "--name", "intruder", "-w", "shop")
    remote = control(client=("203.0.113.9", 40000))  # even with the secret, and the server bound to 0.0.0.0
    assert remote.post("/api/v1/cli", json=body, headers={"x-segmint-control": SECRET}).status_code == 403
    local = control()
    for headers in ({}, {"x-segmint-control": "wrong"}, bearer(tokens["admin"]),
                    {"x-segmint-control": SECRET[:-1]}):
        r = local.post("/api/v1/cli", json=body, headers=headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    other = {**body, "version": "0.0.0-other"}
    r = local.post("/api/v1/cli", json=other, headers={"x-segmint-control": SECRET})
    assert r.status_code == 409 and "restart the server" in r.json()["error"]["message"]
    names = [t["name"] for t in local.get("/api/v1/tokens", headers=bearer(tokens["admin"])).json()]
    assert "intruder" not in names
    assert SECRET not in caplog.text
    doc = local.get("/api/v1/openapi.json", headers=bearer(tokens["viewer"])).json()
    assert "/api/v1/cli" not in doc["paths"]


def test_control_route_is_off_without_a_secret(make_client, shop_path):
    client = make_client()
    r = client.post("/api/v1/cli", json=_body(shop_path, "status"), headers={"x-segmint-control": ""})
    assert r.status_code == 404
