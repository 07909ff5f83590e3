"""Following a service's output while it is written (``--verbose``): whole lines, from a
log file being appended to (``tail_file``) or from a blocking stream of byte chunks such
as Docker's log stream (``follow_stream``).

Both end the same way. Once ``stop`` is set, what arrives within ``LAST_WORDS`` seconds is
still passed on (a service's last lines at teardown are often the interesting ones), then
the follower ends, even while the service keeps writing: a chatty service must not keep
its follower printing after the command's result (teardown, or ``up`` detaching).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

LAST_WORDS = 1.0  # seconds after ``stop`` that output is still read
POLL = 0.1  # seconds between looks at a file with nothing new, or at ``stop``
CHUNK = 64 * 1024
# A "line" that never ends (a progress bar redrawn with \r) would otherwise grow in
# memory and never be shown: past this many bytes it is passed on in pieces.
LONGEST_LINE = 64 * 1024


class LineSplitter:
    """Bytes in, whole lines out, decoded (bad bytes replaced); a line's unfinished end
    waits for the next chunk. Splitting bytes at ``\\n`` is safe: no UTF-8 sequence of
    another character contains that byte."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[str]:
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        while len(self._pending) > LONGEST_LINE:
            lines.append(self._pending[:LONGEST_LINE])
            self._pending = self._pending[LONGEST_LINE:]
        return [_decode(line) for line in lines]

    def rest(self) -> list[str]:
        """The last line, when the output ended without its newline."""
        pending, self._pending = self._pending, b""
        return [_decode(pending)] if pending else []


def _decode(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").rstrip("\r")  # CRLF output


def tail_file(path: Path, stop: threading.Event) -> Iterator[str]:
    """The lines of a log file from its start, as it is appended to; waits for the file
    to appear (a service may create it late)."""
    while not path.exists():
        if stop.wait(POLL):
            return
    with path.open("rb") as fh:
        yield from follow_reads(fh.read, stop)


def follow_reads(read: Callable[[int], bytes], stop: threading.Event) -> Iterator[str]:
    """Lines from ``read`` (of a file being appended to, so empty means "nothing new
    yet"): polls while there is nothing new; ends as the module docstring says."""
    splitter = LineSplitter()
    until = math.inf  # once stop was seen: when the last words are over
    while True:
        # Only a read begun after stop was seen may end the loop: lines written just
        # before stop would otherwise be lost between the last empty read and the stop.
        after_stop = until < math.inf
        chunk = read(CHUNK)
        if chunk:
            yield from splitter.feed(chunk)
        if after_stop and (not chunk or time.monotonic() >= until):
            break
        # stop is checked on data too: a service that never pauses must not hold us here
        if not after_stop and (stop.is_set() if chunk else stop.wait(POLL)):
            until = time.monotonic() + LAST_WORDS
    yield from splitter.rest()


def follow_stream(
    chunks: Iterable[bytes], close: Callable[[], None], stop: threading.Event
) -> Generator[str, None, None]:
    """Lines from a blocking stream of byte chunks, which ends by itself when the service
    stops. ``close`` ends it from another thread: a read blocked on a quiet service can be
    ended no other way, so a watcher closes the stream ``LAST_WORDS`` after ``stop``. The
    stream is closed on every way out, the consumer giving up early included."""
    ended = threading.Event()

    def close_when_stopped() -> None:
        while not stop.wait(POLL):
            if ended.is_set():
                return
        if not ended.wait(LAST_WORDS):
            _close(close)

    threading.Thread(target=close_when_stopped, name="close-output-stream", daemon=True).start()
    splitter = LineSplitter()
    until = math.inf
    try:
        for chunk in chunks:
            yield from splitter.feed(chunk)
            if until == math.inf and stop.is_set():
                until = time.monotonic() + LAST_WORDS
            if time.monotonic() >= until:
                break  # still writing: the watcher may not have closed it yet
    except Exception as exc:  # closed under our feet (the watcher), or the engine went away
        log.debug("output stream ended: %s", exc)
    finally:
        ended.set()
        _close(close)
    yield from splitter.rest()


def _close(close: Callable[[], None]) -> None:
    try:
        close()
    except Exception as exc:  # already closed, or the connection is gone: either way, done
        log.debug("closing an output stream: %s", exc)
