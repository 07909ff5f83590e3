"""Seed one service from one data entry: schema, restore, tables (PostgreSQL); keyspaces
(Redis). The session calls ``seed_entry`` once per entry, after the service is ready."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.blueprint.data import DataSeed
from orchestrator.blueprint.model import Engine
from orchestrator.exceptions import first_line
from orchestrator.seed import schema as schema_file
from orchestrator.seed.errors import SeedError
from orchestrator.seed.stats import SeedStats, TargetStats

if TYPE_CHECKING:
    from orchestrator.blueprint.loader import LoadedBlueprint


@dataclass(frozen=True)
class SeedRequest:
    loaded: LoadedBlueprint
    index: int  # of the entry in `data`
    url: str  # with credentials: never logged
    rows: Mapping[str, int]  # resolved row count per table (rows or scale x profile)
    say: Callable[[str], None]
    batch_rows: int | None = None
    workers: int = 2

    @property
    def entry(self) -> DataSeed:
        return self.loaded.model.data[self.index]


def seed_entry(request: SeedRequest) -> SeedStats:
    entry, loaded = request.entry, request.loaded
    engine = loaded.model.services[entry.service].engine
    started = time.monotonic()
    phases: dict[str, float] = {}
    targets: list[TargetStats] = []
    if engine is Engine.postgres:
        if entry.schema_:
            t = time.monotonic()
            request.say(f"schema {entry.schema_}")
            schema_file.apply(
                entry.service,
                request.url,
                loaded.directory / entry.schema_,
                loaded.source.locate(("data", request.index, "schema")),
            )
            phases["schema"] = time.monotonic() - t
        if entry.restore is not None:
            from orchestrator.seed import restore

            t = time.monotonic()
            request.say(f"restore {entry.restore.file}")
            targets += restore.restore(
                request.url,
                loaded.directory / entry.restore.file,
                entry.restore.transforms,
                entry.seed,
                service=entry.service,
            )
            phases["restore"] = time.monotonic() - t
        if entry.tables:
            result = _tables(request)
            targets += result.targets
            phases.update(result.phases)
    elif engine is Engine.redis and entry.keyspaces:
        from orchestrator.seed import redis as redis_seed

        t = time.monotonic()
        targets += redis_seed.load(
            request.url,
            entry.keyspaces,
            entry.seed,
            service=entry.service,
            progress=request.say,
        )
        phases["keyspaces"] = time.monotonic() - t
    return SeedStats(entry.service, time.monotonic() - started, "off", targets, phases)


def _tables(request: SeedRequest) -> postgres.LoadResult:
    import psycopg

    entry = request.entry

    def connect() -> psycopg.Connection[tuple[object, ...]]:
        try:
            return psycopg.connect(request.url, autocommit=True)
        except psycopg.Error as exc:
            raise SeedError(entry.service, f"cannot connect to seed it: {exc}") from None

    try:
        return _plan_and_load(request, connect)
    except psycopg.Error as exc:  # a step outside the per-table ones: still one message
        first = first_line(exc)
        raise SeedError(
            entry.service,
            f"seeding failed: {first}",
            location=request.loaded.source.locate(("data", request.index, "tables")),
            hint="check the tables and columns named here against the schema",
        ) from None


def _plan_and_load(request: SeedRequest, connect: Any) -> postgres.LoadResult:
    from orchestrator.seed import postgres, tables

    entry = request.entry
    t = time.monotonic()
    with connect() as conn:
        plans = tables.plan(
            conn,
            entry,
            request.rows,
            entry.service,
            request.loaded.source.locate,
            ("data", request.index),
        )
    planned = time.monotonic() - t
    total = sum(p.rows for p in plans)
    request.say(f"{total:,} rows into {len(plans)} tables")
    result = postgres.load(
        connect,
        plans,
        entry.service,
        workers=request.workers,
        batch_rows=request.batch_rows,
        say=request.say,
    )
    result.phases["plan"] = planned
    return result


if TYPE_CHECKING:
    from orchestrator.seed import postgres
