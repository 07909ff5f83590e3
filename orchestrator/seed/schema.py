"""Apply a blueprint's SQL schema file to a PostgreSQL service."""

from __future__ import annotations

from pathlib import Path

from orchestrator.exceptions import Location, first_line
from orchestrator.seed.errors import SeedError


def apply(service: str, url: str, schema: Path, spec: Location | None = None) -> None:
    """Run the whole file as one simple query; a failure names the file's line."""
    import psycopg

    try:
        sql = schema.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(
            service, f"cannot read schema {str(schema)!r}: {exc}", location=spec
        ) from None
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            # One simple-query call: psycopg sends multi-statement text as is.
            conn.execute(sql.encode())
    except psycopg.Error as exc:
        first = first_line(exc)
        position = getattr(getattr(exc, "diag", None), "statement_position", None)
        where = schema.name
        if position and str(position).isdigit():
            line = sql[: int(position) - 1].count("\n") + 1
            where = f"{schema}:{line}"
        raise SeedError(
            service,
            f"schema {where} failed: {first}",
            location=spec,
            hint=f"fix {schema.name} at that line; PostgreSQL's message is above",
        ) from None
