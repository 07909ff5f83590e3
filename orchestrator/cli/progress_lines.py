"""Progress as plain lines on stderr: for CI logs, pipes, ``--progress plain``.

The format is a contract of sorts: ``[   1.1s] starting db`` (``bench/envctl_cli.py`` and
people's CI greps parse it), a suite's own output indented by four spaces, and with
``--verbose`` each service's output prefixed by its name (``db      | LOG: ...``).
"""

from __future__ import annotations

import re
import threading
import time
from typing import TYPE_CHECKING

import click

from orchestrator.progress import Progress, plain_line

if TYPE_CHECKING:
    from orchestrator.cli.common import App


# What a terminal would act on rather than show. Services and suites print anything (a
# test runner's colours, a REPL clearing the screen, a title for the window); passed on, a
# clear-screen or cursor move would wreck the live view, and a CI log would carry codes.
_NOT_TEXT = re.compile(
    r"""
      \x1b\[ [0-?]* [ -/]* [@-~]              # CSI: colours, cursor moves, clear screen
    | \x9b [0-?]* [ -/]* [@-~]                # the same, as one 8-bit character
    | \x1b[\]PX^_] .*? (?:\x07|\x1b\\|$)     # OSC (titles, links), DCS, SOS, PM, APC ...
    | [\x90\x98\x9d-\x9f] .*? (?:\x07|\x9c|\x1b\\|$)  # ... to their end: BEL or ST
    | \x1b [ -/]* [0-~]?                      # any other escape (ESC c resets the terminal)
    | [\x00-\x08\x0b-\x1f\x7f-\x9f]          # other controls (\r, \b, BEL): a tab stays
    """,
    re.VERBOSE | re.DOTALL,
)


def printable(text: str) -> str:
    """``text`` as it may reach the terminal: escape sequences and control characters
    removed, the text, tabs and line breaks kept. Both renderers pass every line of
    others' output through it, *before* redacting: a secret split by a colour code would
    slip past redaction and be joined again by the stripping."""
    return _NOT_TEXT.sub("", text)


def service_prefix(service: str) -> str:
    """``db      | ``: short names line up, long ones still read."""
    return f"{service:<7} | "


class LineProgress(Progress):
    """Every event's line, timestamped from when the command began; ``--quiet`` silences
    all of it (``App.say`` does)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.t0 = time.monotonic()
        self.follow_logs = app.verbose >= 1 and not app.quiet
        # Services' output arrives from a thread each: one line must not cut another.
        self._lock = threading.Lock()

    def step(self, text: str) -> None:
        with self._lock:
            self.app.say(plain_line(time.monotonic() - self.t0, printable(text)))

    def suite_output(self, line: str) -> None:
        if self.app.output == "text" and not self.app.quiet:
            with self._lock:
                click.echo(self.app.redactor(f"    {printable(line)}"), err=True)

    def service_output(self, service: str, line: str) -> None:
        with self._lock:
            self.app.say(service_prefix(service) + printable(line))  # say() redacts
