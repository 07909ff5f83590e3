"""The upstream end of the proxy benchmarks, in a process of its own.

``python -m bench.proxy_upstream`` listens on two free ports of 127.0.0.1, prints
``{"sink": PORT, "echo": PORT}`` as one JSON line on stdout, and serves until stdin
reaches EOF (the benchmark closed the pipe or died), SIGTERM, or ``--max-seconds``.

* **sink**: reads each connection to EOF with ``recv_into`` on a 256 KiB buffer,
  discarding the bytes, then answers with the count as 8 bytes big-endian and closes;
  the client's clock stops on that answer, so every byte has really crossed the relay.
* **echo**: sends back whatever it reads, on one selector loop (no thread per
  connection, so dozens of paced connections do not fight over the GIL here).

Being a separate process keeps these loops off the measuring client's interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import selectors
import signal
import socket
import sys
import threading
import time
from types import FrameType

HOST = "127.0.0.1"
CHUNK = 256 * 1024
COUNT_BYTES = 8
IO_TIMEOUT = 30.0  # a sink connection idle this long is abandoned


def _listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(512)
    return sock


def _sink_connection(conn: socket.socket) -> None:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    with conn:
        conn.settimeout(IO_TIMEOUT)
        try:
            while True:
                n = conn.recv_into(view)
                if not n:
                    break
                total += n
            conn.sendall(total.to_bytes(COUNT_BYTES, "big"))
        except OSError:
            return


def _serve_sink(listener: socket.socket, stop: threading.Event) -> None:
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        threading.Thread(target=_sink_connection, args=(conn,), daemon=True).start()


def _serve_echo(listener: socket.socket, stop: threading.Event) -> None:
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    pending: dict[socket.socket, bytearray] = {}

    def drop(conn: socket.socket) -> None:
        sel.unregister(conn)
        pending.pop(conn, None)
        conn.close()

    while not stop.is_set():
        for key, events in sel.select(0.2):
            if key.data is None:  # the listener
                with contextlib.suppress(BlockingIOError):
                    new, _ = listener.accept()
                    new.setblocking(False)
                    new.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    sel.register(new, selectors.EVENT_READ, "conn")
                continue
            conn = key.fileobj
            if not isinstance(conn, socket.socket):
                continue
            try:
                if events & selectors.EVENT_READ:
                    data = conn.recv(65536)
                    if not data:
                        drop(conn)
                        continue
                    pending.setdefault(conn, bytearray()).extend(data)
                out = pending.get(conn)
                if out:
                    sent = conn.send(out)
                    del out[:sent]
                    # Only wait for writability while something is left to send.
                    mask = selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0)
                    if mask != key.events:
                        sel.modify(conn, mask, "conn")
            except BlockingIOError:
                sel.modify(conn, selectors.EVENT_READ | selectors.EVENT_WRITE, "conn")
            except OSError:
                drop(conn)
    for key in list(sel.get_map().values()):
        if isinstance(key.fileobj, socket.socket):
            key.fileobj.close()
    sel.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy_upstream")
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sink, echo = _listener(), _listener()
    threads = [
        threading.Thread(target=_serve_sink, args=(sink, stop), daemon=True),
        threading.Thread(target=_serve_echo, args=(echo, stop), daemon=True),
    ]
    for thread in threads:
        thread.start()
    print(json.dumps({"sink": sink.getsockname()[1], "echo": echo.getsockname()[1]}), flush=True)

    def watch_stdin() -> None:
        sys.stdin.read()  # returns at EOF: the benchmark is gone or done
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    deadline = time.monotonic() + args.max_seconds
    while not stop.wait(0.5) and time.monotonic() < deadline:
        pass
    stop.set()
    for thread in threads:
        thread.join(timeout=2.0)
    sink.close()
    echo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
