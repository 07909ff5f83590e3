"""Redis keyspaces seeded into a real Redis: counts, types, sizes, TTLs, determinism,
re-seeding, and the errors users see. Each test writes under its own key prefix in db 3
of the session's Redis and deletes its keys afterwards."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from orchestrator.blueprint.data import Keyspace, RedisType
from orchestrator.seed import redis as seeder
from orchestrator.seed.errors import SeedError

pytestmark = pytest.mark.local


@pytest.fixture
def url(redis_url: str) -> str:
    return urlsplit(redis_url)._replace(path="/3").geturl()


@pytest.fixture
def client(url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(url)
    yield conn
    conn.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    tag = f"t{uuid.uuid4().hex[:10]}:"
    yield tag
    keys = list(client.scan_iter(match=f"{tag}*", count=10_000))
    for at in range(0, len(keys), 10_000):
        client.delete(*keys[at : at + 10_000])


def keys_of(client: redis.Redis, pattern: str) -> list[bytes]:
    return sorted(client.scan_iter(match=pattern.replace("{id}", "*"), count=10_000))


def read(client: redis.Redis, key: bytes) -> tuple[str, Any]:
    """A key's type and whole content."""
    kind = client.type(key).decode()
    if kind == "string":
        return kind, client.get(key)
    if kind == "hash":
        return kind, client.hgetall(key)
    if kind == "list":
        return kind, client.lrange(key, 0, -1)
    if kind == "set":
        return kind, client.smembers(key)
    return kind, client.zrange(key, 0, -1, withscores=True)


def members(client: redis.Redis, key: bytes) -> list[bytes]:
    """A key's values: a string's value, a hash's field values, list/set/zset members."""
    kind, value = read(client, key)
    if kind == "string":
        return [value]
    if kind == "hash":
        return list(value.values())
    if kind == "zset":
        return [member for member, _ in value]
    return list(value)


def snapshot(client: redis.Redis, prefix: str) -> dict[bytes, tuple[str, Any]]:
    return {key: read(client, key) for key in keys_of(client, f"{prefix}*")}


def all_types(prefix: str) -> list[Keyspace]:
    return [
        Keyspace(pattern=f"{prefix}s:{{id}}", count=400, value_size=(4, 40), ttl=[60, 120]),
        Keyspace(pattern=f"{prefix}h:{{id}}", count=150, type=RedisType.hash, length=(1, 8)),
        Keyspace(
            pattern=f"{prefix}l:{{id}}", count=120, type=RedisType.list, length=(2, 9), ttl=[30, 40]
        ),
        Keyspace(pattern=f"{prefix}st:{{id}}", count=90, type=RedisType.set, length=(1, 25)),
        Keyspace(
            pattern=f"{prefix}z:{{id}}",
            count=60,
            type=RedisType.zset,
            length=(3, 6),
            value_size=(10, 20),
        ),
        Keyspace(pattern=f"{prefix}single", value_size=100),
    ]


def test_every_type_lands_as_declared(url: str, client: redis.Redis, prefix: str) -> None:
    keyspaces = all_types(prefix)
    started = time.monotonic()
    stats = seeder.load(url, keyspaces, seed=7, batch_keys=50)
    elapsed_ms = (time.monotonic() - started) * 1000

    assert [s.name for s in stats] == [ks.pattern for ks in keyspaces]
    for ks, st in zip(keyspaces, stats, strict=True):
        keys = keys_of(client, ks.pattern)
        assert len(keys) == ks.count == st.rows, ks.pattern
        assert st.kind == "keyspace"
        assert {client.type(k).decode() for k in keys} == {ks.type.value}
        values = [v for k in keys for v in members(client, k)]
        assert st.bytes == sum(map(len, values))
        assert all(v.isascii() and v.decode().isprintable() for v in values)
        sizes = [len(v) for v in values]
        assert ks.value_size[0] <= min(sizes) <= max(sizes) <= ks.value_size[1]
        if ks.value_size[0] < ks.value_size[1]:
            assert len(set(sizes)) > (ks.value_size[1] - ks.value_size[0]) // 2
        if ks.type is not RedisType.string:
            length = {
                RedisType.hash: client.hlen,
                RedisType.list: client.llen,
                RedisType.set: client.scard,
                RedisType.zset: client.zcard,
            }[ks.type]
            counts = [length(k) for k in keys]
            assert ks.length[0] <= min(counts) < max(counts) <= ks.length[1]
        ttls = [client.pttl(k) for k in keys]
        if ks.ttl is None:
            assert set(ttls) == {-1}
        else:
            lo, hi = ks.ttl[0] * 1000, ks.ttl[1] * 1000
            assert lo - elapsed_ms - 1000 <= min(ttls) <= max(ttls) <= hi
            assert len(set(ttls)) > 10


def test_hash_fields_are_named_f1_to_fn(url: str, client: redis.Redis, prefix: str) -> None:
    ks = Keyspace(pattern=f"{prefix}hf:{{id}}", count=30, type=RedisType.hash, length=(1, 6))
    seeder.load(url, [ks], seed=1)
    for key in keys_of(client, ks.pattern):
        fields = sorted(client.hkeys(key))
        assert fields == sorted(f"f{i}".encode() for i in range(1, len(fields) + 1))


def test_same_seed_same_data_whatever_the_batch_size(
    url: str, client: redis.Redis, prefix: str
) -> None:
    keyspaces = all_types(prefix)
    seeder.load(url, keyspaces, seed=7)
    first = snapshot(client, prefix)
    seeder.load(url, keyspaces, seed=7, batch_keys=7)
    assert snapshot(client, prefix) == first
    seeder.load(url, keyspaces, seed=7, batch_keys=1)
    assert snapshot(client, prefix) == first
    assert len(first) == sum(ks.count for ks in keyspaces)


def test_another_seed_gives_other_values(url: str, client: redis.Redis, prefix: str) -> None:
    ks = Keyspace(pattern=f"{prefix}o:{{id}}", count=200, value_size=(10, 30))
    seeder.load(url, [ks], seed=7)
    seven = snapshot(client, prefix)
    seeder.load(url, [ks], seed=8)
    eight = snapshot(client, prefix)
    assert seven.keys() == eight.keys()
    same = sum(seven[k] == eight[k] for k in seven)
    assert same == 0


def test_reseeding_replaces_rather_than_appends(url: str, client: redis.Redis, prefix: str) -> None:
    lists = Keyspace(pattern=f"{prefix}rl:{{id}}", count=40, type=RedisType.list, length=3)
    sets = Keyspace(pattern=f"{prefix}rs:{{id}}", count=40, type=RedisType.set, length=5)
    seeder.load(url, [lists, sets], seed=3)
    seeder.load(url, [lists, sets], seed=4)
    assert {client.llen(k) for k in keys_of(client, lists.pattern)} == {3}
    assert {client.scard(k) for k in keys_of(client, sets.pattern)} == {5}

    fewer = Keyspace(pattern=lists.pattern, count=40, type=RedisType.hash, length=1)
    seeder.load(url, [fewer], seed=3)
    assert {client.type(k) for k in keys_of(client, lists.pattern)} == {b"hash"}
    assert {client.hlen(k) for k in keys_of(client, lists.pattern)} == {1}


def test_a_keyspace_without_ttl_clears_an_old_one(
    url: str, client: redis.Redis, prefix: str
) -> None:
    with_ttl = Keyspace(pattern=f"{prefix}x:{{id}}", count=20, ttl=[100, 200])
    seeder.load(url, [with_ttl], seed=1)
    seeder.load(url, [Keyspace(pattern=with_ttl.pattern, count=20)], seed=1)
    assert {client.pttl(k) for k in keys_of(client, with_ttl.pattern)} == {-1}


def test_many_keys_in_many_batches(url: str, client: redis.Redis, prefix: str) -> None:
    ks = Keyspace(pattern=f"{prefix}m:{{id}}", count=50_000, value_size=(1, 8))
    (stats,) = seeder.load(url, [ks], seed=2, batch_keys=3_000)
    assert len(keys_of(client, ks.pattern)) == 50_000
    assert stats.rows == 50_000
    assert 50_000 <= stats.bytes <= 8 * 50_000
    assert client.exists(f"{prefix}m:50000") == 1
    assert client.exists(f"{prefix}m:50001") == 0


def test_progress_reports_during_a_load(
    url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seeder, "_PROGRESS_EVERY", 0.0)
    lines: list[str] = []
    ks = Keyspace(pattern=f"{prefix}p:{{id}}", count=1000)
    seeder.load(url, [ks], seed=1, batch_keys=100, progress=lines.append)
    assert len(lines) == 10
    assert lines[-1].startswith(f"{ks.pattern}: 1,000/1,000 keys")


def test_a_wrong_password_is_one_seed_error_without_it(url: str, prefix: str) -> None:
    parts = urlsplit(url)
    assert parts.password
    wrong = f"not-{parts.password}"
    bad = parts._replace(netloc=f":{wrong}@{parts.hostname}:{parts.port}").geturl()
    with pytest.raises(SeedError) as caught:
        seeder.load(bad, [Keyspace(pattern=f"{prefix}a")], seed=1, service="cache")
    shown = caught.value.render() + str(caught.value.as_dict())
    assert "refused the credentials" in shown
    assert "'cache'" in shown
    assert parts.password not in shown

    anonymous = parts._replace(netloc=f"{parts.hostname}:{parts.port}").geturl()
    with pytest.raises(SeedError, match="asks for a password and the URL has none"):
        seeder.load(anonymous, [Keyspace(pattern=f"{prefix}a")], seed=1)


def test_nothing_listening_is_one_seed_error(prefix: str) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SeedError, match=f"cannot connect to Redis at 127.0.0.1:{port}"):
        seeder.load(f"redis://:secret@127.0.0.1:{port}/0", [Keyspace(pattern="a")], seed=1)


def test_out_of_memory_names_the_command_and_pattern(
    url: str, client: redis.Redis, prefix: str
) -> None:
    config = client.config_get("maxmemory*")
    try:
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", "1")  # any write is over it
        for kind, command in ((RedisType.string, "SET"), (RedisType.hash, "HSET")):
            ks = Keyspace(pattern=f"{prefix}oom:{{id}}", count=100, type=kind)
            with pytest.raises(SeedError) as caught:
                seeder.load(url, [ks], seed=1)
            message = str(caught.value)
            assert f"redis refused {command} for {ks.pattern!r}" in message
            assert "OOM" in message
            assert "maxmemory" in (caught.value.hint or "")
    finally:
        client.config_set("maxmemory", config["maxmemory"])
        client.config_set("maxmemory-policy", config["maxmemory-policy"])
