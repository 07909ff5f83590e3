"""How the engine reports what it is doing, as structured events.

The engine emits ``Event``s; a renderer (the CLI's plain lines or its live view, the
pytest plugin, nothing at all) decides how to show them. Every event carries the plain
line it would print (``text``, may be empty), so a renderer that only wants lines can
ignore the structure. Silent by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["phase", "service", "seed", "suite", "note"]

# An event in one of these states opens a span on the run's timeline; any other state
# of the same (kind, name) closes it, except "info", which is a milestone in between.
START = "start"
INFO = "info"


@dataclass(frozen=True)
class Event:
    """One milestone: ``kind`` is what it is about, ``name`` which one, ``state`` what
    happened. States: phases and seeding ``start``/``done``/``failed``; services
    ``start``/``ready``/``failed``; suites ``start`` then the suite's status
    (``passed``/``failed``/``timeout``/``error``); any kind ``info`` for a note between.
    ``at`` is seconds since the environment's session began."""

    kind: Kind
    name: str
    state: str
    text: str = ""
    at: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


class Progress:
    # A renderer that shows services' own output (``--verbose``) says so; the engine
    # then streams each service's output to ``service_output`` while it runs, and puts
    # its log file (when its runtime keeps one) in the ``detail["log"]`` of its
    # ``service``/``start`` event.
    follow_logs: bool = False

    def event(self, event: Event) -> None:
        """A structured milestone; by default, its plain line."""
        if event.text:
            self.step(event.text)

    def step(self, text: str) -> None:
        """A plain line of progress (also used for notes outside any session)."""

    def suite_output(self, line: str) -> None:
        """One (redacted) line of a suite's output."""

    def service_output(self, service: str, line: str) -> None:
        """One (redacted) line of a service's own output; only sent when ``follow_logs``
        is set, from a thread per service (a renderer serialises its own printing)."""

    def close(self) -> None:
        """The command is done with progress (a live view stops here)."""


def plain_line(seconds: float, text: str) -> str:
    """A progress line as plain output shows it: ``[   1.1s] ready    db …``. CI logs and
    bench/envctl_cli.py (PROGRESS) read this format: change it in both or neither."""
    return f"[{seconds:6.1f}s] {text}"
