"""What envctl knows about each engine, whatever runtime runs it.

An engine adapter knows the conventions of the official images (``POSTGRES_PASSWORD``,
``REDIS_PASSWORD`` …), so one blueprint configures a service the same way on every
runtime; how to build a connection URL; and how to ask a running server whether it is
ready and which version it really is. Client libraries are imported on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from orchestrator.blueprint.model import Engine
from orchestrator.runtime.base import Endpoint


class NotReady(Exception):
    """A probe that did not succeed yet; the message says why."""


class EngineAdapter(Protocol):
    default_port: int

    def url(self, endpoint: Endpoint, env: Mapping[str, str]) -> str: ...

    def probe(self, endpoint: Endpoint, env: Mapping[str, str], timeout: float) -> str:
        """Return the server's version once it serves queries; raise ``NotReady`` before."""
        ...


def adapter(engine: Engine) -> EngineAdapter:
    if engine is Engine.postgres:
        from orchestrator.engines.postgres import PostgresAdapter

        return PostgresAdapter()
    from orchestrator.engines.redis import RedisAdapter

    return RedisAdapter()
