"""docs/cli.md and the command line agree: every option of every command, and nothing else.

docs/cli.md names each command in a synopsis: a backticked span that starts with ``segmint COMMAND`` (in a
heading or in the first column of a table), e.g. ```segmint members NAME [-o/--output FILE] [--json]```.
The options of a command, as the docs give them, are those of its synopses, plus the rows of an options
table (first cell starting with `` `-``) in a section whose heading is that command's synopsis. They must be
the options ``segmint COMMAND --help`` lists: each option under at least one of its names, with every short
alias (so ``-n`` and ``-m`` are not secrets), and no name the command lacks.

Also checked here, without running anything: the YAML examples of docs/segments.md are valid definitions,
the rule examples parse, and docs/config.md's full example is a valid ``segmint.yaml``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from segmint.cli import app

DOCS = Path(__file__).resolve().parents[1] / "docs"
SPAN = re.compile(r"`(segmint [^`]+)`")
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
FENCED = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def commands() -> dict[tuple[str, ...], object]:
    """Every leaf command, by its path (``("token", "create")``)."""
    found = {}

    def walk(cmd, path):
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(None):
                walk(cmd.get_command(None, name), (*path, name))
        else:
            found[path] = cmd

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = commands()


def _command_of(span: str) -> tuple[str, ...] | None:
    words = span.split()[1:]
    best = None
    for path in COMMANDS:
        if tuple(words[:len(path)]) == path and (best is None or len(path) > len(best)):
            best = path
    return best


def documented_options() -> dict[tuple[str, ...], set[str]]:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    text = FENCED.sub("", text)  # examples are not the reference
    docs: dict[tuple[str, ...], set[str]] = {}
    section: tuple[str, ...] | None = None
    for line in text.splitlines():
        spans = SPAN.findall(line)
        if line.startswith("#"):
            paths = {_command_of(s) for s in spans} - {None}
            section = paths.pop() if len(paths) == 1 else None
        if line.startswith("|"):
            first = re.split(r"(?<!\\)\|", line)[1].strip()  # `\|` inside a cell is not a column
            if section and first.startswith("`-"):
                docs.setdefault(section, set()).update(OPTION.findall(first))
            spans = SPAN.findall(first)  # a command table: its synopsis is the first cell
        elif not line.startswith("#"):
            continue  # prose mentions commands; only headings and table rows define them
        for span in spans:
            path = _command_of(span)
            if path is not None:
                rest = span.split(None, len(path) + 1)[len(path) + 1:] if len(span.split()) > len(path) + 1 else []
                docs.setdefault(path, set()).update(OPTION.findall(" ".join(rest)))
    return docs


DOCUMENTED = documented_options()


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_cli_md_lists_every_option_and_no_other(path):
    cmd = COMMANDS[path]
    name = "segmint " + " ".join(path)
    assert path in DOCUMENTED, f"docs/cli.md has no synopsis of `{name}` (a heading or table row `{name} ...`)"
    doc = DOCUMENTED[path]
    known = {"--help"}
    missing = []
    for param in cmd.params:
        if param.param_type_name != "option":
            continue
        names = [*param.opts, *param.secondary_opts]
        known.update(names)
        shorts = [n for n in names if not n.startswith("--")]
        # under one of its names (`-w DIR` is enough: the page's top says -w/--workspace), every short alias
        if not any(n in doc for n in names) or any(n not in doc for n in shorts):
            missing.append("/".join(names))
    assert not missing, f"docs/cli.md does not give these options of `{name}`: {missing}"
    extra = sorted(doc - known)
    assert not extra, f"docs/cli.md gives `{name}` options it does not have: {extra}"


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_help_lists_every_option(path):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "250", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    for param in COMMANDS[path].params:
        if param.param_type_name == "option" and not param.hidden:
            assert param.opts[0] in result.output, f"`segmint {' '.join(path)} --help` lacks {param.opts[0]}"


def test_the_checker_reads_synopses_and_option_tables():
    assert DOCUMENTED[("members",)] >= {"-o", "--output", "--json", "--as-of", "--version", "-w"}
    assert DOCUMENTED[("ingest",)] >= {"-m", "--map", "--sql", "--url-env", "--no-line-items"}
    assert "--all" in DOCUMENTED[("token", "list")] and "--all" not in DOCUMENTED[("token", "create")]


def _yaml_blocks(page: str) -> list[str]:
    return [body for lang, body in FENCED.findall((DOCS / page).read_text(encoding="utf-8")) if lang == "yaml"]


def test_segment_examples_are_valid_definitions():
    from segmint.segment.definitions import parse_definition

    # the page's YAML blocks continue one `segmentations:` mapping (later blocks are indented under it)
    doc = yaml.safe_load("\n".join(_yaml_blocks("segments.md")))
    definitions = doc["segmentations"]
    assert {"lifecycle", "campaigns", "rfm", "behaviour", "lifecycle_groups", "value", "basket_bands"} \
        <= set(definitions)
    for name, raw in definitions.items():
        parse_definition(name, raw, source="docs/segments.md")


def test_rule_examples_parse():
    from segmint.segment.rule_parser import parse

    text = (DOCS / "segments.md").read_text(encoding="utf-8")
    section = text[text.index("## The rule language"):]
    block = FENCED.search(section)
    assert block and block.group(1) == "text"
    rules = [ln for ln in block.group(2).splitlines() if ln.strip()]
    assert len(rules) >= 5
    for rule in rules:
        parse(rule)  # raises ConfigError naming the column


def test_config_example_is_a_valid_segmint_yaml():
    from segmint.config import Config

    (example,) = [b for b in _yaml_blocks("config.md") if b.startswith("version:")]
    Config.model_validate(yaml.safe_load(example))
