"""Names and labels of everything the Docker runtime creates.

Every container, network and volume carries ``envctl.env``; ``envctl gc``, ``envctl down
--all`` and the watchdog find an environment's resources by that label alone, so nothing
depends on a name a user might also have used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

ENV = "envctl.env"
BLUEPRINT = "envctl.blueprint"
OWNER = "envctl.owner"
EXPIRES_AT = "envctl.expires-at"  # unix seconds: when the ttl ends (for people and tools)
SESSION = "envctl.session"  # which envctl process created it (pid@host:start)
STORE = "envctl.store"  # the state store, so one store's gc leaves another's alone
SERVICE = "envctl.service"
ROLE = "envctl.role"  # service | proxy | watchdog | suite

WATCHDOG = "envctl-watchdog"


def container_name(env_id: str, service: str) -> str:
    # Docker names allow [a-zA-Z0-9][a-zA-Z0-9_.-]; blueprint names already fit.
    return f"{env_id}-{_safe(service)}"


def network_name(env_id: str, kind: str = "net") -> str:
    return f"{env_id}-{kind}"


def volume_name(env_id: str, service: str, index: int) -> str:
    return f"{env_id}-{_safe(service)}-{index}"


def base(
    env_id: str, store: str, session: str, expires_at: float, extra: Mapping[str, str]
) -> dict[str, str]:
    return {
        ENV: env_id,
        STORE: store,
        SESSION: session,
        EXPIRES_AT: str(int(expires_at)),
        **{k: v for k, v in extra.items() if v},
    }


def _safe(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", name)
