"""Redis keyspaces, written as raw RESP built for a whole batch of keys at once.

redis-py packs each command's arguments and parses each reply in Python, a few
microseconds apiece: a million-key keyspace would wait seconds on the client. Here a
batch's commands (``SET``, or ``DEL`` then ``HSET``/``RPUSH``/``SADD``/``ZADD`` then
``PEXPIRE``) are laid out in one ``uint8`` buffer with ``ragged``, written on one
connection that redis-py opened and authenticated, and the replies (one line each) are
counted rather than parsed. One batch is in flight while the next is built, so Redis and
numpy work at the same time; batches keep memory bounded.

A key's size, members, score and TTL are pure functions of (seed, pattern, key number,
purpose) through ``hashing``, so the same seed gives the same data whatever the batch
size. ``bytes`` in the stats counts values and members, not key names, field names or
scores.
"""

from __future__ import annotations

import functools
import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import redis

from orchestrator.blueprint.data import Keyspace, RedisType
from orchestrator.seed import hashing
from orchestrator.seed.errors import SeedError
from orchestrator.seed.ragged import Ragged, decimal, join
from orchestrator.seed.stats import TargetStats

log = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_POOL_SIZE = 1 << 20  # values are slices of this many seeded printable bytes
_BATCH_BYTES = 64 << 20  # rough ceiling on one batch's RESP, whatever batch_keys says
_PROGRESS_EVERY = 2.0
_COMMAND = {
    RedisType.hash: "HSET",
    RedisType.list: "RPUSH",
    RedisType.set: "SADD",
    RedisType.zset: "ZADD",
}


@dataclass(frozen=True)
class Content:
    """What one batch of keys holds, before it is encoded.

    ``values`` has one entry per key for strings; for the other types one per member,
    key after key, ``counts[i]`` of them for key ``i``. ``pairs`` is the argument that
    goes before each value: a hash's field name, a zset's score (``None`` otherwise).
    """

    keys: Ragged
    values: Ragged
    counts: I64
    pairs: Ragged | None
    ttl_ms: I64 | None


def pool(seed: int, longest: int) -> U8:
    """The printable bytes every value of ``seed`` is cut from, ``longest`` of them
    repeated past the end so that a slice starting anywhere in the first ``_POOL_SIZE``
    bytes fits."""
    rows = np.arange(_POOL_SIZE // 8, dtype=np.uint64)
    raw = hashing.bits(hashing.key(seed, "redis", "pool"), rows).view(np.uint8)
    text = np.frombuffer(_ALPHABET, dtype=np.uint8)[raw & 63]
    return np.resize(text, _POOL_SIZE + longest)


def content(ks: Keyspace, seed: int, ids: npt.NDArray[np.uint64], text: U8) -> Content:
    """Keys ``ids`` (1-based numbers) of ``ks``; ``text`` is ``pool(seed, max value size)``."""

    def stream(purpose: str) -> int:
        return hashing.key(seed, "redis", ks.pattern, purpose)

    keys = key_names(ks.pattern, ids)
    ttl_ms = None
    if ks.ttl is not None:
        lo = max(1, round(ks.ttl[0] * 1000))
        ttl_ms = _uniform(stream("ttl"), ids, lo, max(lo, round(ks.ttl[1] * 1000)))
    if ks.type is RedisType.string:
        sizes = _uniform(stream("size"), ids, *ks.value_size)
        values = _slices(text, stream("start"), ids, sizes)
        return Content(keys, values, np.ones(len(ids), dtype=np.int64), None, ttl_ms)

    counts = _uniform(stream("length"), ids, *ks.length)
    owner = np.repeat(np.arange(len(ids)), counts)
    first = np.cumsum(counts) - counts
    number = np.arange(int(counts.sum()), dtype=np.int64) - first[owner] + 1  # 1 … count
    # A member's own stream row: its key's number and its place in the key.
    rows = (ids[owner] << np.uint64(32)) | number.astype(np.uint64)
    sizes = _uniform(stream("member-size"), rows, *ks.value_size)
    pairs = None
    if ks.type in (RedisType.list, RedisType.hash):
        values = _slices(text, stream("member-start"), rows, sizes)
        if ks.type is RedisType.hash:
            pairs = _concat([b"f", _digits(number)], len(number))
    else:
        # Distinct within the key: the member number and ':' lead, the text fills the rest.
        head = _concat([_digits(number), b":"], len(number))
        rest = np.maximum(sizes - head.lengths, 0)
        values = join([head, _slices(text, stream("member-start"), rows, rest)])
        if ks.type is RedisType.zset:
            score = _uniform(stream("score"), rows, 0, 10**9 - 1)
            fraction = decimal(score % 1000, pad=3)
            pairs = _concat([decimal(score // 1000), b".", fraction], len(score))
    return Content(keys, values, counts, pairs, ttl_ms)


def key_names(pattern: str, ids: npt.NDArray[np.uint64]) -> Ragged:
    """``pattern`` with each ``{id}`` replaced by the key's number."""
    parts = pattern.encode().split(b"{id}")
    number = decimal(ids.astype(np.int64))
    out = [Ragged.constant(parts[0], len(ids))]
    for part in parts[1:]:
        out += [number, Ragged.constant(part, len(ids))]
    return join(out)


def _uniform(stream: int, rows: npt.NDArray[np.uint64], lo: int, hi: int) -> I64:
    if lo == hi:
        return np.full(len(rows), lo, dtype=np.int64)
    return lo + hashing.below(stream, rows, hi - lo + 1).astype(np.int64)


def _slices(text: U8, stream: int, rows: npt.NDArray[np.uint64], sizes: I64) -> Ragged:
    starts = hashing.below(stream, rows, _POOL_SIZE).astype(np.int64)
    return Ragged(np.array([len(text)], dtype=np.int64), text).slices(starts, sizes)


def encode(kind: RedisType, c: Content) -> U8:
    """The RESP of a batch: a ``SET`` per string key; for the other types one ``DEL`` of
    every key in the batch (so that seeding again replaces rather than appends), then
    per key its write and, with a TTL, ``PEXPIRE``. ``Replies`` says what answers what."""
    n = len(c.keys)
    key = _bulk(c.keys)
    if kind is RedisType.string:
        head = "*5\r\n$3\r\nSET\r\n" if c.ttl_ms is not None else "*3\r\n$3\r\nSET\r\n"
        tail = [b"$2\r\nPX\r\n", *_bulk(_ttl(c.ttl_ms))] if c.ttl_ms is not None else []
        return _concat([head.encode(), *key, *_bulk(c.values), *tail], n).data

    # One DEL for the batch: a command per key would cost Redis as much as the write.
    delete = f"*{n + 1}\r\n$3\r\nDEL\r\n".encode()
    member = [*(_bulk(c.pairs) if c.pairs is not None else []), *_bulk(c.values)]
    members = _concat(member, len(c.values))
    group_starts = np.cumsum(c.counts) - c.counts
    grouped = Ragged(np.add.reduceat(members.lengths, group_starts), members.data)
    argc = 2 + c.counts * (2 if c.pairs is not None else 1)
    name = _COMMAND[kind]
    parts: list[bytes | Ragged] = [b"*", _digits(argc), f"\r\n${len(name)}\r\n{name}\r\n".encode()]
    parts += [*key, grouped]
    if c.ttl_ms is not None:
        parts += [b"*3\r\n$7\r\nPEXPIRE\r\n", *key, *_bulk(_ttl(c.ttl_ms))]
    writes = _concat(parts, n).data
    return np.concatenate([np.frombuffer(delete, dtype=np.uint8), _concat(key, n).data, writes])


def _ttl(ms: I64) -> Ragged:
    digits = _digits(ms)
    return Ragged.constant(digits, len(ms)) if isinstance(digits, bytes) else digits


@dataclass(frozen=True)
class Replies:
    """What a batch's replies answer: ``once`` commands for the whole batch, then
    ``each`` for every key in turn."""

    once: tuple[str, ...]
    each: tuple[str, ...]

    @staticmethod
    def of(kind: RedisType, ttl: bool) -> Replies:
        if kind is RedisType.string:
            return Replies((), ("SET",))
        return Replies(("DEL",), (_COMMAND[kind], *(("PEXPIRE",) if ttl else ())))

    def count(self, keys: int) -> int:
        return len(self.once) + keys * len(self.each)

    def answered(self, index: int) -> tuple[str, int]:
        """Reply ``index``'s command and its key's place in the batch (0 for the batch)."""
        if index < len(self.once):
            return self.once[index], 0
        index -= len(self.once)
        return self.each[index % len(self.each)], index // len(self.each)


def _bulk(r: Ragged) -> list[bytes | Ragged]:
    return [b"$", _digits(r.lengths), b"\r\n", r, b"\r\n"]


def _digits(values: I64) -> bytes | Ragged:
    """``decimal``, faster for what RESP mostly writes: lengths that are all the same in a
    batch (one constant) or small (read from a table)."""
    if len(values) and values.min() == values.max():
        return str(int(values[0])).encode()
    if len(values) and values.min() >= 0 and values.max() < _SMALL:
        return _small().take(values)
    return decimal(values)


_SMALL = 1 << 14


@functools.cache
def _small() -> Ragged:
    return Ragged.from_strings([str(i) for i in range(_SMALL)])


def _concat(parts: Sequence[bytes | Ragged], n: int) -> Ragged:
    # Adjacent constants become one, so join copies as few pieces as it can.
    merged: list[bytes | Ragged] = []
    for part in parts:
        if isinstance(part, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += part
        else:
            merged.append(part)
    return join([Ragged.constant(p, n) if isinstance(p, bytes) else p for p in merged])


def load(
    url: str,
    keyspaces: Sequence[Keyspace],
    seed: int,
    *,
    service: str = "cache",
    batch_keys: int = 20000,
    progress: Callable[[str], None] | None = None,
) -> list[TargetStats]:
    """Fill ``keyspaces`` on the Redis at ``url``, replacing keys of the same names.

    ``batch_keys`` keys go per write (fewer when their values are large); ``progress`` is
    called with a short line about every two seconds. Any failure is one ``SeedError``.
    """
    if batch_keys < 1:
        raise ValueError(f"batch_keys must be at least 1, got {batch_keys!r}")
    wire = _Wire(url, service)
    try:
        return [_fill(wire, ks, seed, batch_keys, progress) for ks in keyspaces]
    finally:
        wire.close()


def _fill(
    wire: _Wire,
    ks: Keyspace,
    seed: int,
    batch_keys: int,
    progress: Callable[[str], None] | None,
) -> TargetStats:
    started = time.monotonic()
    text = pool(seed, ks.value_size[1])
    step = _batch_size(ks, batch_keys)
    replies = Replies.of(ks.type, ks.ttl is not None)
    written = 0
    in_flight: tuple[int, int] | None = None
    next_report = started + _PROGRESS_EVERY
    for first in range(1, ks.count + 1, step):
        ids = np.arange(first, min(first + step, ks.count + 1), dtype=np.uint64)
        batch = content(ks, seed, ids, text)
        payload = encode(ks.type, batch)
        written += int(batch.values.lengths.sum())
        # Redis works on the previous batch while this one is built; now collect it.
        if in_flight is not None:
            wire.confirm(ks, replies, *in_flight)
        wire.send(payload, ks)
        in_flight = (first, len(ids))
        now = time.monotonic()
        if progress is not None and now >= next_report:
            done = first + len(ids) - 1
            rate = done / (now - started)
            progress(f"{ks.pattern}: {done:,}/{ks.count:,} keys ({rate:,.0f} keys/s)")
            next_report = now + _PROGRESS_EVERY
    if in_flight is not None:
        wire.confirm(ks, replies, *in_flight)
    seconds = time.monotonic() - started
    log.info(
        "seeded %s: %d %s keys, %d value bytes in %.2fs",
        ks.pattern,
        ks.count,
        ks.type.value,
        written,
        seconds,
    )
    return TargetStats(ks.pattern, "keyspace", ks.count, written, seconds)


def _batch_size(ks: Keyspace, batch_keys: int) -> int:
    # Bound a batch's RESP by its largest possible size, not by the key count alone.
    key_name = len(ks.pattern.encode()) + 20 * ks.pattern.count("{id}")
    value = ks.value_size[1] + 40  # with its length header, field name or score
    members = value if ks.type is RedisType.string else value * ks.length[1]
    return max(1, min(batch_keys, _BATCH_BYTES // (3 * key_name + 100 + members)))


class _Wire:
    """One connection, opened and authenticated by redis-py, then used as a raw socket."""

    def __init__(self, url: str, service: str) -> None:
        self.service = service
        try:
            self._client = redis.Redis.from_url(url, socket_connect_timeout=10, socket_timeout=120)
        except ValueError as exc:
            raise SeedError(service, f"not a Redis URL: {exc}") from exc
        options = self._client.connection_pool.connection_kwargs
        self._secret = str(options.get("password") or "")
        self.where = str(
            options.get("path") or f"{options.get('host', 'localhost')}:{options.get('port', 6379)}"
        )
        try:
            # PING first, so a missing password fails as that rather than on the first SET;
            # the pool then hands back the same, connected, connection.
            self._client.ping()
            self._conn = self._client.connection_pool.get_connection()
        except redis.AuthenticationError as exc:
            self.close()
            reason = f"refused the credentials: {self._scrub(exc)}"
            if not self._secret:
                reason = "asks for a password and the URL has none"
            raise SeedError(
                service,
                f"Redis at {self.where} {reason}",
                hint="check the password the service's URL carries",
            ) from exc
        except (redis.RedisError, OSError) as exc:
            self.close()
            raise SeedError(
                service, f"cannot connect to Redis at {self.where}: {self._scrub(exc)}"
            ) from exc
        sock = getattr(self._conn, "_sock", None)
        if not isinstance(sock, socket.socket):
            self.close()
            raise SeedError(service, f"redis-py gave no socket for Redis at {self.where}")
        self._sock = sock

    def send(self, payload: U8, ks: Keyspace) -> None:
        try:
            self._sock.sendall(payload.data)
        except OSError as exc:
            # Redis may have said why before it hung up (a query buffer over its limit).
            raise self._lost(ks, exc, _error_line(self._leftover())) from exc

    def confirm(self, ks: Keyspace, replies: Replies, first: int, keys: int) -> None:
        """Read the replies to ``keys`` keys from key number ``first``; raise on an error."""
        expected = replies.count(keys)
        received = bytearray()
        lines = 0
        try:
            while lines < expected:
                chunk = self._sock.recv(1 << 20)
                if not chunk:
                    break
                lines += chunk.count(b"\n")
                received += chunk
        except OSError as exc:
            raise self._lost(ks, exc, _error_line(received)) from exc
        error = _error_line(received)
        if error is not None:
            index, text = error
            command, place = replies.answered(index)
            key = ks.pattern.replace("{id}", str(first + place))
            hint = None
            if text.startswith("OOM"):
                hint = "Redis's maxmemory is smaller than the data: raise it, or seed fewer keys"
            raise SeedError(
                self.service,
                f"redis refused {command} for {ks.pattern!r} (key {key!r}): {self._scrub(text)}",
                hint=hint,
            )
        if lines < expected:
            raise self._lost(ks, ConnectionResetError("Redis closed the connection"), None)

    def close(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.disconnect()
        self._client.close()

    def _leftover(self) -> bytes:
        try:
            self._sock.settimeout(1.0)
            return self._sock.recv(1 << 20)
        except OSError:
            return b""

    def _lost(self, ks: Keyspace, exc: OSError, error: tuple[int, str] | None) -> SeedError:
        reason = error[1] if error is not None else str(exc) or type(exc).__name__
        return SeedError(
            self.service,
            f"lost the connection to Redis at {self.where} while seeding {ks.pattern!r}: "
            f"{self._scrub(reason)}",
        )

    def _scrub(self, error: object) -> str:
        # Nothing redis-py raises carries the password today; make sure of it.
        text = str(error)
        return text.replace(self._secret, "***") if self._secret else text


def _error_line(replies: bytes | bytearray) -> tuple[int, str] | None:
    """The first error reply among one-line replies: its index and text."""
    if not replies.startswith(b"-") and b"\n-" not in replies:
        return None
    for index, line in enumerate(bytes(replies).split(b"\r\n")):
        if line.startswith(b"-"):
            return index, line[1:].decode(errors="replace")
    return None
