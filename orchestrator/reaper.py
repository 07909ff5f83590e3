"""`envctl gc`: reap environments whose envctl died or whose TTL passed, and orphans.

Two sources, because a SIGKILL can land at any moment:
* the state store: a 'run' environment whose owner process is gone (SIGKILL, OOM, a lost
  CI runner), or any environment past its ``expires_at``;
* each runtime's own labels (tagged processes, marked dirs, …) for environments that
  are not in the state store at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from orchestrator.engine import Engine, owner_alive
from orchestrator.exceptions import EnvctlError
from orchestrator.runtime import registry
from orchestrator.state import EnvRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reaped:
    env: str
    reason: str
    leftovers: tuple[str, ...] = ()


def stale_reason(record: EnvRecord) -> str | None:
    if record.expired:
        return "its ttl passed"
    if record.mode == "run" and not owner_alive(record):
        return f"its envctl process ({record.owner_pid}) is gone"
    return None


def collect(engine: Engine, dry_run: bool = False) -> list[Reaped]:
    reaped: list[Reaped] = []
    # Scan the runtimes' labels before reading the state, so an environment created
    # meanwhile is either not seen by the scan or seen as live (see module docstring).
    runtimes = {name: registry.create(name, engine.settings) for name in registry.PUBLIC}
    labelled = {name: rt.orphans() for name, rt in runtimes.items()}
    records = engine.state.environments()
    for record in records:
        reason = stale_reason(record)
        if reason is None:
            continue
        leftovers: tuple[str, ...] = ()
        if not dry_run:
            try:
                leftovers = tuple(engine.destroy(record))
            except EnvctlError as exc:
                leftovers = (exc.message,)
        reaped.append(Reaped(record.id, reason, leftovers))
    live = {r.id for r in engine.state.environments()} | {r.id for r in records}
    for name, rt in runtimes.items():
        for env_id in sorted(labelled[name] - live):
            leftovers = () if dry_run else tuple(rt.reap_orphan(env_id))
            reaped.append(Reaped(env_id, f"orphaned {name} resources, not in the state", leftovers))
    return reaped
