"""Lines printed where nothing is styled are what rich would print there, without rich."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from app.cli.output import Output, visible
from app.cli.tables import PlainTable

TEXTS = [
    "customers: succeeded in 0.4s (run 9)",
    "",
    "  read 1, created 0\tupdated 0",
    "bell\a back\bspace vertical\vtab form\ffeed carriage\rreturn escape\x1b[31m kept",
    "Ünïcödé ✓ 漢字 " + "wide " * 60,
    "[bold]not markup[/bold] and emoji codes :smile: stay as they are",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("style", [None, "bold red"])
def test_a_plain_line_is_what_rich_prints_to_a_file(
    text: str, style: str | None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    printed = io.StringIO()
    Console(file=printed, highlight=False, soft_wrap=True, emoji=False).print(visible(text), style=style, markup=False)

    Output().say(text, style)
    Output().warn(text, style)

    captured = capsys.readouterr()
    assert captured.out == captured.err == printed.getvalue()


@pytest.mark.parametrize("styled", ["0", "1"])
def test_control_characters_from_outside_are_spelt_out_never_sent_to_the_terminal(
    styled: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", styled)
    key = "k\x1b]0;PWNED\x07\x1b[2J\x9b31m\x7f"  # a terminal title, a cleared screen, C1 and DEL

    Output().say(f"failed {key}: required")
    Output().warn(f"error: no sync named '{key}'")

    captured = capsys.readouterr()
    for printed in (captured.out, captured.err):
        assert "k\\x1b]0;PWNED\\x07\\x1b[2J\\x9b31m\\x7f" in printed, printed
        assert "\x1b]0" not in printed and "\x07" not in printed and "\x9b" not in printed


def test_secrets_are_scrubbed_from_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    output = Output()
    output.secrets.add("hunter2-secret")

    output.say("the password is hunter2-secret")

    assert "hunter2-secret" not in capsys.readouterr().out


STYLING = [({"FORCE_COLOR": "1"}, True), ({"TTY_COMPATIBLE": "1"}, True), ({"FORCE_COLOR": ""}, False),
           ({"TTY_COMPATIBLE": "0"}, False)]  # fmt: skip


@pytest.mark.parametrize(("variables", "styled"), STYLING)
def test_rich_styles_where_the_variables_ask_for_it(
    variables: dict[str, str], styled: bool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    Output().say("failed", "bold red")

    assert ("\x1b[" in capsys.readouterr().out) is styled


def test_a_tables_text_cells_print_as_written_on_one_line() -> None:
    """``brygga status`` and ``preview``: rich reads a text cell as markup; a name or key is none."""
    table = PlainTable("sync", "status")
    table.add_row("[red]x[/red] [link=http://evil.example]y[/link]\nforged", "idle")
    printed = io.StringIO()
    Console(file=printed, force_terminal=True, width=200).print(table)

    text = printed.getvalue()
    assert "[red]x[/red] [link=http://evil.example]y[/link]\\nforged" in text
    assert "\x1b]8;" not in text and "\x1b[31m" not in text
    assert not any(line.startswith("forged") for line in text.splitlines())
