"""What a live environment actually has, as a profile the audit compares with production.

A static audit reads what the blueprint declares; a live one asks the environment: the
versions its engines report, the rows its databases hold and their ``pg_stats`` (read
through ``capture.py``, the same reader that captures production), its Redis keyspaces,
and the latency its fault proxy injects on each edge (measured, once traffic crossed the
link; as configured before that). Everything else — images, resources, topology — is
what the blueprint says, since that is what envctl started.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.blueprint.model import Engine
from orchestrator.childenv import read_env_file
from orchestrator.exceptions import EnvctlError
from orchestrator.plan import env_var_prefix
from orchestrator.profile import EdgeLatency, EdgeProfile, ProductionProfile

if TYPE_CHECKING:
    from orchestrator.blueprint.loader import LoadedBlueprint
    from orchestrator.settings import Settings

log = logging.getLogger(__name__)


def observe_services(
    loaded: LoadedBlueprint,
    urls: Mapping[str, str],
    versions: Mapping[str, str | None],
    links: list[dict[str, Any]] | None = None,
) -> ProductionProfile:
    """The environment's profile: ``urls`` of its engine services (credentials and all,
    never stored), the ``versions`` they reported, the links' metrics if taken."""
    from orchestrator.audit import capture, declared

    profile = declared.from_blueprint(loaded)
    services = dict(profile.services)
    for name, svc in loaded.model.services.items():
        current = services.get(name)
        if current is None:
            continue
        observed = None
        try:
            if svc.engine is Engine.postgres and name in urls:
                observed = capture.capture_postgres(urls[name])
            elif svc.engine is Engine.redis and name in urls:
                observed = capture.capture_redis(urls[name])
        except EnvctlError as exc:  # reported in the audit as unknown, not fatal
            log.warning("audit: could not read %s: %s", name, exc.message)
        update: dict[str, Any] = {}
        if observed is not None:
            update = {
                "version": observed.version or current.version,
                "extensions": observed.extensions,
                "tables": observed.tables or current.tables,
                "keyspaces": observed.keyspaces or current.keyspaces,
            }
        if versions.get(name):
            update["version"] = versions[name]
        services[name] = current.model_copy(update=update)
    edges = _measured_edges(list(profile.edges), links or [])
    result: ProductionProfile = profile.model_copy(update={"services": services, "edges": edges})
    return result


def _measured_edges(declared: list[EdgeProfile], links: list[dict[str, Any]]) -> list[EdgeProfile]:
    """Edges with the delay the proxy applied where it has applied any (ms → s)."""
    measured = {}
    for link in links:
        delay = link.get("injected_delay_ms") or {}
        if delay.get("p50") is not None:
            measured[(link.get("from"), link.get("to"))] = delay
    out = []
    for edge in declared:
        delay = measured.get((edge.from_, edge.to))
        if not delay:
            out.append(edge)
            continue
        latency = EdgeLatency(
            p50=delay["p50"] / 1000,
            p95=(delay.get("p95") or delay["p50"]) / 1000,
            p99=(delay.get("p99") or delay["p50"]) / 1000,
        )
        out.append(edge.model_copy(update={"latency": latency}))
    return out


def observe(settings: Settings, env_id: str) -> tuple[LoadedBlueprint, ProductionProfile]:
    """``envctl audit ENV``: a live environment, from its record and endpoints file."""
    from orchestrator.blueprint.loader import load
    from orchestrator.state import StateStore

    record = StateStore(settings.state_db).get(env_id)
    loaded = load(record.blueprint_path)
    try:
        endpoints = read_env_file(record.work_dir / "endpoints.env")
    except OSError:
        endpoints = {}
    urls = {
        name: endpoints[f"{env_var_prefix(name)}_URL"]
        for name, svc in loaded.model.services.items()
        if svc.engine is not None and f"{env_var_prefix(name)}_URL" in endpoints
    }
    return loaded, observe_services(loaded, urls, {})
