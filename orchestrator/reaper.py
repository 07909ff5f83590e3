"""`envctl gc`: reap environments whose envctl died or whose TTL passed, and orphans.

Two sources, because a SIGKILL can land at any moment:
* the state store: an environment held by an envctl process (`run`, `up --wait`) whose
  process is gone (SIGKILL, OOM, a lost CI runner); an `up` environment past its ttl;
  one held on another host (whose process we cannot check) past its ttl;
* each runtime's own labels (tagged processes, marked dirs …) for environments that are
  not in the state store at all — only those of this state store.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.engine import Engine
from orchestrator.exceptions import EnvctlError
from orchestrator.ownership import owned_here, owner_alive
from orchestrator.runtime import registry
from orchestrator.runtime.base import Runtime
from orchestrator.state import EnvRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reaped:
    env: str
    reason: str
    leftovers: tuple[str, ...] = ()


def stale_reason(record: EnvRecord) -> str | None:
    """Why ``record`` should be reaped, or None while it is legitimately alive.

    A live owner on this host keeps its environment whatever the ttl says: it tears
    down itself, and killing a running suite under it would mislabel the run.
    """
    if record.mode == "run" and owned_here(record):
        if owner_alive(record):
            return None
        return f"its envctl process ({record.owner_pid}) is gone"
    if record.expired:
        return "its ttl passed"
    return None


def collect(
    engine: Engine, dry_run: bool = False, runtimes_wanted: Sequence[str] | None = None
) -> list[Reaped]:
    """Reap what is stale; only on ``runtimes_wanted`` (default: every public runtime),
    so that the in-cluster reaper (`envctl gc --runtime kubernetes`) leaves the local
    and docker runtimes of the machine it runs on alone."""
    wanted = list(runtimes_wanted) if runtimes_wanted else list(registry.PUBLIC)
    reaped: list[Reaped] = []
    # Scan the runtimes' labels before reading the state, so an environment created
    # meanwhile is either not seen by the scan or seen as live (see module docstring).
    runtimes: dict[str, Runtime] = {}
    labelled: dict[str, set[str]] = {}
    for name in wanted:
        try:
            runtimes[name] = registry.create(name, engine.settings)
            labelled[name] = runtimes[name].orphans()
        except EnvctlError as exc:  # e.g. no Docker daemon: the others are still reaped
            if runtimes_wanted:
                # Asked for by name (the in-cluster reaper): a scan that cannot happen
                # is a failure its CronJob must show, not a quiet success.
                raise
            log.warning("gc skips the %s runtime: %s", name, exc.message)
    records = engine.state.environments()
    for record in records:
        if record.runtime not in wanted:
            continue
        reason = stale_reason(record)
        if reason is None:
            continue
        left = () if dry_run else tuple(engine.destroy(record))
        reaped.append(Reaped(record.id, reason, left))
    live = {r.id for r in engine.state.environments()} | {r.id for r in records}
    for name, found in labelled.items():
        for env_id in sorted(found - live):
            leftovers: tuple[str, ...] = ()
            if not dry_run:
                try:
                    leftovers = tuple(runtimes[name].reap_orphan(env_id))
                except (EnvctlError, OSError) as exc:
                    leftovers = (str(exc),)
            why = f"orphaned {name} resources, not in the state"
            reaped.append(Reaped(env_id, why, leftovers))
    return reaped
