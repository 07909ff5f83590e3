"""The watchdog: a container that removes an environment when its envctl dies.

Ryuk does this for Testcontainers; its image cannot be pulled here, and envctl's rules
differ (a detached ``envctl up`` environment lives until its ttl), so this is envctl's own.
It runs from envctl's image with the Docker socket mounted, one per environment:

* envctl connects to it (a published port on 127.0.0.1) and keeps the connection open
  for as long as it owns the environment. A SIGKILL closes the socket in the kernel, so
  the watchdog learns of the death at once, with nothing for envctl to do.
* ``detach <unix-time>`` (``envctl up``): the environment outlives this envctl; the
  watchdog then removes it when that time (the ttl) passes, unless ``envctl down``
  removed everything first — the watchdog included.
* Without a detach, a closed connection (or no connection within ``--connect-within``
  seconds of start) means: wait ``--grace`` seconds, then remove every container,
  network and volume labelled with the environment, and exit.

Protocol: on accept the watchdog writes ``envctl-watchdog <env>\\n``; the client reads
that line before it counts as connected, because Docker's port publishing accepts TCP
connections before the process inside listens.
"""

from __future__ import annotations

import argparse
import logging
import select
import shutil
import socket
import sys
import time
from pathlib import Path

from orchestrator.runtime.docker.removal import remove_labelled

log = logging.getLogger("envctl.watchdog")

PORT = 7474
GREETING = "envctl-watchdog"


def serve(env_id: str, port: int, grace: float, connect_within: float) -> str:
    """Watch until the owner is gone (or a detached ttl passes); return why."""
    listener = socket.create_server(("0.0.0.0", port), backlog=8)  # in its container
    listener.settimeout(connect_within)
    try:
        conn, _ = listener.accept()
    except TimeoutError:
        return f"no envctl connected within {connect_within:g}s"
    finally:
        listener.close()
    with conn:
        conn.sendall(f"{GREETING} {env_id}\n".encode())
        deadline = _watch(conn)
    if deadline is None:
        time.sleep(grace)  # a clean teardown removes us meanwhile
        return "its envctl process went away"
    time.sleep(max(0.0, deadline - time.time()))
    return "its ttl passed"


def _watch(conn: socket.socket) -> float | None:
    """Block until the connection closes; return the ttl deadline if it detached."""
    buffer = b""
    detached: float | None = None
    conn.setblocking(False)
    while True:
        select.select([conn], [], [])
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            continue
        except OSError:
            return detached
        if not data:
            return detached
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            words = line.decode("ascii", errors="replace").split()
            if len(words) == 2 and words[0] == "detach":
                try:
                    detached = float(words[1])
                except ValueError:
                    log.warning("ignoring a malformed detach line: %r", line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.runtime.docker.watchdog")
    parser.add_argument("--env", required=True)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--grace", type=float, default=1.0)
    parser.add_argument("--connect-within", type=float, default=10.0)
    parser.add_argument("--self", dest="own_name", help="this container's name")
    parser.add_argument(
        "--wipe", type=Path, help="the env's work dir, mounted: emptied with the rest"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s watchdog %(message)s")
    why = serve(args.env, args.port, args.grace, args.connect_within)
    import docker

    if args.wipe is not None and args.wipe.is_dir():
        # Endpoint URLs with passwords, the redaction list: not left on the host. The
        # (empty) mount point itself goes with `envctl gc`, which also updates the state.
        for entry in args.wipe.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    client = docker.from_env()
    for attempt in range(3):  # an engine busy with the teardown of others may refuse once
        failures = remove_labelled(client, args.env, skip=args.own_name)
        if not failures:
            log.info("removed environment %s: %s", args.env, why)
            return 0
        log.warning("attempt %d left: %s", attempt + 1, "; ".join(failures))
        time.sleep(1.0)
    return 1


class Leash:
    """envctl's end: one connection to an environment's watchdog, held in this process.

    Connecting happens on a thread, so the watchdog's start-up (a second or so) is not
    on the environment's critical path; if envctl dies before it connects, the watchdog's
    ``--connect-within`` still reaps.
    """

    def __init__(self, env_id: str, host: str, port: int, within: float = 30.0) -> None:
        import threading

        self.env_id = env_id
        self._address = (host, port)
        self._within = within
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.connected = threading.Event()
        self.error: str | None = None
        self._thread = threading.Thread(target=self._connect, name=f"watchdog-{env_id}")
        self._thread.daemon = True
        self._thread.start()

    def _connect(self) -> None:
        deadline = time.monotonic() + self._within
        expected = f"{GREETING} {self.env_id}\n".encode()
        last = "not tried"
        while time.monotonic() < deadline and not self._closed:
            try:
                sock = socket.create_connection(self._address, timeout=2.0)
            except OSError as exc:
                last = str(exc)
                time.sleep(0.05)
                continue
            try:
                greeting = sock.recv(len(expected))
            except OSError as exc:
                greeting, last = b"", str(exc)
            if greeting != expected:  # Docker's port proxy accepted; nobody listens yet
                sock.close()
                last = last if not greeting else f"unexpected greeting {greeting!r}"
                time.sleep(0.05)
                continue
            sock.settimeout(None)
            with self._lock:
                if self._closed:
                    sock.close()
                    return
                self._sock = sock
            self.connected.set()
            return
        self.error = f"could not connect to the watchdog at {self._address}: {last}"
        log.warning("%s", self.error)

    def detach(self, until: float, wait: float = 10.0) -> bool:
        """Hand the environment over until ``until`` (unix time); False if not connected."""
        if not self.connected.wait(wait):
            return False
        with self._lock:
            if self._sock is None:
                return False
            try:
                self._sock.sendall(f"detach {until:.0f}\n".encode())
            except OSError:
                return False
        return True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._sock is not None:
                self._sock.close()
                self._sock = None


if __name__ == "__main__":
    sys.exit(main())
