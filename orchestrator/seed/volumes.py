"""How many rows each table gets: ``rows`` as given, or ``scale`` x production's count.

Scaled volumes read the blueprint's production profile (``profile:``), so a blueprint
says "5% of production" once and follows production as the profile is re-captured.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from orchestrator import profile as profiles
from orchestrator.exceptions import BlueprintError

if TYPE_CHECKING:
    from orchestrator.blueprint.loader import LoadedBlueprint


def problems(loaded: LoadedBlueprint) -> Iterator[BlueprintError]:
    """Every volume that cannot be resolved, at its line (for ``validate``)."""
    for index in range(len(loaded.model.data)):
        try:
            rows(loaded, index)
        except BlueprintError as exc:
            yield exc


def rows(loaded: LoadedBlueprint, index: int) -> dict[str, int]:
    entry = loaded.model.data[index]
    src = loaded.source
    production = None
    out = {}
    for name, table in entry.tables.items():
        where = ("data", index, "tables", name)
        if table.rows is not None:
            out[name] = table.rows
            continue
        scale = table.scale or entry.scale
        if scale is None:
            raise src.error(
                where,
                f"table {name!r} needs `rows` (or `scale` of production's row count)",
                "e.g. {rows: 10000}",
            )
        if loaded.model.profile is None:
            raise src.error(
                (*where, "scale") if table.scale else ("data", index, "scale"),
                "`scale` needs a production profile to scale from",
                "set `profile: path/to/production.yaml` at the top of the blueprint",
            )
        if production is None:
            production, _ = profiles.load(loaded.directory / loaded.model.profile)
        service = production.services.get(entry.service)
        counted = service.tables.get(name) if service else None
        if counted is None:
            raise src.error(
                where,
                f"the profile has no row count for {entry.service}.{name}",
                f"add services.{entry.service}.tables.{name}.rows to "
                f"{loaded.model.profile}, or give `rows`",
            )
        out[name] = max(1, round(counted.rows * scale)) if counted.rows else 0
    return out
