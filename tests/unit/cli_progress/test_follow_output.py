"""Following a service's output while it is written (``--verbose``): runtime/follow.py, and
the session's followers around it."""

from __future__ import annotations

import queue
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from orchestrator.blueprint.loader import loads
from orchestrator.engine import Engine
from orchestrator.progress import Progress
from orchestrator.runtime import follow
from orchestrator.runtime.base import EnvironmentContext, ServiceHandle
from orchestrator.runtime.fake import FakeRuntime
from orchestrator.runtime.follow import LineSplitter, follow_reads, follow_stream, tail_file
from orchestrator.settings import Settings


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
        for line in follow_reads(fh.read, stop):
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
        assert list(follow_reads(fh.read, stop)) == []
    assert time.monotonic() - started < 1


def test_a_file_tail_waits_for_the_file_and_ends_on_stop(tmp_path: Path) -> None:
    log = tmp_path / "late.log"
    stop = threading.Event()
    threading.Timer(0.2, lambda: log.write_bytes(b"hello\n")).start()
    threading.Timer(0.6, stop.set).start()
    assert list(tail_file(log, stop)) == ["hello"]
    stop.clear()
    stop.set()
    assert list(tail_file(tmp_path / "never.log", stop)) == []


def test_a_service_that_never_stops_writing_is_let_go_soon_after_stop(tmp_path: Path) -> None:
    """Before: ``stop`` was looked at only when a read found nothing new, so a follower of
    a service that never pauses (``envctl up`` leaves it running) never ended."""
    log = tmp_path / "chatty.log"
    log.write_bytes(b"")
    stop, quit_writing = threading.Event(), threading.Event()
    ended = threading.Event()
    count = [0]

    with log.open("ab", buffering=0) as out, log.open("rb") as fh:

        def read(size: int) -> bytes:
            if not quit_writing.is_set():
                out.write(b"still going\n")  # never a pause: each read finds something new
            return fh.read(size)

        def follower() -> None:
            for _ in follow_reads(read, stop):
                count[0] += 1
            ended.set()

        thread = threading.Thread(target=follower, daemon=True)
        thread.start()
        time.sleep(0.2)
        stop.set()
        stopped = time.monotonic()
        try:
            assert ended.wait(follow.LAST_WORDS + 3), "still following a chatty service"
            assert time.monotonic() - stopped < follow.LAST_WORDS + 3
        finally:
            quit_writing.set()
            thread.join(10)
    assert count[0] > 0


def test_a_line_that_never_ends_comes_in_pieces() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"x" * (follow.LONGEST_LINE * 2 + 5)) == ["x" * follow.LONGEST_LINE] * 2
    assert splitter.feed(b"y\nz") == ["x" * 5 + "y"]
    assert splitter.rest() == ["z"]
    assert splitter.rest() == []


class Stream:
    """A blocking stream of chunks, like Docker's log stream: ``close`` from another thread
    ends a read that waits. ``chatty``: a chunk is always there."""

    def __init__(self, chunks: list[bytes], chatty: bool = False) -> None:
        self.waiting: queue.Queue[bytes | None] = queue.Queue()
        for chunk in chunks:
            self.waiting.put(chunk)
        self.chatty = chatty
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        while not self.closed.is_set():
            if self.chatty:
                yield b"tick\n"
                continue
            chunk = self.waiting.get()
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        self.closed.set()
        self.waiting.put(None)


def test_a_stream_is_split_into_lines_and_ends_by_itself() -> None:
    stream = Stream([b"one\ntw", b"o\r\n", b"three"])
    stream.waiting.put(None)  # the container stopped
    assert list(follow_stream(stream, stream.close, threading.Event())) == [
        "one",
        "two",
        "three",
    ]
    assert stream.closed.is_set(), "closed on the way out"


def test_stop_closes_a_quiet_stream_after_its_last_words() -> None:
    stream = Stream([b"ready\n"])
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    threading.Timer(0.4, lambda: stream.waiting.put(b"bye\n")).start()
    started = time.monotonic()
    assert list(follow_stream(stream, stream.close, stop)) == ["ready", "bye"]
    assert time.monotonic() - started < follow.LAST_WORDS + 3


def test_stop_ends_a_stream_that_never_pauses_even_if_close_does_nothing() -> None:
    stream = Stream([], chatty=True)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    lines = list(follow_stream(stream, lambda: None, stop))
    assert lines and set(lines) == {"tick"}
    assert time.monotonic() - started < follow.LAST_WORDS + 3


def test_giving_up_early_closes_the_stream() -> None:
    stream = Stream([b"a\nb\n"])
    lines = follow_stream(stream, stream.close, threading.Event())
    assert next(lines) == "a"
    lines.close()
    assert stream.closed.is_set()


# the session's followers ------------------------------------------------------------------

BLUEPRINT = """
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: shop}
services:
  db: {image: "postgres:15.4", ports: [5432]}
suites:
  - {name: smoke, run: "true"}
"""


class Listening(Progress):
    follow_logs = True

    def __init__(self) -> None:
        self.lines: list[str] = []

    def service_output(self, service: str, line: str) -> None:
        self.lines.append(line)


class DeafRuntime(FakeRuntime):
    """A runtime whose follower ignores ``stop``: a service's output that never ends."""

    def follow_output(
        self, env: EnvironmentContext, handle: ServiceHandle, stop: threading.Event
    ) -> Iterator[str]:
        while True:
            yield "still going"
            time.sleep(0.01)


def test_nothing_of_a_service_prints_once_the_run_is_over(tmp_path: Path) -> None:
    """Before: a follower that did not end went on printing after the result."""
    settings = Settings(
        state_dir=tmp_path / "state", work_root=tmp_path / "work", environ={"PATH": "/bin"}
    )
    progress = Listening()
    engine = Engine(settings, progress=progress, runtime_factory=lambda n, s: DeafRuntime(s))
    engine.run(loads(textwrap.dedent(BLUEPRINT), "shop.yaml"), runtime="fake")
    printed = len(progress.lines)
    assert printed > 0, "followed while it ran"
    time.sleep(0.3)
    assert len(progress.lines) == printed
