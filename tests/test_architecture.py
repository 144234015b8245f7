"""The layer order of segmint's modules and the store boundary, checked on the source.

Every module under src/segmint is parsed with ``ast``; every import counts, at module
level or inside a function (an import inside a function is still a dependency; hiding one
there is how the two cycles this test now forbids went unnoticed). Imports under
``if TYPE_CHECKING:`` never run and are left out.

The rules (docs/architecture.md draws them):

1. A module imports only modules of its own layer or of the layers below (:data:`LAYERS`).
2. The interfaces (CLI, server) import the workspace façade, the foundation and each
   other, never the layers in between, except the edges listed in :data:`EXCEPTIONS`,
   each with its reason. An exception that no import uses any more fails too, so the list
   shrinks as the code is cleaned.
3. No import cycles between modules.
4. Only the store package holds the engine's connection or sends SQL text
   (:func:`test_only_the_store_sends_sql`).
"""

from __future__ import annotations

import ast
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "segmint"

#: The layers, lowest first. A module belongs to the layer of the first pattern it matches.
LAYERS: list[tuple[str, list[str]]] = [
    # Imported by everything: errors, the console, contracts and configuration; ``segmint`` itself
    # only for ``__version__`` (see ROOT_NAMES).
    ("foundation", ["segmint._nan", "segmint.errors", "segmint.console", "segmint.contracts", "segmint.config",
                    "segmint._estimator", "segmint.paths", "segmint.config_journeys",
                    # a pure text function (which CSV cells a spreadsheet would run), for every CSV writer
                    "segmint.activate.csvcells",
                    # monitoring (issue 17): the `monitoring:` section's pydantic models, part of segmint.yaml's
                    "segmint.monitor.settings",
                    # Wilson's interval, one copy for funnels, membership churn and campaign read-outs
                    "segmint.intervals"]),
    ("store", ["segmint.store", "segmint.store.*"]),
    ("data", ["segmint.ingest", "segmint.ingest.*", "segmint.features", "segmint.features.*", "segmint.clv",
              "segmint.clv.*", "segmint.datasets", "segmint.datasets.*", "segmint.status",
              # consent, CSV cells and the audit log: rules every export path (CLI, API, destinations) shares
              "segmint.activate", "segmint.activate.*",
              # journeys (sessions, paths, funnels) and text (scales, embeddings, topics): issue 23
              "segmint.journeys", "segmint.journeys.*", "segmint.text", "segmint.text.*",
              # privacy (issue 20): erasure, ledger, retention, keys, the sensitive-attribute policy (which ingest
              # and the segment runs use) and the fairness table (NumPy, pandas and fairlearn over given labels)
              "segmint.privacy", "segmint.privacy.*"]),
    ("segment", ["segmint.segment", "segmint.segment.*"]),
    ("judge", ["segmint.evaluate", "segmint.evaluate.*", "segmint.profile", "segmint.profile.*", "segmint.report",
               "segmint.report.*",
               # measurement (issue 19): campaigns, holdouts, lift, uplift, lookalikes
               "segmint.measure", "segmint.measure.*"]),
    # monitoring (issue 17): refresh, drift, KPIs, model health, freshness, alerts over stored runs
    ("monitor", ["segmint.monitor", "segmint.monitor.*"]),
    ("workspace", ["segmint.workspace", "segmint.frame_cache"]),
    ("interface", ["segmint.cli", "segmint.cli.*", "segmint.cli_*", "segmint.server", "segmint.server.*",
                   "segmint.docs_gen", "segmint.remote"]),
]
ORDER = [name for name, _ in LAYERS]

#: What any module may import from the root package ``segmint`` (whose own imports are the public API, lazily).
ROOT_NAMES = {"__version__"}

#: The interfaces may import these layers (and their own) and nothing else, but for EXCEPTIONS.
INTERFACE_MAY_IMPORT = {"foundation", "workspace", "interface"}


@dataclass(frozen=True)
class Exception_:
    importer: str  # fnmatch pattern of the importing module
    imported: str  # fnmatch pattern of the imported module
    reason: str


#: Edges against the rules that are allowed, each with why. Read-only helpers first; then what the
#: rest of issue 14 (the service split) removes: delete those lines as the imports go.
EXCEPTIONS: list[Exception_] = [
    Exception_("segmint.cli", "segmint.datasets",
               "`segmint generate` writes a demo shop's files before any workspace exists"),
    Exception_("segmint.cli", "segmint.ingest.checks",
               "read-only: the reason codes' descriptions for the quarantine table of `segmint status`"),
    Exception_("segmint.docs_gen", "segmint.ingest.checks",
               "read-only: renders the reason codes into docs/ (a documentation tool, not a command)"),
    Exception_("segmint.cli_features", "segmint.features.catalog",
               "read-only: `segmint features --list` prints the feature catalog (constants)"),
    Exception_("segmint.cli_segments", "segmint.segment.rfm_template",
               "read-only: `segmint segment --template` prints a template (constants)"),
    Exception_("segmint.cli_segments", "segmint.segment.export",
               "read-only: the export file formats (format_of, write_members) of `segmint members -o`"),
    Exception_("segmint.cli_campaign", "segmint.segment.export",
               "read-only: the same export file writer for `segmint campaign members/audience -o` (issue 19)"),
    Exception_("segmint.cli_report", "segmint.report",
               "read-only: printing the scorecard, profile and personas the workspace returns"),
    Exception_("segmint.cli_report", "segmint.profile",
               "read-only: printing the personas the workspace returns"),
    Exception_("segmint.server.serving", "segmint.segment.membership",
               "the serving index's freshness counter (membership.writes), read on the look-up's hot path"),
    Exception_("segmint.server.serving", "segmint.segment.reasons",
               "read-only: renders the stored reasons exactly as the look-up's store path does"),
    Exception_("segmint.server.audit", "segmint.activate.audit",
               "the audit log's class lives beside the consent rule, for the CLI's exports and the API's alike"),
    Exception_("segmint.server.data", "segmint.profile.naming",
               "read-only: whether a segment label is a name a person gave (a pure function of the text)"),
    Exception_("segmint.server.app", "segmint.segment.service",
               "the app keeps one RunCache (which stored run a look-up reads) for the look-up's hot path"),
    Exception_("segmint.server.serving", "segmint.segment.service",
               "the serving index reads stored models through service.stored_model on its refresh thread"),
    # issue 23: topics choose k by the same evidence as cluster segmentations (pure functions over arrays)
    Exception_("segmint.text.topics", "segmint.segment.kselect",
               "topics choose k by the segmentations' rule: bootstrap stability gate, then the silhouette"),
]


# -- the import graph ---------------------------------------------------------------------------------
def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    names: tuple[str, ...] = ()


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Lines of ``if TYPE_CHECKING:`` blocks (their imports never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _resolve(name: str) -> str | None:
    """The segmint module ``name`` refers to (a name inside a module resolves to the module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> list[Import]:
    """Every import of a segmint module in ``module``, wherever it is written."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [(a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # ``from pkg import sub`` imports the submodule; ``from mod import name`` the module.
            targets = [(f"{base}.{a.name}", ()) if f"{base}.{a.name}" in MODULES else (base, (a.name,))
                       for a in node.names]
        else:
            continue
        for name, names in targets:
            if name == "segmint" or name.startswith("segmint."):
                target = _resolve(name)
                if target and target != module:
                    found.append(Import(module, target, node.lineno, names))
    return found


ALL_IMPORTS = [imp for module in MODULES for imp in imports_of(module)]


def layer_of(module: str) -> str:
    for name, patterns in LAYERS:
        if any(fnmatch.fnmatchcase(module, p) for p in patterns):
            return name
    raise AssertionError(f"{module} has no layer: add it to LAYERS in tests/test_architecture.py "
                         "(and to the picture in docs/architecture.md)")


def _excepted(imp: Import) -> Exception_ | None:
    return next((e for e in EXCEPTIONS if fnmatch.fnmatchcase(imp.importer, e.importer)
                 and (fnmatch.fnmatchcase(imp.imported, e.imported)
                      or fnmatch.fnmatchcase(imp.imported, e.imported + ".*"))), None)


def violation(imp: Import) -> str | None:
    """Why ``imp`` breaks the layer order, or None."""
    if imp.imported == "segmint":
        if imp.importer != "segmint" and not set(imp.names) <= ROOT_NAMES:
            return f"imports {sorted(set(imp.names) - ROOT_NAMES)} from the root package (only {sorted(ROOT_NAMES)})"
        return None
    if imp.importer == "segmint":
        return None  # the public API re-exports the layers
    mine, theirs = layer_of(imp.importer), layer_of(imp.imported)
    if ORDER.index(theirs) > ORDER.index(mine):
        return f"{mine} imports {theirs}, a layer above it"
    if mine == "interface" and theirs not in INTERFACE_MAY_IMPORT:
        return f"the interfaces call the workspace, not the {theirs} layer"
    return None


# -- the tests ----------------------------------------------------------------------------------------
def test_every_module_has_a_layer():
    for module in MODULES:
        if module != "segmint":
            layer_of(module)


def test_imports_follow_the_layer_order():
    bad = []
    for imp in ALL_IMPORTS:
        why = violation(imp)
        if why and _excepted(imp) is None:
            bad.append(f"{MODULES[imp.importer].relative_to(SRC)}:{imp.line}: {imp.importer} -> {imp.imported}: {why}")
    assert not bad, ("imports against the layer order (tests/test_architecture.py, docs/architecture.md); "
                     "move the code, go through Workspace, or add an exception with its reason:\n" + "\n".join(bad))


def test_every_exception_is_still_needed():
    used = {_excepted(imp) for imp in ALL_IMPORTS if violation(imp)}
    stale = [f"{e.importer} -> {e.imported}" for e in EXCEPTIONS if e not in used]
    assert not stale, "exceptions no import needs any more; delete them from EXCEPTIONS: " + ", ".join(stale)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in ALL_IMPORTS:
        # ``segmint`` (the lazy public API) and ``from segmint import __version__`` would tie every
        # module into one cycle through the root; the layer test checks what is taken from it.
        if "segmint" not in (imp.importer, imp.imported):
            edges[imp.importer].add(imp.imported)
    cycles = _cycles(edges)
    assert not cycles, "import cycles (function-level imports count):\n" + "\n".join(" <-> ".join(c) for c in cycles)


# -- the store boundary -------------------------------------------------------------------------------
STORE = "segmint.store"
#: Modules outside the store that may run SQL text, with why.
SQL_ELSEWHERE = {
    "segmint.activate.database": "writes a user's destination database (PostgreSQL, MySQL) through SQLAlchemy "
                                 "Core statements with bound values, never the store",
    "segmint.ingest.sql_source": "reads a user's source database (PostgreSQL, MySQL...) through SQLAlchemy; "
                                 "the SQL is the user's query or a table read there, never the store",
}
#: The start of a SQL statement (upper-case keywords, as segmint writes SQL; prose does not start so).
_SQL_TEXT = re.compile(r"^\s*(SELECT\s|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|CREATE\s+(OR\s+REPLACE\s+)?"
                       r"(TEMP\w*\s+)?(TABLE|VIEW|INDEX|SEQUENCE)|ALTER\s+TABLE|DROP\s+(TABLE|VIEW)|SET\s+\w+\s*=|"
                       r"WITH\s+\w+\s+AS|PRAGMA\s|COPY\s|ATTACH\s|INSTALL\s|LOAD\s)")
_EXECUTE = {"execute", "executemany", "sql", "raw_sql", "query"}


def sql_uses(path: Path, label: str) -> list[str]:
    """What in the module at ``path`` touches the engine's own connection or sends SQL text."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        where = f"{label}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Attribute):
            if node.attr == "con" and isinstance(node.value, ast.Attribute) and node.value.attr == "con":
                found.append(f"{where}: .con.con (the engine's own connection)")
            elif node.attr == "raw_sql":
                found.append(f"{where}: .{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _EXECUTE:
            if node.args:  # Ibis' expr.execute() takes no positional argument; a connection's takes SQL
                found.append(f"{where}: .{node.func.attr}(...) with an argument (SQL text?)")
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
              and _SQL_TEXT.match(node.value)):
            found.append(f"{where}: SQL text {node.value.strip()[:40]!r}")
        elif isinstance(node, ast.JoinedStr):
            head = "".join(v.value for v in node.values[:1] if isinstance(v, ast.Constant))
            if _SQL_TEXT.match(head):
                found.append(f"{where}: SQL text f{head.strip()[:40]!r}")
    return found


def test_only_the_store_sends_sql():
    bad = []
    for module in MODULES:
        if module == STORE or module.startswith(STORE + ".") or module in SQL_ELSEWHERE:
            continue
        bad.extend(sql_uses(MODULES[module], str(MODULES[module].relative_to(SRC))))
    assert not bad, ("only segmint.store holds the engine's connection and sends SQL text; add a method there "
                     "(its SQL in store/sql.py, bound parameters) and call it:\n" + "\n".join(bad))


def test_the_sql_detector_detects(tmp_path):
    # The detector itself, on the kinds of lines it must catch (and the Ibis calls it must not).
    sample = tmp_path / "probe.py"
    sample.write_text('import duckdb\n'
            'def f(store, t):\n'
            '    store.con.con.execute("SELECT 1")\n'
            '    store.con.raw_sql(f"DELETE FROM x WHERE a = {1}")\n'
            '    q = "SELECT * FROM orders"\n'
            '    return t.count().execute()\n', encoding="utf-8")
    found = sql_uses(sample, "probe.py")
    assert len([f for f in found if ".con.con" in f]) == 1
    assert any(".raw_sql" in f for f in found) and any("'SELECT * FROM orders'" in f for f in found)
    assert any("SQL text f'DELETE FROM x WHERE a =" in f for f in found)
    assert not any(":6:" in f for f in found)  # t.count().execute() is Ibis


@pytest.mark.parametrize("module", sorted(m for m in SQL_ELSEWHERE))
def test_sql_exceptions_exist(module):
    assert module in MODULES, f"{module} is gone: delete it from SQL_ELSEWHERE"
