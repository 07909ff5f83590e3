"""The two renderers as a person or a CI log sees them: what reaches stderr."""

from __future__ import annotations

import re

import pytest

from orchestrator.cli.common import App
from orchestrator.cli.progress_lines import LineProgress
from orchestrator.cli.progress_view import LiveProgress, seconds_text
from orchestrator.progress import Event

PLAIN_LINE = re.compile(r"^\[\s*[\d.]+s\]\s+(\w+)\s+(.*)$")  # bench/envctl_cli.py's
SGR_COLOUR = re.compile(r"\x1b\[(?:[\d;]*;)?(?:3[0-7]|9[0-7]|38;[25];[\d;]+)m")
EVENTS = [
    Event("phase", "plan", "start", "planning shop-1a2b3c on local", 0.0),
    Event("service", "db", "start", "starting db", 0.1),
    Event("service", "db", "ready", "ready    db 15.4 at 127.0.0.1:5432 in 1.00s", 1.1,
          {"address": "127.0.0.1:5432", "version": "15.4", "seconds": 1.0}),
    Event("suite", "smoke", "start", "suite    smoke: true", 1.2),
    Event("suite", "smoke", "passed", "suite    smoke: passed in 0.1s", 1.3,
          {"seconds": 0.1, "tests": {"total": 3, "failures": 0, "errors": 0, "skipped": 0}}),
    Event("phase", "teardown", "start", "teardown shop-1a2b3c", 1.4),
    Event("phase", "teardown", "done", "torn down in 0.1s", 1.5, {"leftovers": []}),
]  # fmt: skip


def app(**options: object) -> App:
    one = App()
    for name, value in options.items():
        setattr(one, name, value)
    one.redactor.add("hunter2-password")
    return one


def test_plain_lines_keep_the_format_scripts_parse(capsys: pytest.CaptureFixture[str]) -> None:
    progress = LineProgress(app())
    for event in EVENTS:
        progress.event(event)
    progress.suite_output("3 passed")
    progress.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == "    3 passed"
    assert [PLAIN_LINE.match(line)[1] for line in lines[:-1]] == [  # type: ignore[index]
        "planning", "starting", "ready", "suite", "suite", "teardown", "torn",
    ]  # fmt: skip


def test_verbose_lines_carry_the_service_name_and_never_a_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    quiet, verbose = LineProgress(app(quiet=True, verbose=1)), LineProgress(app(verbose=1))
    assert verbose.follow_logs and not quiet.follow_logs
    assert not LineProgress(app()).follow_logs
    for progress in (quiet, verbose):
        progress.service_output("db", "LOG:  password hunter2-password accepted")
        progress.service_output("payments-provider", "listening")
    assert capsys.readouterr().err.splitlines() == [
        "db      | LOG:  password *** accepted",
        "payments-provider | listening",
    ]


def live_run(progress: LiveProgress) -> None:
    for event in EVENTS:
        progress.event(event)
        if event.kind == "suite" and event.state == "start":
            progress.suite_output("suite says hunter2-password")
            progress.service_output("db", "LOG:  checkpoint")
    progress.close()


def test_the_live_view_draws_the_table_and_prints_output_above_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    progress = LiveProgress(app(verbose=1), force_terminal=True)
    live_run(progress)
    err = capsys.readouterr().err
    assert SGR_COLOUR.search(err), "colour on a terminal"
    text = re.sub(r"\x1b\[[\d;?]*[A-Za-z]", "", err)
    final = text[text.rindex("envctl  shop-1a2b3c on local") :]
    assert re.search(r"✓\s+service\s+db\s+ready\s+15\.4 · 127\.0\.0\.1:5432\s+1\.00s", final)
    assert re.search(r"✓\s+suite\s+smoke\s+passed\s+3 tests, 0 failing\s+0\.10s", final)
    assert re.search(r"✓\s+teardown\s+torn down\s+0\.10s", final)
    assert "finished" in final.splitlines()[0]
    assert "    suite says ***" in text and "hunter2" not in text
    assert "db      | LOG:  checkpoint" in text
    # Once the view is closed, anything late comes as plain lines (no redrawing).
    progress.step("teardown shop-1a2b3c")
    assert PLAIN_LINE.match(capsys.readouterr().err)


def test_no_color_leaves_styles_but_no_colour(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    live_run(LiveProgress(app(verbose=1), force_terminal=True))
    err = capsys.readouterr().err
    assert "\x1b[1m" in err, "bold stays"
    assert not SGR_COLOUR.search(err)


def test_times_read_short() -> None:
    assert [seconds_text(s) for s in (0.141, 9.994, 12.34, 75.0)] == [
        "0.14s", "9.99s", "12.3s", "1m15s",
    ]  # fmt: skip
    assert seconds_text(0.141, running=True) == "0.1s"
    assert seconds_text(None) == ""
