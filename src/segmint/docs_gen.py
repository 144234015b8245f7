"""Generate the reference parts of the docs from the code, so they cannot drift.

``python -m segmint.docs_gen`` rewrites the blocks between ``<!-- BEGIN contracts -->`` and
``<!-- END contracts -->`` markers in docs/ingest.md (the table contracts) and between the
``reasons`` markers (the quarantine reasons). A test fails when the docs are stale.
"""

from __future__ import annotations

import re
from pathlib import Path

from segmint.contracts import CONTRACTS
from segmint.ingest.checks import ROW_REASONS, _COLUMN_REASONS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def contracts_markdown() -> str:
    """The contracts of every canonical table as Markdown tables."""
    parts = []
    for c in CONTRACTS.values():
        parts.append(f"### `{c.table}`\n\n{c.description} Unique key: `{', '.join(c.key)}`."
                     + (" Any other column is kept as a customer attribute." if c.allow_extra else "") + "\n")
        parts.append("| column | checks | tag | also matched from | description |\n|---|---|---|---|---|")
        for col in c.columns:
            aliases = ", ".join(col.aliases)
            parts.append(f"| `{col.name}` | {col.describe_checks()} | {col.tag} | {aliases} | {col.description} |")
        parts.append("")
    return "\n".join(parts).strip() + "\n"


def reasons_markdown() -> str:
    """Every quarantine reason code and its meaning."""
    rows = ["| reason code | meaning |", "|---|---|"]
    for code, text in ROW_REASONS.items():
        rows.append(f"| `{code}` | {text} |")
    for prefix, template in _COLUMN_REASONS.items():
        rows.append(f"| `{prefix}_<column>` | " + template.format(col="the column", type="its type") + " |")
    return "\n".join(rows) + "\n"


BLOCKS = {"contracts": contracts_markdown, "reasons": reasons_markdown}


def render(text: str) -> str:
    """Replace every generated block in ``text``."""
    for name, fn in BLOCKS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
        text = pattern.sub(lambda m, fn=fn: m.group(1) + fn() + m.group(2), text)
    return text


def main() -> None:
    for page in DOCS.glob("*.md"):
        old = page.read_text(encoding="utf-8")
        new = render(old)
        if new != old:
            page.write_text(new, encoding="utf-8")
            print(f"updated {page}")


if __name__ == "__main__":
    main()
