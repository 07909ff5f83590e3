"""The live view's state, folded from the events a real engine run emits (fake runtime)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from orchestrator.blueprint.loader import loads
from orchestrator.cli.progress_board import Board, RowState, counts_text
from orchestrator.engine import Engine
from orchestrator.progress import Event, Progress
from orchestrator.runtime.fake import FakeRuntime
from orchestrator.settings import Settings

BLUEPRINT = """
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: shop}
services:
  db: {image: "postgres:15.4", ports: [5432]}
  api: {image: "api:1.0", ports: [8000], depends_on: [db]}
suites:
  - {name: smoke, run: "echo one-line-of-output"}
  - {name: broken, run: "exit 3"}
"""


class Folding(Progress):
    """A renderer that only keeps the board (what the live view would draw)."""

    def __init__(self) -> None:
        self.board = Board()
        self.printed: list[str] = []

    def event(self, event: Event) -> None:
        note = self.board.apply(event)
        if note:
            self.printed.append(note)


def run(tmp_path: Path, text: str = BLUEPRINT) -> Board:
    path = tmp_path / "shop.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    settings = Settings(
        state_dir=tmp_path / "state", work_root=tmp_path / "work", environ={"PATH": "/bin"}
    )
    progress = Folding()
    engine = Engine(settings, progress=progress, runtime_factory=lambda n, s: FakeRuntime(s))
    engine.run(loads(path.read_text(), str(path)), runtime="fake")
    return progress.board


def test_a_run_becomes_one_row_per_service_suite_and_the_teardown(tmp_path: Path) -> None:
    board = run(tmp_path)
    rows = {(r.kind, r.name if r.kind != "teardown" else ""): r for r in board.rows.values()}
    assert list(rows) == [
        ("service", "db"),
        ("service", "api"),
        ("suite", "smoke"),
        ("suite", "broken"),
        ("teardown", ""),
    ]
    db = rows[("service", "db")]
    assert (db.state, db.status) == (RowState.ok, "ready")
    assert db.seconds is not None and db.seconds >= 0
    assert ":" in db.detail, "its address"
    assert rows[("suite", "smoke")].state is RowState.ok
    broken = rows[("suite", "broken")]
    assert (broken.state, broken.status) == (RowState.failed, "failed")
    assert rows[("teardown", "")].status == "torn down"
    assert board.title.startswith("shop-") and board.title.endswith(" on fake")
    assert board.phase == "finished" and board.failed, "the suites phase failed"
    assert board.finished_at is not None


def test_nothing_is_left_spinning_once_the_command_is_done(tmp_path: Path) -> None:
    board = Board()
    board.apply(Event("service", "db", "start", at=1.0))
    board.apply(Event("phase", "suites", "start", at=2.0, detail={"suites": ["a", "b"]}))
    board.apply(Event("suite", "a", "start", at=2.0))
    assert board.rows[("suite", "b")].state is RowState.waiting
    assert board.rows[("suite", "a")].elapsed(now=5.5) == 3.5, "a running clock"
    board.settle(at=6.0)
    assert {r.state for r in board.rows.values()} == {RowState.stopped, RowState.waiting}
    assert board.rows[("service", "db")].seconds == 5.0


def test_seeding_rows_keep_the_latest_message_then_the_totals() -> None:
    board = Board()
    board.apply(Event("seed", "cache", "start", at=1.0))
    board.apply(Event("seed", "cache", "info", detail={"message": "20,000 keys in 0.4s"}))
    assert board.rows[("seed", "cache")].detail == "20,000 keys in 0.4s"
    board.apply(Event("seed", "cache", "done", at=1.5, detail={"rows": 20000, "cache": "off"}))
    seeded = board.rows[("seed", "cache")]
    assert (seeded.state, seeded.detail, seeded.seconds) == (RowState.ok, "20,000 keys", 0.5)
    board.apply(Event("seed", "db", "start", at=2.0))
    board.apply(Event("seed", "db", "done", at=3.0, detail={"rows": 1500, "cache": "hit"}))
    assert board.rows[("seed", "db")].detail == "1,500 rows · cache hit"


def test_a_failed_service_shows_the_first_line_of_its_error() -> None:
    board = Board()
    board.apply(Event("service", "db", "start", at=0.5))
    board.apply(Event("service", "db", "failed", at=2.0, detail={"error": "exited 1\nlog…"}))
    row = board.rows[("service", "db")]
    assert (row.state, row.detail, row.seconds) == (RowState.failed, "exited 1", 1.5)


def test_notes_print_above_the_table_and_the_fidelity_note_fills_the_audit_row() -> None:
    board = Board()
    assert board.apply(Event("note", "other", "info", "something to know")) == "something to know"
    board.apply(Event("phase", "audit", "start"))
    assert board.apply(Event("note", "fidelity", "info", "fidelity 99/100 against p.yaml")) is None
    board.apply(Event("phase", "audit", "done"))
    audit = board.rows[("audit", "fidelity")]
    assert (audit.state, audit.detail) == (RowState.ok, "99/100 against p.yaml")


def test_steps_of_down_end_without_a_verdict() -> None:
    board = Board()
    board.step("asking envctl process 42 to tear down", at=0.0)
    board.step("teardown shop-1a2b3c", at=1.0)
    first, second = board.rows.values()
    assert (first.state, first.seconds) == (RowState.passed_on, 1.0)
    assert second.state is RowState.running
    board.settle(at=3.0)
    assert (second.state, second.seconds) == (RowState.passed_on, 2.0)


def test_test_counts_read_like_the_summary() -> None:
    assert counts_text({"total": 24, "failures": 0, "errors": 0, "skipped": 0}) == (
        "24 tests, 0 failing"
    )
    assert counts_text({"total": 1, "failures": 1, "errors": 1, "skipped": 2}) == (
        "1 test, 2 failing, 2 skipped"
    )
    assert counts_text(None) == ""


def test_an_environment_left_running_is_ready_once_the_command_ends() -> None:
    board = Board()
    board.apply(Event("phase", "provision", "start", at=0.0))
    board.apply(Event("phase", "provision", "done", at=2.0))
    assert board.phase == "provision"
    board.settle(at=2.5)
    assert (board.phase, board.finished_at) == ("ready", 2.5)
