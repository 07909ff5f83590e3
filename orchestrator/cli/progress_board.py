"""What the live view shows, folded from the engine's events: no terminal, no rich.

A ``Board`` is the state of one command's progress: a title, the current phase, and one
``Row`` per thing that happens (a service starting, a seeding target, a suite, the
teardown, a step of ``down``). ``progress_view`` draws it; tests feed it events.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from orchestrator.links import PROXY_SERVICE
from orchestrator.progress import INFO, START, Event


class RowState(enum.Enum):
    waiting = "waiting"  # announced, not begun (a suite queued behind another)
    running = "running"
    ok = "ok"
    failed = "failed"
    stopped = "stopped"  # cut short: Ctrl-C
    passed_on = "passed_on"  # a step of `down` that the next step followed: no verdict


FINISHED = {RowState.ok, RowState.failed, RowState.stopped, RowState.passed_on}


@dataclass
class Row:
    kind: str  # service, proxy, seed, audit, suite, teardown, step
    name: str
    state: RowState
    status: str  # the word shown: starting, ready, seeding, passed ...
    detail: str = ""
    started: float | None = None  # seconds since the session began
    seconds: float | None = None  # how long it took, once finished

    def elapsed(self, now: float) -> float | None:
        """Its time: the final one, or the running one while it runs."""
        if self.seconds is not None:
            return self.seconds
        if self.state is RowState.running and self.started is not None:
            return max(0.0, now - self.started)
        return None


def counts_text(tests: dict[str, Any] | None) -> str:
    if not tests:
        return ""
    bad = int(tests.get("failures", 0)) + int(tests.get("errors", 0))
    total = int(tests.get("total", 0))
    text = f"{total} test{'' if total == 1 else 's'}, {bad} failing"
    skipped = int(tests.get("skipped", 0))
    return text + (f", {skipped} skipped" if skipped else "")


class Board:
    def __init__(self) -> None:
        self.title = ""
        self.phase = ""
        self.phase_over = False  # the current phase ended (and no other began)
        self.failed = False  # a phase failed (sticky: the teardown after it does not undo it)
        self.finished_at: float | None = None
        self.rows: dict[tuple[str, str], Row] = {}
        self._seed_units: dict[str, str] = {}

    # events ---------------------------------------------------------------------------

    def apply(self, event: Event) -> str | None:
        """Fold one event in; returns a line to print above the table, if any."""
        if event.kind == "phase":
            self._phase(event)
        elif event.kind == "service":
            self._service(event)
        elif event.kind == "seed":
            self._seed(event)
        elif event.kind == "suite":
            self._suite(event)
        elif event.kind == "note":
            audit = self.rows.get(("audit", "fidelity"))
            if event.name == "fidelity" and audit is not None:
                audit.detail = event.text.removeprefix("fidelity ")
                return None
            return event.text or None
        return None

    def _row(self, kind: str, name: str, event: Event, status: str) -> Row:
        row = self.rows.get((kind, name))
        if row is None:
            row = self.rows[(kind, name)] = Row(kind, name, RowState.running, status)
        row.state, row.status = RowState.running, status
        row.started, row.seconds = event.at, None
        return row

    def _finish(self, kind: str, name: str, event: Event, seconds: Any = None) -> Row | None:
        row = self.rows.get((kind, name))
        if row is None:
            return None
        row.state = {"interrupted": RowState.stopped}.get(event.state, RowState.failed)
        row.status = event.state
        if isinstance(seconds, int | float):
            row.seconds = float(seconds)
        elif row.started is not None:
            row.seconds = max(0.0, event.at - row.started)
        return row

    def _phase(self, event: Event) -> None:
        if event.state == START:
            self.phase, self.phase_over = event.name, False
            if event.name == "plan" and event.text:
                self.title = event.text.removeprefix("planning ")
            elif event.name == "audit":
                self._row("audit", "fidelity", event, "auditing")
            elif event.name == "suites":
                for name in event.detail.get("suites") or ():
                    self.rows.setdefault(
                        ("suite", name), Row("suite", name, RowState.waiting, "waiting")
                    )
            elif event.name == "teardown":
                self._row("teardown", "", event, "tearing down")
            return
        if event.state == INFO:
            return
        self.failed = self.failed or event.state != "done"
        self.phase_over = self.phase_over or event.name == self.phase
        if event.name == "audit":
            row = self._finish("audit", "fidelity", event)
            if row is not None and event.state == "done":
                row.state, row.status = RowState.ok, "done"
        elif event.name == "teardown":
            row = self._finish("teardown", "", event)
            if row is not None:
                left = event.detail.get("leftovers") or []
                if event.state == "done":
                    row.state, row.status = RowState.ok, "torn down"
                else:
                    row.detail = ("left: " + ", ".join(left)) if left else ""
            self.finished_at = event.at
            self.phase = "finished"

    def _service(self, event: Event) -> None:
        kind = "proxy" if event.name == PROXY_SERVICE else "service"
        if event.state == START:
            self._row(kind, event.name, event, "starting")
            return
        if event.state == INFO:
            return
        row = self._finish(kind, event.name, event, event.detail.get("seconds"))
        if row is None:
            return
        if event.state == "ready":
            row.state = RowState.ok
            shown = (event.detail.get("version"), event.detail.get("address"))
            row.detail = " · ".join(str(part) for part in shown if part)
        elif event.detail.get("error"):
            row.detail = str(event.detail["error"]).splitlines()[0]

    def _seed(self, event: Event) -> None:
        if event.state == START:
            self._row("seed", event.name, event, "seeding")
            return
        if event.state == INFO:
            row = self.rows.get(("seed", event.name))
            message = str(event.detail.get("message") or event.text)
            if row is not None and message:
                row.detail = message
                if " keys " in f" {message} ":
                    self._seed_units[event.name] = "keys"
            return
        row = self._finish("seed", event.name, event)
        if row is None or event.state != "done":
            return
        row.state, row.status = RowState.ok, "seeded"
        rows, cache = event.detail.get("rows"), event.detail.get("cache")
        parts = []
        if isinstance(rows, int) and rows:
            parts.append(f"{rows:,} {self._seed_units.get(event.name, 'rows')}")
        if cache and cache != "off":
            parts.append(f"cache {cache}")
        if parts:
            row.detail = " · ".join(parts)

    def _suite(self, event: Event) -> None:
        if event.state == START:
            self._row("suite", event.name, event, "running").detail = ""
            return
        if event.state == INFO:
            return
        row = self._finish("suite", event.name, event, event.detail.get("seconds"))
        if row is None:
            return
        if event.state == "passed":
            row.state = RowState.ok
        row.detail = counts_text(event.detail.get("tests"))

    # steps of commands without a session (down, gc) ------------------------------------

    def step(self, text: str, at: float) -> None:
        """A new step begins; the one before it is over (without a verdict: a step line
        does not say whether it worked, the command's result does)."""
        self.end_steps(at)
        key = ("step", str(len(self.rows)))
        self.rows[key] = Row("step", text, RowState.running, "", started=at)

    def end_steps(self, at: float) -> None:
        for row in self.rows.values():
            if row.kind == "step" and row.state is RowState.running:
                row.seconds = row.elapsed(at)
                row.state = RowState.passed_on

    def settle(self, at: float) -> None:
        """The command is done: nothing is still running (a run cut short, steps)."""
        self.end_steps(at)
        for row in self.rows.values():
            if row.state is RowState.running:
                row.seconds = row.elapsed(at)
                row.state, row.status = RowState.stopped, "stopped"
        if self.finished_at is None:
            self.finished_at = at
            if self.phase and self.phase_over and not self.failed:
                self.phase = "ready"  # `up`: left running, as asked
