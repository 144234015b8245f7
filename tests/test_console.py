"""segmint.console prints user text as written: no Rich markup, no emoji codes (issue 15, Low)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from segmint import console


@pytest.fixture
def captured(monkeypatch):
    buf_out, buf_err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(console, "out", Console(file=buf_out, highlight=False, soft_wrap=True, emoji=False, width=200))
    monkeypatch.setattr(console, "err", Console(file=buf_err, highlight=False, emoji=False, width=200))
    return buf_out, buf_err


USER_TEXT = ["root:x:0:0:root:/root:/bin/bash", "[/x] closes nothing", "[bold]VIP[/]", ":thumbs_up: fans"]


def test_tables_messages_and_errors_print_user_text_as_written(captured):
    out, err = captured
    console.out.print(console.table(USER_TEXT[1], ["segment", "rows"], [[t, 1] for t in USER_TEXT]))
    for text in USER_TEXT:
        console.info(text)
        console.error(text)
    for text in USER_TEXT:
        assert text in out.getvalue()
        assert text in err.getvalue()
        assert f"error: {text}" in err.getvalue()


def test_the_module_consoles_render_no_emoji_codes():
    assert console.out._emoji is False and console.err._emoji is False
