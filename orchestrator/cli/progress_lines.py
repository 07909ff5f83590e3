"""Progress as plain lines on stderr: for CI logs, pipes, ``--progress plain``.

The format is a contract of sorts: ``[   1.1s] starting db`` (``bench/envctl_cli.py`` and
people's CI greps parse it), a suite's own output indented by four spaces, and with
``--verbose`` each service's output prefixed by its name (``db      | LOG: ...``).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import click

from orchestrator.progress import Progress, plain_line

if TYPE_CHECKING:
    from orchestrator.cli.common import App


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
            self.app.say(plain_line(time.monotonic() - self.t0, text))

    def suite_output(self, line: str) -> None:
        if self.app.output == "text" and not self.app.quiet:
            with self._lock:
                click.echo(self.app.redactor(f"    {line}"), err=True)

    def service_output(self, service: str, line: str) -> None:
        with self._lock:
            self.app.say(service_prefix(service) + line)
