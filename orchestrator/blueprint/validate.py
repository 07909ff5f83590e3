"""Rules that span fields: references between services, cycles, interpolation, files.

All problems are collected and raised together, each with its own location.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterator
from pathlib import Path as PathLike
from typing import TYPE_CHECKING

from orchestrator.blueprint import interpolation
from orchestrator.blueprint.model import RESERVED_SERVICE_NAMES, Blueprint, Engine
from orchestrator.exceptions import BlueprintError, BlueprintErrors
from orchestrator.seed import volumes

if TYPE_CHECKING:
    from orchestrator.blueprint.loader import LoadedBlueprint
    from orchestrator.blueprint.source import Path


def check(loaded: LoadedBlueprint) -> None:
    errors = list(_problems(loaded))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        errors.sort(key=lambda e: (e.location.line, e.location.column))
        raise BlueprintErrors(errors)


def _problems(loaded: LoadedBlueprint) -> Iterator[BlueprintError]:
    bp, src = loaded.model, loaded.source
    names = set(bp.services)
    listing = ", ".join(sorted(names))

    for name, svc in bp.services.items():
        if name in RESERVED_SERVICE_NAMES:
            yield src.error(
                ("services", name),
                f"{name!r} is reserved and cannot name a service",
                f"reserved: {', '.join(sorted(RESERVED_SERVICE_NAMES))}",
            )
        for i, dep in enumerate(svc.depends_on):
            if dep == name:
                yield src.error(
                    ("services", name, "depends_on", i), "a service cannot depend on itself"
                )
            elif dep not in names:
                yield src.error(
                    ("services", name, "depends_on", i),
                    f"unknown service {dep!r} in depends_on",
                    f"services in this blueprint: {listing}",
                )
    yield from _cycles(bp, loaded)

    for i, link in enumerate(bp.links):
        if link.from_ != "suite" and link.from_ not in names:
            yield src.error(
                ("links", i, "from"),
                f"unknown service {link.from_!r}",
                f"use a service name or 'suite'; services: {listing}",
            )
        if link.to not in names:
            yield src.error(
                ("links", i, "to"), f"unknown service {link.to!r}", f"services: {listing}"
            )
        elif link.from_ == link.to:
            yield src.error(("links", i), "a link must join two different services")
    seen_links: dict[str, int] = {}
    for i, link in enumerate(bp.links):
        if link.name in seen_links:
            yield src.error(
                ("links", i),
                f"a second link from {link.from_!r} to {link.to!r} "
                f"(also links[{seen_links[link.name]}])",
                "put all faults of one edge in one link",
            )
        seen_links.setdefault(link.name, i)

    for i, seed in enumerate(bp.data):
        if seed.service not in names:
            yield src.error(
                ("data", i, "service"), f"unknown service {seed.service!r}", f"services: {listing}"
            )
        elif bp.services[seed.service].engine is None:
            yield src.error(
                ("data", i, "service"),
                f"service {seed.service!r} has no engine to seed",
                "data seeding needs `engine: postgres` or `engine: redis` on the service",
            )
        if seed.schema_ is not None and not _is_file(loaded.directory / seed.schema_):
            yield src.error(
                ("data", i, "schema"),
                f"schema file {seed.schema_!r} not found",
                f"paths are relative to the blueprint's directory ({loaded.directory})",
            )
        yield from _data_problems(loaded, i)
    if bp.profile is not None and not _is_file(loaded.directory / bp.profile):
        yield src.error(
            ("profile",),
            f"profile {bp.profile!r} not found",
            f"paths are relative to the blueprint's directory ({loaded.directory})",
        )
    else:
        yield from volumes.problems(loaded)
    if bp.pricing is not None:
        from orchestrator.cost import pricing

        try:  # units are checked where they are written: usd_per_vcpu_hour, not cpu
            pricing.load((), bp.pricing, overrides_source=src, overrides_path=("pricing",))
        except BlueprintError as exc:
            yield exc

    seen: dict[str, int] = {}
    for i, suite in enumerate(bp.suites):
        if suite.name in seen:
            yield src.error(
                ("suites", i, "name"),
                f"duplicate suite name {suite.name!r} (also suites[{seen[suite.name]}])",
            )
        seen.setdefault(suite.name, i)

    for path, text, owner in _interpolated_strings(bp):
        try:
            for ref in interpolation.parse(text):
                interpolation.check(ref, names, in_service=owner)
        except interpolation.InterpolationError as exc:
            yield src.error(path, str(exc), exc.hint)


def _data_problems(loaded: LoadedBlueprint, i: int) -> Iterator[BlueprintError]:
    bp, src = loaded.model, loaded.source
    seed = bp.data[i]
    service = bp.services.get(seed.service)
    engine = service.engine if service else None
    sql_parts = [k for k, v in (("schema", seed.schema_), ("restore", seed.restore)) if v]
    if seed.tables:
        sql_parts.append("tables")
    for key in sql_parts:
        if service and engine is not Engine.postgres:
            yield src.error(("data", i, key), f"`{key}` is for SQL: it needs `engine: postgres`")
    if seed.keyspaces and service and engine is not Engine.redis:
        yield src.error(("data", i, "keyspaces"), "`keyspaces` need `engine: redis`")
    if seed.restore is not None and not _is_file(loaded.directory / seed.restore.file):
        yield src.error(
            ("data", i, "restore", "file"),
            f"dump {seed.restore.file!r} not found",
            f"paths are relative to the blueprint's directory ({loaded.directory})",
        )
    may_exist = bool(seed.schema_ or seed.restore)
    for name, table in seed.tables.items():
        for column, spec in table.columns.items():
            target = spec.ref_target
            if target is None or target[0] in seed.tables or may_exist:
                continue
            yield src.error(
                ("data", i, "tables", name, "columns", column, "ref"),
                f"{spec.ref!r} refers to table {target[0]!r}, which this entry does not seed",
                f"tables seeded here: {', '.join(seed.tables)}",
            )


def _cycles(bp: Blueprint, loaded: LoadedBlueprint) -> Iterator[BlueprintError]:
    graph = {
        name: [d for d in svc.depends_on if d in bp.services and d != name]
        for name, svc in bp.services.items()
    }
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        yield loaded.source.error(
            ("services", cycle[0], "depends_on"),
            f"dependency cycle: {' -> '.join(cycle)}",
            "remove one of these depends_on entries",
        )


def _interpolated_strings(bp: Blueprint) -> Iterator[tuple[Path, str, str | None]]:
    """(key path, text, owning service or None) for every field that may hold ${…}."""
    for name, svc in bp.services.items():
        base: Path = ("services", name)
        for key, value in svc.env.items():
            yield (*base, "env", key), value, name
        if svc.ready and svc.ready.command:
            yield (*base, "ready", "command"), svc.ready.command, name
        if svc.local:
            if svc.local.command:
                yield (*base, "local", "command"), svc.local.command, name
            for key, value in svc.local.env.items():
                yield (*base, "local", "env", key), value, name
        for runtime in ("docker", "kubernetes"):
            override = getattr(svc, runtime)
            if override is None:
                continue
            if override.command:
                yield (*base, runtime, "command"), override.command, name
            for key, value in override.env.items():
                yield (*base, runtime, "env", key), value, name
    for i, suite in enumerate(bp.suites):
        yield ("suites", i, "run"), suite.run, None
        if suite.junit:
            yield ("suites", i, "junit"), suite.junit, None
        for key, value in suite.env.items():
            yield ("suites", i, "env", key), value, None


def _is_file(path: PathLike) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte …
        return False
