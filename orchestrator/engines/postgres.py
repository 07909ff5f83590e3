"""PostgreSQL: official-image conventions, connection URL, readiness and version."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from orchestrator.engines import NotReady
from orchestrator.exceptions import first_line
from orchestrator.runtime.base import Endpoint


def credentials(env: Mapping[str, str]) -> tuple[str, str | None, str]:
    """(user, password, database) as the official postgres image reads them."""
    user = env.get("POSTGRES_USER") or "postgres"
    return user, env.get("POSTGRES_PASSWORD") or None, env.get("POSTGRES_DB") or user


class PostgresAdapter:
    default_port = 5432

    def url(self, endpoint: Endpoint, env: Mapping[str, str]) -> str:
        user, password, database = credentials(env)
        auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
        return f"postgresql://{auth}@{endpoint.host}:{endpoint.port}/{quote(database, safe='')}"

    def probe(self, endpoint: Endpoint, env: Mapping[str, str], timeout: float) -> str:
        import psycopg

        try:
            with psycopg.connect(
                self.url(endpoint, env), connect_timeout=max(1, int(timeout))
            ) as conn:
                row = conn.execute("SHOW server_version").fetchone()
        except psycopg.Error as exc:
            # The first line is enough, and psycopg never puts the password in it.
            raise NotReady(first_line(exc, "not ready")) from None
        return str(row[0]).split()[0] if row else "unknown"
