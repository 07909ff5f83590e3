"""The Redis seeder's vectorised RESP, checked against redis-py's own packer, and the
content it encodes: sizes, members and TTLs in bounds, the same for any batch split."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from redis.connection import Connection

from orchestrator.blueprint.data import Keyspace, RedisType
from orchestrator.seed import redis as seeder
from orchestrator.seed.ragged import Ragged

SEED = 7


def ids(first: int, last: int) -> np.ndarray[Any, np.dtype[np.uint64]]:
    return np.arange(first, last + 1, dtype=np.uint64)


def items(r: Ragged) -> list[bytes]:
    raw = r.data.tobytes()
    return [raw[o : o + n] for o, n in zip(r.offsets.tolist(), r.lengths.tolist(), strict=True)]


def batch(ks: Keyspace, first: int = 1, last: int | None = None) -> seeder.Content:
    text = seeder.pool(SEED, ks.value_size[1])
    return seeder.content(ks, SEED, ids(first, ks.count if last is None else last), text)


def per_key(c: seeder.Content) -> list[list[bytes]]:
    """Each key's values (strings: one), with hash fields / zset scores interleaved."""
    values = items(c.values)
    pairs = items(c.pairs) if c.pairs is not None else None
    out, at = [], 0
    for count in c.counts.tolist():
        own = []
        for j in range(at, at + count):
            own += [pairs[j], values[j]] if pairs is not None else [values[j]]
        out.append(own)
        at += count
    return out


def reference(kind: RedisType, c: seeder.Content) -> bytes:
    """What redis-py would send for the same content, command by command."""
    keys = items(c.keys)
    ttls = [str(ms).encode() for ms in c.ttl_ms.tolist()] if c.ttl_ms is not None else None
    commands: list[list[bytes]] = []
    if kind is RedisType.string:
        for i, (key, (value,)) in enumerate(zip(keys, per_key(c), strict=True)):
            commands.append([b"SET", key, value, *([b"PX", ttls[i]] if ttls else [])])
    else:
        name = {"hash": b"HSET", "list": b"RPUSH", "set": b"SADD", "zset": b"ZADD"}[kind.value]
        commands.append([b"DEL", *keys])
        for i, (key, args) in enumerate(zip(keys, per_key(c), strict=True)):
            commands.append([name, key, *args])
            if ttls:
                commands.append([b"PEXPIRE", key, ttls[i]])
    packer = Connection()
    return b"".join(chunk for cmd in commands for chunk in packer.pack_command(*cmd))


KEYSPACES = [
    Keyspace(pattern="s:{id}", count=120, value_size=(0, 30)),
    Keyspace(pattern="s:{id}:t", count=15, value_size=16, ttl=[1.5, 90]),
    Keyspace(pattern="only-one", type=RedisType.string, value_size=(2000, 9000)),
    Keyspace(pattern="h:{id}", count=40, type=RedisType.hash, length=(1, 12), value_size=(0, 9)),
    Keyspace(pattern="h:{id}:{id}", count=11, type=RedisType.hash, length=3, ttl=5),
    Keyspace(pattern="l:{id}", count=30, type=RedisType.list, length=(1, 20), ttl=[1, 2]),
    Keyspace(pattern="st:{id}", count=25, type=RedisType.set, length=(1, 15), value_size=1),
    Keyspace(pattern="z:{id}", count=25, type=RedisType.zset, length=(2, 14), ttl=[3, 4]),
]


@pytest.mark.parametrize("ks", KEYSPACES, ids=lambda ks: f"{ks.type.value}-{ks.pattern}")
def test_resp_matches_redis_py_packer(ks: Keyspace) -> None:
    c = batch(ks)
    assert seeder.encode(ks.type, c).tobytes() == reference(ks.type, c)


@pytest.mark.parametrize("ks", KEYSPACES, ids=lambda ks: f"{ks.type.value}-{ks.pattern}")
def test_replies_count_one_per_command(ks: Keyspace) -> None:
    c = batch(ks)
    expected = reference(ks.type, c).count(b"\r\n*") + 1  # commands packed
    replies = seeder.Replies.of(ks.type, ks.ttl is not None)
    assert replies.count(ks.count) == expected


def test_replies_say_which_command_and_key() -> None:
    replies = seeder.Replies.of(RedisType.hash, ttl=True)
    assert replies.answered(0) == ("DEL", 0)
    assert replies.answered(1) == ("HSET", 0)
    assert replies.answered(2) == ("PEXPIRE", 0)
    assert replies.answered(5) == ("HSET", 2)
    assert replies.answered(6) == ("PEXPIRE", 2)
    assert seeder.Replies.of(RedisType.string, ttl=True).answered(9) == ("SET", 9)


def test_key_names_fill_every_id() -> None:
    assert items(seeder.key_names("a:{id}:b:{id}", ids(9, 11))) == [
        b"a:9:b:9",
        b"a:10:b:10",
        b"a:11:b:11",
    ]
    assert items(seeder.key_names("plain", ids(1, 1))) == [b"plain"]


@pytest.mark.parametrize("ks", KEYSPACES, ids=lambda ks: f"{ks.type.value}-{ks.pattern}")
def test_any_batch_split_gives_the_same_content(ks: Keyspace) -> None:
    cut = max(1, ks.count // 3)
    head, rest = batch(ks, 1, cut), batch(ks, cut + 1)
    assert per_key(head) + per_key(rest) == per_key(batch(ks))
    assert ttls(head) + ttls(rest) == ttls(batch(ks))


def ttls(c: seeder.Content) -> list[int]:
    return [] if c.ttl_ms is None else c.ttl_ms.tolist()


def test_string_sizes_spread_over_the_range_in_printable_ascii() -> None:
    ks = Keyspace(pattern="size:{id}", count=3000, value_size=(4, 40))
    c = batch(ks)
    assert c.values.lengths.min() == 4
    assert c.values.lengths.max() == 40
    assert len(set(c.values.lengths.tolist())) == 37
    assert c.values.data.min() >= 0x21
    assert c.values.data.max() <= 0x7E
    assert len(set(items(c.values))) > 2900  # slices of a large pool rarely repeat


def test_lengths_and_ttls_stay_in_bounds() -> None:
    ks = Keyspace(
        pattern="b:{id}",
        count=500,
        type=RedisType.list,
        length=(2, 9),
        value_size=(3, 5),
        ttl=[0.25, 2],
    )
    c = batch(ks)
    assert set(c.counts.tolist()) == set(range(2, 10))
    assert set(c.values.lengths.tolist()) == {3, 4, 5}
    assert c.ttl_ms is not None
    assert c.ttl_ms.min() >= 250
    assert c.ttl_ms.max() <= 2000


@pytest.mark.parametrize("kind", [RedisType.set, RedisType.zset])
def test_members_are_distinct_within_a_key(kind: RedisType) -> None:
    ks = Keyspace(pattern="d:{id}", count=50, type=kind, length=(20, 40), value_size=(0, 2))
    c = batch(ks)
    at = 0
    for count in c.counts.tolist():
        members = items(c.values)[at : at + count]
        assert len(set(members)) == count
        at += count


def test_zset_scores_are_decimal_floats() -> None:
    ks = Keyspace(pattern="zs:{id}", count=20, type=RedisType.zset, length=5)
    c = batch(ks)
    assert c.pairs is not None
    scores = [float(s) for s in items(c.pairs)]
    assert all(0 <= s < 1_000_000 for s in scores)
    assert len(set(scores)) == len(scores)


def test_seed_and_pattern_each_change_the_values() -> None:
    ks = Keyspace(pattern="v:{id}", count=50, value_size=(8, 24))
    other = Keyspace(pattern="w:{id}", count=50, value_size=(8, 24))
    text = seeder.pool(SEED + 1, 24)
    reseeded = seeder.content(ks, SEED + 1, ids(1, 50), text)
    assert items(reseeded.values) != items(batch(ks).values)
    assert items(batch(other).values) != items(batch(ks).values)
