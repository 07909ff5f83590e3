"""One relayed TCP connection: two sockets ("legs"), two directions, a fault chain on each.

Directions use Toxiproxy's names: ``upstream`` is client → server, ``downstream`` is
server → client. With no toxic on a direction, ``data_received`` writes straight to the
other leg (the fast path: one ``transport.write`` per read, about socat's throughput);
otherwise chunks go through the direction's chain of stages (``faults/base.py``).

Flow control: a leg stops reading while any *reason* holds — the other leg's write
buffer is above its high-water mark, the direction's stages hold more than ``MAX_HELD``
bytes, the upstream is still connecting, or a ``down`` blackhole is on. Memory per
connection is therefore bounded however slow the reader or long the delay.

Upstream connect failure: the client was already accepted (the kernel completes the
handshake before we even know), so, like Toxiproxy, we accept then close — with an RST
rather than Toxiproxy's FIN, so the client reports "connection reset" instead of reading
an empty but apparently graceful response.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
from typing import Protocol, cast

from orchestrator.proxy.faults import CLOSE, DATA, EOF, STAGES, Chunk, Send, Stage
from orchestrator.proxy.metrics import ProxyMetrics
from orchestrator.proxy.model import Toxic
from orchestrator.proxy.rng import toxic_stream
from orchestrator.proxy.timing import Clock

log = logging.getLogger(__name__)

# Big buffers keep pause/resume churn off the fast path (64 KiB default high-water mark
# costs ~20% throughput on loopback).
WRITE_HIGH = 4 * 1024 * 1024
WRITE_LOW = 1024 * 1024
MAX_HELD = 8 * 1024 * 1024  # bytes parked in one direction's stages before reading stops
CONNECT_TIMEOUT = 10.0

# Why a leg is not reading.
CONNECTING = "connecting"
BUFFER = "peer write buffer full"
QUEUE = "fault queue full"
DOWN = "down (blackhole)"


class ConnectionHost(Protocol):
    """What a connection needs from the proxy that accepted it (``server.py``)."""

    @property
    def name(self) -> str: ...

    @property
    def seed(self) -> int: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def metrics(self) -> ProxyMetrics: ...

    def connection_opened(self, conn: Connection) -> None:
        """The client is connected: register it and ``conn.apply_toxics(...)``."""

    def connection_closed(self, conn: Connection) -> None:
        """Forget it and fold its byte counts into the proxy's metrics."""


class Leg(asyncio.Protocol):
    """One socket of a relayed connection: the client's, or the one to the upstream."""

    out: Direction  # data read here goes this way
    inbound: Direction  # data written here comes this way

    def __init__(self, conn: Connection, side: str) -> None:
        self.conn = conn
        self.side = side
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._pauses: set[str] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._pauses:
            transport.pause_reading()
        self.conn.leg_made(self)
        # uvloop (0.23) starts reading *after* connection_made returns, undoing any pause
        # made in it; pause again once that has happened. What is read in between is
        # queued by the direction (see Direction.dst_connected), not lost.
        asyncio.get_running_loop().call_soon(self._repause)

    def _repause(self) -> None:
        if self._pauses and self._live():
            assert self.transport is not None
            self.transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        out = self.out
        fast = out.fast
        if fast is not None:
            fast.write(data)
            out.fast_bytes += len(data)
        else:
            out.feed(data)

    def eof_received(self) -> bool:
        self.out.feed_end()
        return True  # keep the socket half-open: the other direction may still flow

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.conn.leg_lost(self, exc)

    def pause_writing(self) -> None:
        self.inbound.src.pause(BUFFER)

    def resume_writing(self) -> None:
        self.inbound.src.resume(BUFFER)

    def pause(self, reason: str) -> None:
        if not self._pauses and self._live():
            assert self.transport is not None
            self.transport.pause_reading()
        self._pauses.add(reason)

    def resume(self, reason: str) -> None:
        if reason not in self._pauses:
            return
        self._pauses.discard(reason)
        if not self._pauses and self._live():
            assert self.transport is not None
            self.transport.resume_reading()

    def _live(self) -> bool:
        return self.transport is not None and not self.lost and not self.conn.closed


class Direction:
    """One way through a connection; also the ``StageContext`` its stages talk to."""

    def __init__(self, conn: Connection, stream: str, src: Leg, dst: Leg) -> None:
        self.conn = conn
        self.stream = stream
        self.src = src
        self.dst = dst
        self.stages: list[Stage] = []
        self.head: Send = self.sink
        self.fast: asyncio.Transport | None = None  # set when there is no stage
        self.fast_bytes = 0  # forwarded on the fast path (received == sent there)
        self.received = 0  # read, then passed to the chain
        self.sent = 0  # written by the sink
        self.held = 0
        self.ended = False  # the source's end of stream was read
        self.done = False  # the end reached the destination, or the destination is gone
        self._pending: list[bytes | None] = []  # for a destination still connecting

    # -- StageContext -----------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self.conn.clock

    def hold(self, nbytes: int) -> None:
        self.held += nbytes
        if self.held > MAX_HELD:
            self.src.pause(QUEUE)
        elif self.held <= MAX_HELD // 2:
            self.src.resume(QUEUE)

    def reset_connection(self, reason: str) -> None:
        self.conn.reset(reason)

    def delay_applied(self, toxic: Toxic, seconds: float) -> None:
        self.conn.host.metrics.delay_applied(toxic.name, toxic.type, toxic.stream, seconds)

    # -- data path ----------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.ended:
            return
        self.received += len(data)
        self.head(Chunk(data, self.conn.clock.now()))

    def feed_end(self) -> None:
        if self.ended:
            return
        self.ended = True
        self.head(Chunk(b"", self.conn.clock.now(), EOF))

    def sink(self, chunk: Chunk) -> None:
        """The end of the chain: write to the destination leg."""
        if chunk.kind == CLOSE:
            self.conn.close(f"a fault on {self.stream} closed the connection")
            return
        if self.done:
            return
        transport = self.dst.transport
        if chunk.kind == DATA:
            if transport is None:
                self._pending.append(chunk.data)
                return
            transport.write(chunk.data)
            self.sent += len(chunk.data)
        elif chunk.kind == EOF:
            if transport is None:
                self._pending.append(None)  # delivered once the upstream connects
                return
            self._deliver_eof(transport)

    def _deliver_eof(self, transport: asyncio.Transport) -> None:
        self.done = True
        self.refresh()
        with contextlib.suppress(OSError, RuntimeError):
            transport.write_eof()
        self.conn.direction_done()

    def dst_connected(self) -> None:
        """The upstream answered: send what the client sent meanwhile (with uvloop a
        client's first bytes, even its end of stream, can arrive before that)."""
        transport = self.dst.transport
        assert transport is not None
        pending, self._pending = self._pending, []
        for data in pending:
            if data is None:
                self._deliver_eof(transport)
                return
            transport.write(data)
            self.sent += len(data)
        self.refresh()

    def dst_lost(self) -> None:
        self.done = True
        self._pending.clear()
        self.shutdown()

    def refresh(self) -> None:
        transport = self.dst.transport
        fast = not self.stages and not self.done and not self.dst.lost and not self._pending
        self.fast = transport if fast and transport is not None else None

    # -- faults -------------------------------------------------------------------------

    def set_stages(self, wanted: list[tuple[Toxic, random.Random]]) -> None:
        """Rebuild the chain for ``wanted`` (in order), keeping the state of stages whose
        toxic stays; removed stages hand what they hold to their successor, now."""
        if self.done or self.conn.closed:
            return
        current = {stage.toxic.name: stage for stage in self.stages}
        stages: list[Stage] = []
        kept: set[int] = set()
        for toxic, rng in wanted:
            stage = current.get(toxic.name)
            if stage is not None and stage.toxic.type == toxic.type:
                if stage.toxic != toxic:
                    stage.update(toxic)
                kept.add(id(stage))
            else:
                stage = STAGES[toxic.type](toxic, self, rng)
            stages.append(stage)
        following: Send = self.sink
        for stage in reversed(stages):
            stage.next = following
            following = stage
        removed = [s for s in self.stages if id(s) not in kept]
        old, self.stages, self.head = self.stages, stages, following
        self.refresh()
        if not removed:
            return
        # Flush downstream-first: a later stage holds older bytes than an earlier one, so
        # its queue must reach the successor before the earlier stage's does.
        successor: Send = self.sink
        for stage in reversed(old):
            if id(stage) in kept:
                successor = stage
                continue
            stage.next = successor
            stage.flush()

    def shutdown(self) -> None:
        for stage in self.stages:
            stage.close()
        self.stages = []
        self.head = self.sink
        self.fast = None


class Connection:
    """A client connection and its upstream connection, relayed through the faults."""

    def __init__(self, host: ConnectionHost, number: int, upstream: tuple[str, int]) -> None:
        self.host = host
        self.number = number
        self.upstream = upstream
        self.label = f"{host.name}#{number}"
        self.clock = host.clock
        self.client = Leg(self, "client")
        self.server = Leg(self, "upstream")
        self.up = Direction(self, "upstream", self.client, self.server)
        self.down = Direction(self, "downstream", self.server, self.client)
        self.client.out, self.client.inbound = self.up, self.down
        self.server.out, self.server.inbound = self.down, self.up
        self.closed = False
        self.blackholed = False
        self._rolls: dict[str, tuple[float, random.Random]] = {}
        self._fired: set[str] = set()
        self._connecting: asyncio.Task[None] | None = None
        self.client.pause(CONNECTING)  # nothing to forward to yet

    # -- lifecycle ----------------------------------------------------------------------

    def leg_made(self, leg: Leg) -> None:
        if leg is self.client:
            self.host.connection_opened(self)  # applies the toxics: may reset us
            self._maybe_connect()
            return
        if self.closed:  # closed while the upstream was connecting
            assert leg.transport is not None
            leg.transport.close()
            return
        self.up.dst_connected()
        self.down.refresh()
        self.client.resume(CONNECTING)

    def _maybe_connect(self) -> None:
        if (
            self._connecting is None
            and not self.closed
            and not self.blackholed
            and self.client.transport is not None
        ):
            self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        host, port = self.upstream
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await loop.create_connection(lambda: self.server, host, port)
        except (OSError, TimeoutError) as exc:
            if not self.closed:
                log.info("%s: upstream %s:%d unreachable (%s)", self.label, host, port, exc)
                self.reset(f"upstream unreachable: {exc}")

    def leg_lost(self, leg: Leg, exc: Exception | None) -> None:
        if self.closed:
            return
        if leg is self.client and self.server.transport is None:
            self.close("the client left before the upstream connection was made")
            return
        leg.inbound.dst_lost()  # nothing more can be written to it
        leg.out.feed_end()  # what it sent is complete: pass the end on, after its data
        self.direction_done()

    def direction_done(self) -> None:
        if self.up.done and self.down.done:
            self.close("both directions finished")

    def close(self, reason: str) -> None:
        """Close both sides gracefully: buffered data is flushed, then FIN."""
        self._shutdown(reason, rst=False)

    def reset(self, reason: str) -> None:
        """Close both sides with an RST: SO_LINGER 0, set only here (Toxiproxy #603)."""
        self._shutdown(reason, rst=True)

    def _shutdown(self, reason: str, *, rst: bool) -> None:
        if self.closed:
            return
        self.closed = True
        log.debug("%s: %s (%s)", self.label, "reset" if rst else "closed", reason)
        if self._connecting is not None:
            self._connecting.cancel()
        self.up.shutdown()
        self.down.shutdown()
        for leg in (self.client, self.server):
            transport = leg.transport
            if transport is None or leg.lost:
                continue
            if rst:
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                transport.abort()
            else:
                transport.close()
        self.host.connection_closed(self)

    # -- faults -------------------------------------------------------------------------

    def apply_toxics(self, toxics: list[Toxic]) -> None:
        """Make the connection follow the proxy's current toxics (called on every change)."""
        if self.closed:
            return
        up: list[tuple[Toxic, random.Random]] = []
        down: list[tuple[Toxic, random.Random]] = []
        blackhole = False
        for toxic in toxics:
            rng = self._roll(toxic)
            if rng is None:
                continue
            if toxic.type == "down":
                if toxic.attributes["mode"] == "refuse":
                    self.reset(f"down toxic {toxic.name!r} refuses connections")
                    return
                blackhole = True
            else:
                (up if toxic.stream == "upstream" else down).append((toxic, rng))
        self.up.set_stages(up)
        self.down.set_stages(down)
        if not self.closed:
            self._set_blackhole(blackhole)

    def _roll(self, toxic: Toxic) -> random.Random | None:
        """This connection's toxicity decision for ``toxic``: its seeded stream if the toxic
        applies, else None. Rolled once per connection and toxic name, never re-rolled:
        a toxicity update moves the threshold, not the roll."""
        rolled = self._rolls.get(toxic.name)
        if rolled is None:
            rng = toxic_stream(self.host.seed, self.host.name, self.number, toxic.name)
            rolled = self._rolls[toxic.name] = (rng.random(), rng)
            log.debug(
                "%s: toxic %r roll %.6f vs toxicity %g: %s",
                self.label,
                toxic.name,
                rolled[0],
                toxic.toxicity,
                "applies" if rolled[0] < toxic.toxicity else "skipped",
            )
        roll, rng = rolled
        if roll >= toxic.toxicity:  # toxicity 0 never applies, 1 always (roll < 1)
            return None
        if toxic.name not in self._fired:
            self._fired.add(toxic.name)
            self.host.metrics.fault_fired(toxic.name, toxic.type, toxic.stream)
        return rng

    def _set_blackhole(self, on: bool) -> None:
        if on == self.blackholed:
            return
        self.blackholed = on
        log.debug("%s: blackhole %s", self.label, "on" if on else "off")
        for leg in (self.client, self.server):
            if on:
                leg.pause(DOWN)
            else:
                leg.resume(DOWN)
        if not on:
            self._maybe_connect()


_LINGER_RST = struct.pack("ii", 1, 0)
