"""Compose's ${VAR} interpolation and dotenv files, as `docker compose config` reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.importers.compose_vars import (
    InterpolationProblem,
    Variables,
    interpolate,
    read_dotenv,
)


def expand(text: str, shell: dict[str, str] | None = None, **dotenv: str) -> str:
    return interpolate(text, Variables(shell or {}, dotenv))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${A}", "a"),
        ("$A/x", "a/x"),
        ("pre-${A}-post", "pre-a-post"),
        ("${MISSING:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${MISSING-d}", "d"),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${MISSING+alt}", ""),
        ("${MISSING:-${A}}", "a"),
        ("${MISSING:-${OTHER:-deep}}", "deep"),
        ("$$A", "$A"),
        ("$${A}", "${A}"),
        ("cost: 5$", "cost: 5$"),
        ("$ alone", "$ alone"),
    ],
)
def test_each_form_expands_as_compose_does(text: str, expected: str) -> None:
    assert expand(text, A="a", EMPTY="") == expected


def test_the_shell_wins_over_dotenv_and_is_recorded() -> None:
    variables = Variables({"A": "shell"}, {"A": "dotenv", "B": "b"})
    assert interpolate("${A} ${B}", variables) == "shell b"
    assert variables.from_shell == ["A"]


def test_an_unset_variable_becomes_empty_and_is_recorded() -> None:
    variables = Variables({}, {})
    assert interpolate("x${NOPE}y$NOPE", variables) == "xy"
    assert variables.unset == ["NOPE"]


@pytest.mark.parametrize("text", ["${MISSING:?give it}", "${EMPTY:?give it}", "${MISSING?x}"])
def test_a_required_variable_without_a_value_is_refused(text: str) -> None:
    with pytest.raises(InterpolationProblem, match="required variable") as caught:
        expand(text, EMPTY="")
    assert caught.value.hint is not None


def test_a_required_variable_with_a_value_expands() -> None:
    assert expand("${A:?x}", A="ok") == "ok"
    assert expand("${EMPTY?x}", EMPTY="") == ""


@pytest.mark.parametrize("text", ["${A", "${", "${1A}", "${A:x}", "${A:-unclosed"])
def test_malformed_references_are_refused_with_a_hint(text: str) -> None:
    with pytest.raises(InterpolationProblem) as caught:
        expand(text, A="a")
    assert caught.value.hint


def test_dotenv_reads_quotes_comments_exports_and_equals(tmp_path: Path) -> None:
    file = tmp_path / ".env"
    file.write_text(
        "# comment\n"
        "\n"
        "PLAIN=value\n"
        "SPACED = padded \n"
        "export EXPORTED=1\n"
        'DOUBLE="two words" # trailing comment\n'
        "SINGLE='$NOT_EXPANDED'\n"
        'ESCAPED="line\\nnext \\"quoted\\""\n'
        "INLINE=abc # comment\n"
        "HASH=abc#def\n"
        "URL=postgres://u:p@h/db?x=1\n"
        "EMPTY=\n"
        "BARE\n"
    )
    assert read_dotenv(file) == {
        "PLAIN": "value",
        "SPACED": "padded",
        "EXPORTED": "1",
        "DOUBLE": "two words",
        "SINGLE": "$NOT_EXPANDED",
        "ESCAPED": 'line\nnext "quoted"',
        "INLINE": "abc",
        "HASH": "abc#def",
        "URL": "postgres://u:p@h/db?x=1",
        "EMPTY": "",
    }
