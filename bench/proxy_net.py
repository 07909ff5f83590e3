"""Client-side probes of the proxy benchmarks: all on 127.0.0.1, all bounded in count and time.

Each probe talks to a port (the upstream directly, the proxy, or socat) and returns raw
samples; ``proxy_bench`` turns them into figures. The servers are in ``proxy_upstream``.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import math
import selectors
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bench import MeasurementError

HOST = "127.0.0.1"
CHUNK = 256 * 1024
MESSAGE = 64
IO_TIMEOUT = 15.0  # no single socket operation of a probe may block longer


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 ≤ q ≤ 1) of ``values``, linear between order statistics."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def quantile_ci(values: Sequence[float], q: float, z: float = 1.96) -> tuple[float, float]:
    """A distribution-free ~95% interval for the q-quantile: order statistics at ranks
    n·q ± z·√(n·q·(1-q))."""
    ordered = sorted(values)
    n = len(ordered)
    half = z * math.sqrt(n * q * (1 - q))
    lo = max(0, math.floor(n * q - half) - 1)
    hi = min(n - 1, math.ceil(n * q + half) - 1)
    return ordered[lo], ordered[hi]


@contextlib.contextmanager
def quiet_gc() -> Iterator[None]:
    """No garbage collection inside a timed probe: after envctl's rounds this process
    holds enough objects for a full collection to pause it ~15 ms, a fake tail."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextlib.contextmanager
def connect(port: int, nodelay: bool = True) -> Iterator[socket.socket]:
    try:
        sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
    except OSError as exc:
        raise MeasurementError(f"cannot connect to {HOST}:{port}: {exc}") from exc
    with sock:
        if nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        yield sock


def _recv_exactly(sock: socket.socket, n: int, what: str) -> bytes:
    data = bytearray()
    while len(data) < n:
        got = sock.recv(n - len(data))
        if not got:
            raise MeasurementError(f"{what}: connection closed after {len(data)} of {n} bytes")
        data += got
    return bytes(data)


@dataclass(frozen=True)
class Transfer:
    bytes: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e6


def stream(port: int, max_bytes: int, max_seconds: float) -> Transfer:
    """One TCP stream to a sink: 256 KiB ``sendall``s until ``max_bytes`` or ``max_seconds``,
    then half-close and wait for the sink's byte count. Timed from connected to count
    received, so bytes still queued in a relay are not counted as delivered."""
    payload = memoryview(bytearray(b"\xa5" * CHUNK))
    with quiet_gc(), connect(port, nodelay=False) as sock:
        try:
            started = time.perf_counter()
            sent = 0
            while sent < max_bytes:
                sock.sendall(payload)
                sent += CHUNK
                # A clock read every 4 MiB is plenty, and costs nothing next to the copy.
                if sent % (16 * CHUNK) == 0 and time.perf_counter() - started >= max_seconds:
                    break
            sock.shutdown(socket.SHUT_WR)
            got = int.from_bytes(_recv_exactly(sock, 8, "stream"), "big")
            seconds = time.perf_counter() - started
        except TimeoutError as exc:
            raise MeasurementError(f"stream via port {port}: timed out") from exc
        except OSError as exc:
            raise MeasurementError(f"stream via port {port}: {exc}") from exc
    if got != sent:
        raise MeasurementError(f"stream via port {port}: sent {sent} bytes, the sink got {got}")
    return Transfer(sent, seconds)


def ping_pong(port: int, count: int, warmup: int = 200, max_seconds: float = 20.0) -> list[float]:
    """Closed loop: one 64 B message out, its echo back, ``count`` times after ``warmup``
    untimed ones, on one connection. Round-trip times in ms."""
    rtts: list[float] = []
    deadline = time.monotonic() + max_seconds
    with quiet_gc(), connect(port) as sock:
        try:
            for i in range(warmup + count):
                msg = i.to_bytes(8, "big") * (MESSAGE // 8)
                t0 = time.perf_counter_ns()
                sock.sendall(msg)
                echoed = _recv_exactly(sock, MESSAGE, "ping-pong")
                t1 = time.perf_counter_ns()
                if echoed != msg:
                    raise MeasurementError(f"ping-pong via port {port}: echo differs at #{i}")
                if i >= warmup:
                    rtts.append((t1 - t0) / 1e6)
                if time.monotonic() > deadline:
                    raise MeasurementError(
                        f"ping-pong via port {port}: {len(rtts)} of {count} in {max_seconds}s"
                    )
        except OSError as exc:
            raise MeasurementError(f"ping-pong via port {port}: {exc}") from exc
    return rtts


def setup_times(port: int, count: int, max_seconds: float = 20.0) -> list[float]:
    """``count`` times: connect, send 1 byte, receive its echo, close. ms each."""
    out: list[float] = []
    deadline = time.monotonic() + max_seconds
    with quiet_gc():
        for i in range(count):
            out.append(_setup_once(port))
            if time.monotonic() > deadline:
                raise MeasurementError(f"connect+echo via port {port}: {i + 1} of {count} in time")
    return out


def _setup_once(port: int) -> float:
    t0 = time.perf_counter_ns()
    with connect(port) as sock:
        try:
            sock.sendall(b"x")
            _recv_exactly(sock, 1, "setup")
        except OSError as exc:
            raise MeasurementError(f"connect+echo via port {port}: {exc}") from exc
        return (time.perf_counter_ns() - t0) / 1e6


@dataclass(frozen=True)
class Paced:
    rtts: list[float]  # ms, from each request's actual send to its echo
    late_sends: int  # requests sent > 1 ms after their slot (no idle connection, or us)
    max_in_flight: int
    seconds: float


@dataclass
class _Conn:
    sock: socket.socket
    sent_ns: int = 0
    got: int = 0
    expect: bytes = b""


def paced(port: int, rate: float, count: int, connections: int) -> Paced:
    """Open-loop pacing, closed-loop connections: request i is due at start + i/rate and
    goes out on any idle connection (each connection has at most one message in flight,
    so no message waits behind another's delay). RTT is counted from the actual send:
    per-message latency, as a closed-loop probe sees it, with the proxy under ``rate``."""
    sel = selectors.DefaultSelector()
    conns: list[_Conn] = []
    try:
        for _ in range(connections):
            sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conns.append(_Conn(sock))
        # One untimed echo on every connection first: a relay may dial its upstream only
        # now, and 64 dials at once would otherwise delay the first timed requests.
        prime = b"p" * MESSAGE
        for conn in conns:
            conn.sock.sendall(prime)
        for conn in conns:
            if _recv_exactly(conn.sock, MESSAGE, "paced probe (priming)") != prime:
                raise MeasurementError(f"paced probe via port {port}: priming echo differs")
            conn.sock.setblocking(False)
            sel.register(conn.sock, selectors.EVENT_READ, conn)
        with quiet_gc():
            return _run_paced(sel, conns, rate, count, port)
    except OSError as exc:
        raise MeasurementError(f"paced probe via port {port}: {exc}") from exc
    finally:
        sel.close()
        for conn in conns:
            conn.sock.close()


def _run_paced(
    sel: selectors.BaseSelector, conns: list[_Conn], rate: float, count: int, port: int
) -> Paced:
    idle = collections.deque(conns)
    rtts: list[float] = []
    gap = 1.0 / rate
    late = in_flight = max_in_flight = sent = 0
    start = time.perf_counter() + 0.02
    deadline = start + count * gap + IO_TIMEOUT
    while len(rtts) < count:
        now = time.perf_counter()
        if now > deadline:
            raise MeasurementError(
                f"paced probe via port {port}: {len(rtts)} of {count} echoes before the "
                f"deadline ({in_flight} in flight)"
            )
        while sent < count and idle and start + sent * gap <= now:
            conn = idle.popleft()
            conn.expect = sent.to_bytes(8, "big") * (MESSAGE // 8)
            conn.got = 0
            conn.sent_ns = time.perf_counter_ns()
            if conn.sock.send(conn.expect) != MESSAGE:  # 64 B into an idle socket
                raise MeasurementError(f"paced probe via port {port}: short send")
            if conn.sent_ns / 1e9 - (start + sent * gap) > 1e-3:
                late += 1
            sent += 1
            in_flight += 1
            max_in_flight = max(max_in_flight, in_flight)
        if sent < count and idle:
            timeout = max(0.0, start + sent * gap - time.perf_counter())
        else:
            timeout = 0.05
        for key, _ in sel.select(timeout):
            t_ns = time.perf_counter_ns()
            conn = key.data
            data = conn.sock.recv(4096)
            if not data:
                raise MeasurementError(f"paced probe via port {port}: connection closed")
            if data != conn.expect[conn.got : conn.got + len(data)]:
                raise MeasurementError(f"paced probe via port {port}: echo differs")
            conn.got += len(data)
            if conn.got >= MESSAGE:
                rtts.append((t_ns - conn.sent_ns) / 1e6)
                in_flight -= 1
                idle.append(conn)
    return Paced(rtts, late, max_in_flight, time.perf_counter() - start)


def free_port() -> int:
    """A port of 127.0.0.1 free right now (the OS's pick; reused by the caller at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])
