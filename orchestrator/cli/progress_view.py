"""The live view: a table of what is happening, redrawn in place at the bottom of a
terminal, with everything else (a suite's output, services' output, notes, warnings)
printed above it, so nothing scrolls away unseen.

Imported only when stderr is a terminal (rich costs ~50 ms to import). All colour goes
through rich, so ``NO_COLOR``, ``FORCE_COLOR`` and ``TERM=dumb`` are honoured in one place.
The table stays on screen when the command ends; the result follows it.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from orchestrator.cli.progress_board import FINISHED, Board, Row, RowState
from orchestrator.cli.progress_lines import LineProgress, printable, service_prefix
from orchestrator.progress import Event, Progress

if TYPE_CHECKING:
    from orchestrator.cli.common import App

MARKS = {
    RowState.waiting: ("·", "dim"),
    RowState.ok: ("✓", "green"),
    RowState.failed: ("✗", "bold red"),
    RowState.stopped: ("!", "yellow"),
    RowState.passed_on: ("·", "dim"),
}
STATUS_STYLES = {RowState.ok: "green", RowState.failed: "red", RowState.stopped: "yellow"}
SERVICE_COLOURS = ("cyan", "magenta", "blue", "yellow", "green", "bright_cyan")


def seconds_text(seconds: float | None, running: bool = False) -> str:
    if seconds is None:
        return ""
    if seconds >= 60:
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes}m{rest:02d}s"
    # a running clock ticks in tenths; a final time under 10 s is worth its hundredths
    return f"{seconds:.1f}s" if running or seconds >= 10 else f"{seconds:.2f}s"


class LiveProgress(Progress):
    def __init__(self, app: App, force_terminal: bool = False) -> None:
        self.app = app
        self.follow_logs = app.verbose >= 1
        self.console = Console(
            stderr=True, highlight=False, force_terminal=True if force_terminal else None
        )
        self.board = Board()
        self._lock = threading.RLock()
        self._spinners: dict[tuple[str, str], Spinner] = {}
        self._colours: dict[str, str] = {}
        self._live: Live | None = None
        self._closed = False
        self._after: LineProgress | None = None  # plain lines once the view has ended
        self._t0: float | None = None  # the session's clock, on ours

    # Progress ---------------------------------------------------------------------------

    def event(self, event: Event) -> None:
        if self._closed:
            self._lines().event(event)
            return
        with self._lock:
            if self._t0 is None:
                self._t0 = time.monotonic() - event.at
            note = self.board.apply(event)
            self._ensure_live()
        if note:
            self._print(Text(self.app.redactor(printable(note)), style="dim"))

    def step(self, text: str) -> None:
        if self._closed:
            self._lines().step(text)
            return
        with self._lock:
            self.board.step(self.app.redactor(printable(text)), self._now())
            self._ensure_live()

    def suite_output(self, line: str) -> None:
        if self._closed:
            self._lines().suite_output(line)
        elif self.app.output == "text":
            # Stripped, not kept as rich Text: a Text keeps escape codes, and a clear-screen
            # or cursor move in it would tear the live region apart (colours go too).
            self._print(Text("    " + self.app.redactor(printable(line))))

    def service_output(self, service: str, line: str) -> None:
        if self._closed:
            self._lines().service_output(service, line)
            return
        colour = self._colours.setdefault(
            service, SERVICE_COLOURS[len(self._colours) % len(SERVICE_COLOURS)]
        )
        self._print(
            Text.assemble((service_prefix(service), colour), self.app.redactor(printable(line))),
        )

    def close(self) -> None:
        """Stop redrawing; the last frame stays. Later events print as plain lines."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.board.settle(self._now())
            live, self._live = self._live, None
        if live is not None:
            live.stop()  # draws the final frame once more, without spinners

    # drawing ----------------------------------------------------------------------------

    def _now(self) -> float:
        if self._t0 is None:
            self._t0 = time.monotonic()
        return time.monotonic() - self._t0

    def _ensure_live(self) -> None:
        if self._live is None:
            # stdout stays ours: results and JSON go there, never into the view
            self._live = Live(
                console=self.console,
                get_renderable=self._render,
                refresh_per_second=8,
                transient=False,
                redirect_stdout=False,
                redirect_stderr=True,  # logging and `envctl: ...` notes land above
            )
            self._live.start()

    def _print(self, text: Text) -> None:
        """Above the table: the console knows its live part, and keeps it at the bottom."""
        self.console.print(text, soft_wrap=True)

    def _lines(self) -> LineProgress:
        if self._after is None:
            self._after = LineProgress(self.app)
        return self._after

    def _render(self) -> RenderableType:
        with self._lock:
            now = self._now()
            board = self.board
            return Group(self._header(board, now), self._table(board, now))

    def _header(self, board: Board, now: float) -> Text:
        elapsed = board.finished_at if board.finished_at is not None else now
        header = Text.assemble(("envctl", "bold"))
        if board.title:
            header.append(f"  {board.title}")
        if board.phase:
            header.append("  ·  ")
            done = board.finished_at is not None
            header.append(board.phase, "red" if board.failed else "green" if done else "cyan")
        header.append(f"  ·  {seconds_text(elapsed, running=True)}", "dim")
        return header

    def _table(self, board: Board, now: float) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(width=1, no_wrap=True)  # mark
        table.add_column(style="dim", no_wrap=True)  # kind
        table.add_column(style="bold", no_wrap=True)  # name
        table.add_column(no_wrap=True)  # status
        table.add_column()  # detail: the one column that gives way on a narrow terminal
        table.add_column(justify="right", no_wrap=True)  # time
        for key, row in board.rows.items():
            table.add_row(
                self._mark(key, row),
                row.kind if row.kind not in {"step", "teardown"} else "",
                row.name if row.kind != "teardown" else "teardown",
                Text(row.status, STATUS_STYLES.get(row.state, "")),
                Text(
                    # a failed service's error may quote its output; rich measures a
                    # cell before it expands tabs, and would cut it short
                    printable(row.detail).replace("\t", " "),
                    "dim" if row.state not in FINISHED else "",
                    no_wrap=True,
                    overflow="ellipsis",
                ),
                seconds_text(row.elapsed(now), running=row.state is RowState.running),
            )
        return table

    def _mark(self, key: tuple[str, str], row: Row) -> RenderableType:
        if row.state is RowState.running:
            spinner = self._spinners.get(key)
            if spinner is None:
                spinner = self._spinners[key] = Spinner("dots", style="cyan")
            return spinner
        mark, style = MARKS[row.state]
        return Text(mark, style)
