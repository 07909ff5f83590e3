"""The two renderers as a person or a CI log sees them: what reaches stderr."""

from __future__ import annotations

import re

import pytest

from orchestrator.cli.common import App
from orchestrator.cli.progress_lines import LineProgress, printable
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


# What services and suites print may hold anything a terminal acts on rather than shows:
# clear the screen and home the cursor, a window title, a carriage return, colours.
NOISY = "\x1b[2J\x1b[H\x1b]0;x\x07LOG:  \x1b[38;5;208mready\x1b[0m\tto go\r"
SPLIT_SECRET = "password hunter2\x1b[1m-password"  # slips past a redaction of the raw line


def test_printable_keeps_the_text_and_tabs_only() -> None:
    assert printable(NOISY) == "LOG:  ready\tto go"
    assert printable("a\x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\ b\x1bc\x9b2J\x08\x00") == "alink b"
    assert printable("plain — ünïcode ✓ [1m]") == "plain — ünïcode ✓ [1m]"


def test_plain_lines_carry_no_escape_codes(capsys: pytest.CaptureFixture[str]) -> None:
    progress = LineProgress(app(verbose=1))
    progress.service_output("db", NOISY)
    progress.service_output("db", SPLIT_SECRET)
    progress.suite_output(NOISY)
    progress.step(f"ready    db: {NOISY}")
    err = capsys.readouterr().err
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", err), repr(err)
    lines = err.splitlines()
    assert lines[:3] == [
        "db      | LOG:  ready\tto go",
        "db      | password ***",
        "    LOG:  ready\tto go",
    ]
    assert lines[3].endswith("ready    db: LOG:  ready\tto go")
    assert "hunter2" not in err


def test_the_live_view_prints_no_one_elses_escape_codes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    progress = LiveProgress(app(verbose=1), force_terminal=True)
    progress.event(EVENTS[0])
    progress.service_output("db", NOISY)
    progress.service_output("db", SPLIT_SECRET)
    progress.suite_output(NOISY)
    progress.event(Event("service", "db", "start", "starting db", 0.1))
    progress.event(Event("service", "db", "failed", "", 0.2, {"error": f"exited: {NOISY}"}))
    progress.close()
    err = capsys.readouterr().err
    for code in ("\x1b[2J", "\x1b[H", "\x1b]0;", "\x07", "\x1b[38;5;208m"):
        assert code not in err, f"{code!r} in {err!r}"
    # rich's own codes (styles, cursor moves) and redraws (\r) out: what was text is
    # printed as it was, the tabs expanded
    text = re.sub(r"\x1b\[[\d;?]*[A-Za-z]", "", err).replace("\r", "\n")
    assert re.search(r"^db      \| LOG:  ready +to go$", text, re.M), text
    assert re.search(r"^    LOG:  ready +to go$", text, re.M), text
    assert "db      | password ***" in text and "hunter2" not in text
    assert re.search(r"✗\s+service\s+db\s+failed\s+exited: LOG:  ready to go\s+0\.10s", text), text
