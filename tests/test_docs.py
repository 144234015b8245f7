"""The generated parts of the docs match the code."""

from pathlib import Path

from segmint import docs_gen

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_generated_doc_blocks_are_current():
    for page in DOCS.glob("*.md"):
        text = page.read_text(encoding="utf-8")
        assert docs_gen.render(text) == text, f"{page} is stale: run `python -m segmint.docs_gen`"


def test_every_cli_command_is_documented():
    from segmint.cli import app

    cli_doc = (DOCS / "cli.md").read_text(encoding="utf-8")
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        assert f"segmint {name}" in cli_doc, f"`segmint {name}` is missing from docs/cli.md"
