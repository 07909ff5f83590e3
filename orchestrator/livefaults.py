"""Faults on a live environment's links: built as blueprints write them, sent to its proxy.

Shared by ``envctl fault`` and the Python API (``Environment.fault``), so both accept the
same fault types and attributes, checked by the blueprint's own rules, and both report
a proxy that does not answer, or refuses, in the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.exceptions import EnvctlError, UsageError

if TYPE_CHECKING:
    from orchestrator.proxy.model import Toxic

FAULT_TYPES = (
    "latency",
    "bandwidth",
    "slicer",
    "limit_data",
    "timeout",
    "reset_peer",
    "slow_close",
    "down",
)


def parse_attributes(items: Iterable[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings (the CLI's ``-a``) as a mapping."""
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"attribute {item!r} is not KEY=VALUE", hint="e.g. -a timeout=2s")
        params[key.strip()] = value.strip()
    return params


def toxic(kind: str, attributes: Mapping[str, Any], name: str | None = None) -> Toxic:
    """The proxy's toxic for a fault of ``kind`` with blueprint-style ``attributes``
    (``mean="300ms"``, ``probability=0.5``, ``stream="upstream"`` …)."""
    from pydantic import ValidationError

    from orchestrator.blueprint.model import Fault
    from orchestrator.links import toxic_for

    if kind not in FAULT_TYPES:
        raise UsageError(f"unknown fault type {kind!r}", hint=f"valid: {', '.join(FAULT_TYPES)}")
    try:
        spec = Fault.model_validate({kind: dict(attributes)})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or kind
        raise UsageError(f"bad {kind} fault: {where}: {first['msg']}") from None
    return toxic_for(spec, name or f"{kind}_{spec.params.stream}")


def call(env_id: str, host: str, port: int, method: str, path: str, body: Any = None) -> Any:
    """One request to ``env_id``'s fault proxy; its decoded answer, or an envctl error."""
    from orchestrator.proxy.client import ProxyUnreachable
    from orchestrator.proxy.client import call as proxy_call

    try:
        status, parsed = proxy_call(host, port, method, path, body)
    except ProxyUnreachable as exc:
        raise EnvctlError(
            f"the fault proxy of {env_id!r} does not answer: {exc}",
            hint=f"is it still up? envctl status {env_id}",
        ) from None
    if status >= 400:
        message = parsed.get("error") if isinstance(parsed, dict) else parsed
        raise UsageError(
            f"{method} {path}: {message}",
            hint=f"see `envctl fault ls {env_id}` for links and faults",
        )
    return parsed
