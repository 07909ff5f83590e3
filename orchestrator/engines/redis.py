"""Redis: connection URL, readiness (PING) and the version INFO reports."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from orchestrator.engines import NotReady
from orchestrator.runtime.base import Endpoint


def password(env: Mapping[str, str]) -> str | None:
    return env.get("REDIS_PASSWORD") or None


class RedisAdapter:
    default_port = 6379

    def url(self, endpoint: Endpoint, env: Mapping[str, str]) -> str:
        secret = password(env)
        auth = f":{quote(secret, safe='')}@" if secret else ""
        return f"redis://{auth}{endpoint.host}:{endpoint.port}/0"

    def probe(self, endpoint: Endpoint, env: Mapping[str, str], timeout: float) -> str:
        import redis

        client = redis.Redis(
            host=endpoint.host,
            port=endpoint.port or self.default_port,
            password=password(env),
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
        )
        try:
            client.ping()
            return str(client.info("server").get("redis_version", "unknown"))
        except redis.RedisError as exc:
            raise NotReady(str(exc) or type(exc).__name__) from None
        finally:
            client.close()
