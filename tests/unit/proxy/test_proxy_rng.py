"""Seeded per-(proxy, connection, toxic) streams."""

from __future__ import annotations

from orchestrator.proxy.rng import new_seed, stream_seed, toxic_stream


def test_same_key_same_stream() -> None:
    a = toxic_stream(7, "db", 3, "lat")
    b = toxic_stream(7, "db", 3, "lat")
    assert [a.random() for _ in range(5)] == [b.random() for _ in range(5)]


def test_every_key_part_matters() -> None:
    base = stream_seed(7, "db", 3, "lat")
    others = {
        stream_seed(8, "db", 3, "lat"),
        stream_seed(7, "db2", 3, "lat"),
        stream_seed(7, "db", 4, "lat"),
        stream_seed(7, "db", 3, "lat2"),
        # no ambiguity from joining the parts
        stream_seed(7, "db\x003", 3, "lat"),
    }
    assert base not in others
    assert len(others) == 5


def test_new_seeds_differ() -> None:
    assert len({new_seed() for _ in range(10)}) == 10
