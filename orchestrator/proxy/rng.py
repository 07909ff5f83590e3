"""Reproducible randomness: one independent stream per (seed, proxy, connection, toxic).

Toxiproxy draws every decision from one global RNG (and its ``-seed`` flag has done
nothing since v2.9), so a flaky run cannot be replayed. Here a toxic's random values on a
connection are a pure function of the server seed, the proxy name, the connection's
number on that proxy and the toxic name: the same seed replays the same decisions and the
same sampled delays, whatever other connections or toxics do meanwhile.

``hash()`` is salted per process for strings, so the stream key is a BLAKE2b digest.
"""

from __future__ import annotations

import hashlib
import random
import secrets


def new_seed() -> int:
    """A fresh seed for a server started without one (logged, so the run can be replayed)."""
    return secrets.randbits(63)


def stream_seed(seed: int, proxy: str, connection: int, toxic: str) -> int:
    key = "\x00".join((str(seed), proxy, str(connection), toxic)).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def toxic_stream(seed: int, proxy: str, connection: int, toxic: str) -> random.Random:
    """The random stream of one toxic on one connection (its first draw is the toxicity roll)."""
    return random.Random(stream_seed(seed, proxy, connection, toxic))
