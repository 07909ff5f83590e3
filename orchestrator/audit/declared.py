"""What a blueprint declares, as a ``ProductionProfile``: the environment side of a static
audit.

A static audit runs before anything starts, so it can only know what the blueprint
promises: image tags, resources, one replica per service, the row counts it will seed
and the latency its links will inject. It cannot know the data's shape (no column
statistics), which is why a static audit leaves ``data_shape`` unscored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orchestrator.profile import ProductionProfile
from orchestrator.seed import volumes

if TYPE_CHECKING:
    from orchestrator.blueprint.loader import LoadedBlueprint
    from orchestrator.blueprint.model import Latency, Link

SUITE = "suite"  # links from the test suites reach into the environment: no production edge


def from_blueprint(loaded: LoadedBlueprint) -> ProductionProfile:
    """The profile ``loaded`` would have once started, as far as the blueprint says.

    Scaled row counts are resolved against the blueprint's own ``profile:`` (as seeding
    does), so an unresolvable volume fails here as a located ``BlueprintError``.
    """
    model = loaded.model
    services: dict[str, dict[str, Any]] = {}
    for name, svc in model.services.items():
        services[name] = {
            "image": svc.image,
            "version": svc.declared_version,
            "replicas": 1,  # envctl starts one of each; production's count is compared
            "resources": {"cpu": svc.resources.cpu, "memory": svc.resources.memory},
            "tables": {},
            "keyspaces": {},
        }
    for index, entry in enumerate(model.data):
        target = services.get(entry.service)
        if target is None:  # validation refuses this; nothing to declare for it
            continue
        if entry.tables:  # tables are PostgreSQL's (validation holds them to it)
            for table, rows in volumes.rows(loaded, index).items():
                target["tables"][table] = {"rows": rows}
        for keyspace in entry.keyspaces:
            keys = target["keyspaces"]
            keys[keyspace.pattern] = keys.get(keyspace.pattern, 0) + keyspace.count
    return ProductionProfile.model_validate(
        {
            "apiVersion": "envctl/v1",
            "kind": "ProductionProfile",
            "metadata": {"name": loaded.name, "source": f"declared by {loaded.path}"},
            "services": services,
            "edges": [_edge(link) for link in model.links if link.from_ != SUITE],
        }
    )


def _edge(link: Link) -> dict[str, Any]:
    return {"from": link.from_, "to": link.to, "latency": _percentiles(link.latency)}


def _percentiles(latency: Latency | None) -> dict[str, float]:
    """A link's latency as percentiles: fitted ones as given; a fixed delay ± uniform
    jitter as p50 = mean and p95 = p99 = mean + jitter (its upper bound)."""
    if latency is None:
        return {}  # the link injects no delay: an edge with no percentiles
    if latency.mean is not None:
        top = latency.mean + (latency.jitter or 0.0)
        return {"p50": latency.mean, "p95": top, "p99": top}
    given = {"p50": latency.p50, "p95": latency.p95, "p99": latency.p99}
    return {k: v for k, v in given.items() if v is not None}
