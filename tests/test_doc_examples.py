"""Every example of README.md and docs/*.md runs as written (the way scikit-learn and Datasette test their docs).

Each page runs in order, in a fresh temporary folder that holds what a checkout holds next to the docs
(``examples/``, and ``../shared/data`` when the real data sets are there):

* shell blocks (```bash, ```console, ```sh) line by line (a line ending in ``\\`` continues), each in its own
  ``bash`` with the venv's ``segmint`` first on PATH; variables a line sets or exports are kept for the
  next lines of the page (``set -a``), as in one terminal. ``curl`` goes through a wrapper that adds
  ``--fail-with-body`` (unless the line says ``--fail``), so an example that gets an HTTP error fails here;
  a ``segmint ... --json`` line whose output is not redirected must print one JSON object; a line ending in
  a lone ``&`` starts in the background as in a terminal (a ``segmint serve`` is waited for until it listens)
  and is stopped with Ctrl+C when the page ends;
* Python blocks (```python, and ``>>>`` doctest blocks) in one interpreter per page, one namespace, with the
  shell's environment;
* other blocks (yaml, json, text) are not run.

Markers, as HTML comments on the line(s) before a block:

* ``<!-- docs-test: skip (reason) -->``: the block cannot run as written (needs a real database, a cron,
  an interactive terminal...). Skipped blocks are counted and listed; a skip without a reason fails.
* ``<!-- docs-test: server -->``: the block talks to ``segmint serve``. The test creates an analyst and an
  admin token, starts ``segmint serve -w my-shop`` on a free port and exports ``T`` (analyst), ``ADMIN``
  and ``S`` (the API's base URL) as the page tells the reader to; the server stops before the next block
  that is not marked ``server``.

and once per page, anywhere (by habit at the top): ``<!-- docs-test: setup shop -->`` copies a shared small
shop into the page's folder first: ``shop-data/`` (``segmint generate shop-data --customers 2000 --seed 7``)
and ``my-shop/`` (initialised, the four tables ingested, ``examples/demo-segments.yaml`` in
``my-shop/segments/``), built once per session the way the README's quickstart builds it;
``setup shop-data`` copies only ``shop-data/``.

A failure names the page, the line and the command, with the tail of its output.
"""

from __future__ import annotations

import json
import os
import resource
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *(f"docs/{p}" for p in ("architecture.md", "workspace.md", "config.md", "ingest.md",
                                              "cli.md", "features.md", "segments.md", "api.md",
                                              "activation.md", "measurement.md", "monitoring.md", "journeys.md",
                                              "privacy.md"))]
SHELL = {"bash", "console", "sh", "shell"}
PYTHON = {"python", "py", "pycon"}
SETUPS = {"shop", "shop-data"}
SHOP_CUSTOMERS = 2000
COMMAND_TIMEOUT = 300
DIRECTIVE = re.compile(r"<!--\s*docs-test:\s*(?P<what>[a-z-]+)\s*(?P<rest>.*?)\s*-->")
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


# ---------------------------------------------------------------------------------------------------------
# Reading the pages


@dataclass
class Block:
    page: str
    line: int                    # line of the first code line in the page (1-based)
    lang: str
    lines: list[str]
    skip: str | None = None      # the reason, when marked skip
    server: bool = False

    @property
    def kind(self) -> str:
        if self.lang in SHELL:
            return "shell"
        if self.lang in PYTHON:
            return "doctest" if any(ln.lstrip().startswith(">>>") for ln in self.lines) else "python"
        return "other"

    def commands(self) -> list[tuple[int, str]]:
        """Shell commands with the page line each starts on; ``\\`` continues a line."""
        out, current, start = [], [], 0
        for offset, text in enumerate(self.lines):
            if not current:
                if not text.strip() or text.lstrip().startswith("#"):
                    continue
                if self.lang == "console":  # `$ command` lines; the others show its output
                    if not text.lstrip().startswith("$ "):
                        continue
                    text = text.lstrip()[2:]
                start = self.line + offset
            current.append(text)
            if not text.rstrip().endswith("\\"):
                out.append((start, "\n".join(current)))
                current = []
        if current:
            out.append((start, "\n".join(current)))
        return out


@dataclass
class Page:
    name: str
    blocks: list[Block]
    setup: str | None = None
    problems: list[str] = field(default_factory=list)   # markers that do not parse or lead nowhere


def read_page(name: str, text: str | None = None) -> Page:
    text = (ROOT / name).read_text(encoding="utf-8") if text is None else text
    page = Page(name, [])
    pending: list[tuple[int, str, str]] = []   # markers waiting for their block
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            fence, info = m["fence"], m["info"].strip()
            lang = info.split()[0].lower() if info else ""
            j, body = i + 1, []
            while j < len(lines) and not lines[j].strip().startswith(fence):
                body.append(lines[j][len(m["indent"]):] if lines[j].startswith(m["indent"]) else lines[j])
                j += 1
            block = Block(name, i + 2, lang, body)
            for at, what, rest in pending:
                if what == "skip":
                    reason = rest.strip().strip("()").strip()
                    if not reason:
                        page.problems.append(f"{name}:{at}: `docs-test: skip` needs a reason in parentheses")
                    block.skip = reason or "?"
                elif what == "server":
                    block.server = True
            pending = []
            page.blocks.append(block)
            i = j + 1
            continue
        # a marker is a line of its own (the docs may quote one in prose, in backticks)
        for d in DIRECTIVE.finditer(lines[i]) if lines[i].lstrip().startswith("<!--") else ():
            what, rest = d["what"], d["rest"]
            if what == "setup":
                if rest not in SETUPS:
                    page.problems.append(f"{name}:{i + 1}: unknown setup {rest!r} (one of {sorted(SETUPS)})")
                page.setup = rest
            elif what in ("skip", "server"):
                pending.append((i + 1, what, rest))
            else:
                page.problems.append(f"{name}:{i + 1}: unknown marker `docs-test: {what}`")
        if lines[i].strip() and not DIRECTIVE.fullmatch(lines[i].strip()) and pending:
            page.problems.append(f"{name}:{pending[0][0]}: a `docs-test` marker must come right before a block")
            pending = []
        i += 1
    if pending:
        page.problems.append(f"{name}:{pending[0][0]}: a `docs-test` marker must come right before a block")
    return page


# ---------------------------------------------------------------------------------------------------------
# Fast checks of the pages themselves (no commands run)


@pytest.mark.parametrize("name", PAGES)
def test_markers_are_well_formed(name):
    page = read_page(name)
    assert not page.problems, "\n".join(page.problems)
    for block in page.blocks:
        if block.server:
            assert block.kind == "shell", f"{name}:{block.line}: only shell blocks can be marked server"


@pytest.mark.parametrize("name", PAGES)
def test_commands_are_in_shell_blocks(name):
    """A block that shows `segmint ...` commands says it is shell, so the doc run runs it."""
    for block in read_page(name).blocks:
        if block.lang == "":
            first = next((ln for ln in block.lines if ln.strip()), "")
            assert not first.lstrip().startswith(("segmint ", "curl ", "$ ")) or first.startswith("segmint ["), \
                f"{name}:{block.line}: a command in a block without a language; write ```bash"


def test_skipped_blocks_are_counted_and_listed(capsys):
    skipped = [b for name in PAGES for b in read_page(name).blocks if b.skip]
    runnable = [b for name in PAGES for b in read_page(name).blocks if b.kind != "other"]
    with capsys.disabled():
        print(f"\n{len(runnable)} shell and Python blocks in the docs, {len(skipped)} of them skipped:")
        for b in skipped:
            print(f"  {b.page}:{b.line}: {b.skip}")
    assert all(b.skip and b.skip != "?" for b in skipped)
    assert len(skipped) < len(runnable) / 3, "most examples must run as written"


def test_json_lines_are_checked():
    assert _prints_json("segmint status -w my-shop --json")
    assert not _prints_json("segmint run -w my-shop --json > run.json")
    assert not _prints_json("curl -s --json '{}' $S/x")
    assert _is_one_json_object('{"a": [1]}') and not _is_one_json_object("[1]") and not _is_one_json_object("NaN")
    assert not _is_one_json_object('{"mean_rank": NaN}')


def test_parser_reads_markers_and_continuations():
    text = ("<!-- docs-test: setup shop -->\n# t\n\n<!-- docs-test: skip (needs a cron) -->\n```bash\n"
            "crontab -e\n```\n\n<!-- docs-test: server -->\n```bash\n# a comment\ncurl -s a \\\n   b\n"
            "echo x   # trailing\n```\n\n```python\n>>> 1 + 1\n2\n```\n")
    page = read_page("x.md", text)
    assert page.setup == "shop" and not page.problems
    skip, server, doc = page.blocks
    assert skip.skip == "needs a cron" and skip.line == 6
    assert server.server and server.commands() == [(12, "curl -s a \\\n   b"), (14, "echo x   # trailing")]
    assert doc.kind == "doctest"
    console = read_page("z.md", "```console\n$ segmint status \\\n    -w my-shop\nTables...\n$ ls\n```\n").blocks[0]
    assert console.commands() == [(2, "segmint status \\\n    -w my-shop"), (5, "ls")]
    bad = read_page("y.md", "<!-- docs-test: skip -->\n```bash\nls\n```\n<!-- docs-test: server -->\ntext\n")
    assert len(bad.problems) == 2


# ---------------------------------------------------------------------------------------------------------
# Running them


@dataclass
class Failure:
    page: str
    line: int
    command: str
    detail: str

    def __str__(self) -> str:
        command = self.command if len(self.command) < 300 else self.command[:300] + " ..."
        detail = "\n".join("    " + ln for ln in self.detail.rstrip().splitlines())
        return f"{self.page}:{self.line}: {command}\n{detail}"


def _tail(text: str, n: int = 15) -> str:
    lines = text.rstrip().splitlines()
    return "\n".join((["..."] if len(lines) > n else []) + lines[-n:])


CURL_WRAPPER = """#!/bin/sh
# The doc test's curl: an HTTP error fails the line (the docs' curl examples must succeed).
for a in "$@"; do
  case "$a" in --fail|--fail-with-body|--fail-early) exec {curl} "$@";; --*) ;; -*f*) exec {curl} "$@";; esac
done
exec {curl} --fail-with-body "$@"
"""


def _base_env(tmp: Path) -> dict[str, str]:
    bindir = tmp / "bin"
    bindir.mkdir(exist_ok=True)
    curl = shutil.which("curl")
    if curl:
        (bindir / "curl").write_text(CURL_WRAPPER.format(curl=curl))
        (bindir / "curl").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGMINT_") and k != "PYTEST_CURRENT_TEST"}
    # the venv's segmint (honours PYTHONPATH, so this checkout's code runs), then the wrapper, then the rest
    env["PATH"] = os.pathsep.join([str(bindir), str(Path(sys.executable).parent), env.get("PATH", "")])
    src = str(ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    env["COLUMNS"] = "160"
    env["NO_COLOR"] = "1"
    return env


def _segmint(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run([str(Path(sys.executable).parent / "segmint"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    assert proc.returncode == 0, f"setup: segmint {' '.join(args)} failed:\n{_tail(proc.stderr)}"
    return proc.stdout


@pytest.fixture(scope="session")
def shop(tmp_path_factory) -> Path:
    """The shared setup: a small generated shop ingested into my-shop, as the README's quickstart does."""
    base = tmp_path_factory.mktemp("docs-shop")
    env = _base_env(base)
    _segmint(["generate", "shop-data", "--customers", str(SHOP_CUSTOMERS), "--seed", "7"], base, env)
    _segmint(["init", "my-shop"], base, env)
    for table in ("customers", "orders", "events", "responses"):
        _segmint(["ingest", table, f"shop-data/{table}.csv", "-w", "my-shop"], base, env)
    shutil.copy(ROOT / "examples" / "demo-segments.yaml", base / "my-shop" / "segments")
    return base


class PythonSession:
    """One interpreter per page: blocks run in one namespace, with the page's shell environment."""

    MARK = "\x00docs-test-result "
    DRIVER = r'''
import contextlib, doctest, io, json, sys, traceback
MARK = "\x00docs-test-result "
ns = {"__name__": "__main__"}
for raw in sys.stdin:
    msg = json.loads(raw)
    if msg.get("close"):
        for value in list(ns.values()):   # a Workspace left open would hold the store for the next command
            close = getattr(value, "close", None)
            if type(value).__name__ == "Workspace" and callable(close):
                close()
        print(MARK + json.dumps({"ok": True}), flush=True)
        break
    padded = "\n" * (msg["line"] - 1) + msg["code"]
    result = {"ok": True}
    try:
        if msg["doctest"]:
            test = doctest.DocTestParser().get_doctest(msg["code"], ns, msg["page"], msg["page"], msg["line"] - 1)
            report = io.StringIO()
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
            runner.run(test, out=report.write, clear_globs=False)
            ns.update(test.globs)
            if runner.failures:
                result = {"ok": False, "error": report.getvalue(), "line": msg["line"]}
        else:
            exec(compile(padded, msg["page"], "exec"), ns)
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == msg["page"]]
        result = {"ok": False, "line": frames[-1].lineno if frames else msg["line"],
                  "error": "".join(traceback.format_exception(exc)[-12:])}
    sys.stdout.flush(); sys.stderr.flush()
    print(MARK + json.dumps(result), flush=True)
'''

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-u", "-c", self.DRIVER], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)

    def run(self, msg: dict) -> tuple[dict, str]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        output = []
        for line in self.proc.stdout:
            if line.startswith(self.MARK):
                return json.loads(line[len(self.MARK):]), "".join(output)
            output.append(line)
        return {"ok": False, "error": f"the interpreter exited ({self.proc.wait()})"}, "".join(output)

    def close(self) -> None:
        assert self.proc.stdin and self.proc.stdout
        if self.proc.poll() is None:
            self.run({"close": True})
        self.proc.stdin.close()
        self.proc.stdout.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Server:
    """``segmint serve`` in the background on a free port, with an analyst and an admin token."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.tokens = {}
        for role in ("analyst", "admin"):
            out = _segmint(["token", "create", "--role", role, "--name", f"docs-test-{role}-{time.time_ns()}",
                            "--json", "-w", "my-shop"], cwd, env)
            self.tokens[role] = json.loads(out)["token"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log = open(cwd / f".serve-{self.port}.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([str(Path(sys.executable).parent / "segmint"), "serve", "-w", "my-shop",
                                      "--port", str(self.port)], cwd=cwd, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}/api/v1"
        deadline = time.monotonic() + 120
        while True:
            try:
                req = urllib.request.Request(self.base + "/me",
                                             headers={"Authorization": f"Bearer {self.tokens['analyst']}"})
                with urllib.request.urlopen(req, timeout=5):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("segmint serve did not start:\n" + _tail(self.read_log())) from None
                time.sleep(0.3)

    def exports(self) -> dict[str, str]:
        return {"T": self.tokens["analyst"], "ADMIN": self.tokens["admin"], "S": self.base}

    def read_log(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@dataclass
class Run:
    page: str
    failures: list[Failure] = field(default_factory=list)
    ran: int = 0
    skipped: list[Block] = field(default_factory=list)
    skipped_lines: list[str] = field(default_factory=list)   # lines that read shared data this clone lacks


def _run_shell(command: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str, dict[str, str]]:
    envfile = cwd.parent / f".env-{cwd.name}"
    script = f"set -a\n{command}\n__docs_rc=$?\nenv -0 > {envfile}\nexit $__docs_rc\n"
    proc = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT)
    new_env = env
    if envfile.exists():
        new_env = dict(item.split("=", 1) for item in envfile.read_text().split("\0") if "=" in item)
        new_env.pop("__docs_rc", None)
        envfile.unlink()
    return proc.returncode, proc.stdout, proc.stderr, new_env


#: A line that ends with a lone ``&`` (and maybe a comment): a process the next lines talk to, such as a server.
BACKGROUND = re.compile(r"^(?P<command>.*?[^&])&\s*(#.*)?$", re.S)


def _start_background(command: str, cwd: Path, env: dict[str, str], n: int):
    """Start a background line with its output in a log file; a ``segmint serve`` is waited for until it listens
    (its ``.segmint/serve.json`` appears), so the next lines meet a running server. Stopped at the page's end."""
    cmd = BACKGROUND.match(command)["command"].strip()
    log = open(cwd.parent / f".background-{cwd.name}-{n}.log", "w")  # noqa: SIM115 - closed by _stop_background
    proc = subprocess.Popen(["bash", "-c", f"exec {cmd}"], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    if cmd.startswith("segmint serve"):
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline and not any(cwd.glob("*/.segmint/serve.json")):
            time.sleep(0.2)
    return proc, log


def _stop_background(proc: subprocess.Popen, log) -> int | None:
    """Stop a background line; its exit code when it had already ended (a failure unless 0), else None."""
    ended = proc.poll()
    if ended is None:
        proc.send_signal(signal.SIGINT)  # Ctrl+C, as a person stops it
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
    log.close()
    return ended


def _prints_json(command: str) -> bool:
    """A `segmint ... --json` line whose stdout the test sees (not redirected, not piped)."""
    return command.lstrip().startswith("segmint ") and " --json" in command and not re.search(r"[>|]", command)


def _is_one_json_object(text: str) -> bool:
    """Strict JSON: Python's reader accepts a bare NaN, which other JSON readers refuse."""
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    try:
        return isinstance(json.loads(text, parse_constant=refuse), dict)
    except ValueError:
        return False


def run_page(name: str, base: Path, shop_dir: Path | None) -> Run:
    page = read_page(name)
    cwd = base / Path(name).stem.lower()
    cwd.mkdir(parents=True)
    shutil.copytree(ROOT / "examples", cwd / "examples")
    from segmint.datasets.real import data_dir

    try:
        data = data_dir()
    except Exception:  # noqa: BLE001 - a clone without the shared data: the lines that read it fail
        data = None
    if data is not None and not (base / "shared").exists():
        (base / "shared").mkdir()
        (base / "shared" / "data").symlink_to(data)
    if page.setup:
        assert shop_dir is not None
        for folder in ("shop-data", "my-shop") if page.setup == "shop" else ("shop-data",):
            shutil.copytree(shop_dir / folder, cwd / folder, symlinks=True)
    env = _base_env(base)
    run = Run(name)
    python: PythonSession | None = None
    server: Server | None = None
    background: list = []
    try:
        for block in page.blocks:
            if block.kind == "other":
                continue
            if block.skip:
                run.skipped.append(block)
                continue
            if server is not None and not block.server:
                server.stop()
                server = None
            if block.kind == "shell":
                if block.server and server is None:
                    try:
                        server = Server(cwd, env)
                    except (RuntimeError, AssertionError) as exc:
                        run.failures.append(Failure(name, block.line, "(starting segmint serve for this block)",
                                                    str(exc)))
                        continue
                    env = {**env, **server.exports()}
                for line, command in block.commands():
                    if data is None and "../shared/data/" in command:
                        run.skipped_lines.append(f"{name}:{line}: {command} (no shared data: see "
                                                 "segmint.datasets.real.data_dir)")
                        continue
                    if BACKGROUND.match(command):
                        background.append((line, command, *_start_background(command, cwd, env, len(background))))
                        run.ran += 1
                        continue
                    rc, out, err, env = _run_shell(command, cwd, env)
                    run.ran += 1
                    if rc != 0:
                        detail = f"exit {rc}\n" + _tail(err or out)
                        if server is not None:
                            detail += "\nserver log:\n" + _tail(server.read_log(), 8)
                        run.failures.append(Failure(name, line, command, detail))
                    elif _prints_json(command) and not _is_one_json_object(out):
                        run.failures.append(Failure(name, line, command, "--json must print one JSON object on "
                                                    "stdout; it printed:\n" + _tail(out, 8)))
            else:
                if python is None:
                    python = PythonSession(cwd, env)
                result, output = python.run({"code": "\n".join(block.lines), "line": block.line,
                                             "page": name, "doctest": block.kind == "doctest"})
                run.ran += 1
                if not result["ok"]:
                    line = result.get("line", block.line)
                    source = (ROOT / name).read_text(encoding="utf-8").splitlines()[line - 1].strip()
                    run.failures.append(Failure(name, line, source, _tail(output, 5) + "\n" + result["error"]))
    finally:
        for line, command, proc, log in background:
            if _stop_background(proc, log) not in (None, 0):  # it failed on its own before the page ended
                run.failures.append(Failure(name, line, command, f"exit {proc.returncode} (in the background)\n"
                                            + _tail(Path(log.name).read_text(errors="replace"))))
        if python is not None:
            python.close()
        if server is not None:
            server.stop()
    return run


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.mark.slow
@pytest.mark.parametrize("name", PAGES)
def test_page_runs_as_written(name, tmp_path, request, capsys):
    page = read_page(name)
    shop_dir = request.getfixturevalue("shop") if page.setup else None
    t0, cpu0 = time.perf_counter(), _children_cpu()
    run = run_page(name, tmp_path, shop_dir)
    seconds, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    skipped = [f"{b.page}:{b.line}: {b.skip}" for b in run.skipped] + run.skipped_lines
    with capsys.disabled():
        # CPU seconds too: on a busy machine the wall time says more about the neighbours than the docs
        print(f"\n{name}: {run.ran} commands and Python blocks in {seconds:.0f} s ({cpu:.0f} s of CPU), "
              f"{len(run.failures)} failed, {len(skipped)} skipped" + "".join(f"\n  skipped {s}" for s in skipped))
    if run.failures:
        pytest.fail(f"{len(run.failures)} example(s) of {name} failed (of {run.ran} run):\n\n"
                    + "\n\n".join(map(str, run.failures)), pytrace=False)
