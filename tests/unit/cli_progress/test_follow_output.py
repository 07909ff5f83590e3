"""Following a service's log file while it is written (``--verbose``)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from orchestrator.runtime.base import follow_lines


def test_lines_come_as_they_are_written_and_the_rest_when_stopped(tmp_path: Path) -> None:
    log = tmp_path / "db.log"
    log.write_bytes(b"")
    stop = threading.Event()
    seen: list[str] = []

    def writer() -> None:
        with log.open("ab", buffering=0) as out:
            out.write(b"LOG:  starting\r\nLOG:  half a ")
            time.sleep(0.3)
            out.write(b"line\n\xff bad bytes\nlast words, no newline")
        stop.set()

    with log.open("rb") as fh:
        thread = threading.Thread(target=writer)
        thread.start()
        started = time.monotonic()
        for line in follow_lines(fh.read, stop):
            seen.append(line)
            assert time.monotonic() - started < 10
        thread.join(5)
    assert seen == [
        "LOG:  starting",
        "LOG:  half a line",
        "\ufffd bad bytes",
        "last words, no newline",
    ]


def test_a_stop_before_anything_was_written_ends_at_once(tmp_path: Path) -> None:
    log = tmp_path / "quiet.log"
    log.write_bytes(b"")
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    with log.open("rb") as fh:
        assert list(follow_lines(fh.read, stop)) == []
    assert time.monotonic() - started < 1
