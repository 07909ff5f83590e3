"""Apply a blueprint's SQL schema file to a PostgreSQL service."""

from __future__ import annotations

from pathlib import Path

from orchestrator.exceptions import ServiceError


def apply(service: str, url: str, schema: Path) -> None:
    import psycopg

    try:
        sql = schema.read_text(encoding="utf-8")
    except OSError as exc:
        raise ServiceError(service, f"cannot read schema {str(schema)!r}: {exc}") from exc
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            # One simple-query call: psycopg sends multi-statement text as is.
            conn.execute(sql.encode())
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ServiceError(
            service,
            f"schema {schema.name} failed: {first}",
            hint=f"check {schema} against PostgreSQL's error above",
        ) from None
