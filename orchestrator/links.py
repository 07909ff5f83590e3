"""Blueprint links → the fault proxy's configuration.

Each link ``{from, to}`` becomes one proxy listener forwarding to ``to``; the consumer
(``from``, or the suites) is given the listener's address wherever the blueprint says
``${to.host}``/``${to.port}``/``${to.url}``, so applications need no change. Units are
translated here from the blueprint's (durations, probabilities) to the proxy's, which are
Toxiproxy's (milliseconds, KB/s, microseconds for slicer delay).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.blueprint.model import (
    Fault,
    FaultBase,
    Latency,
    LocalOverride,
    Readiness,
    Service,
)
from orchestrator.blueprint.model import Link as LinkSpec
from orchestrator.proxy.model import ProxyConfig, Toxic
from orchestrator.runtime.base import Endpoint

PROXY_SERVICE = "envctl-proxy"
API_PORT = 8474  # Toxiproxy's, so clients' defaults fit inside containers


def proxy_service(config_path: Path) -> Service:
    """The proxy as a service the runtime starts like any other."""
    # -vv: its log (kept in the run dir) then lists every per-connection fault decision,
    # which with the recorded seed is what replaying a failing run needs.
    command = f"{sys.executable} -m orchestrator -vv proxy serve --config {config_path}"
    return Service(
        ports=[API_PORT],
        ready=Readiness(http="/version", timeout=30.0),
        local=LocalOverride(command=command),
    )


def toxics(link: LinkSpec) -> list[Toxic]:
    out = []
    if link.latency is not None:
        out.append(_toxic("latency", link.latency, "latency"))
    out += [
        _toxic(f.kind, f.params, f"{f.kind}_{f.params.stream}_{i}")
        for i, f in enumerate(link.faults)
    ]
    return out


def scheduled(link: LinkSpec) -> list[dict[str, Any]]:
    return [
        {
            "proxy": link.name,
            "at": s.at,
            "for": s.for_,
            "toxic": _toxic(
                s.fault.kind, s.fault.params, f"scheduled_{s.fault.kind}_{i}"
            ).to_json(),
        }
        for i, s in enumerate(link.schedule)
    ]


def toxic_for(fault: Fault, name: str) -> Toxic:
    """A blueprint fault as the proxy's toxic (for `envctl fault add`)."""
    return _toxic(fault.kind, fault.params, name)


def _toxic(kind: str, params: FaultBase, name: str) -> Toxic:
    return Toxic(
        type=kind,
        name=name,
        stream=params.stream,
        toxicity=params.probability,
        attributes=_attributes(kind, params),
    )


def _attributes(kind: str, p: FaultBase) -> dict[str, Any]:
    ms = 1000.0
    if isinstance(p, Latency):
        if p.mean is not None:
            return {"latency": p.mean * ms, "jitter": (p.jitter or 0.0) * ms}
        return {
            k: v * ms for k, v in (("p50", p.p50), ("p95", p.p95), ("p99", p.p99)) if v is not None
        }
    fields = p.model_dump(exclude={"probability", "stream"})
    if kind == "slicer":
        fields["delay"] = fields["delay"] * 1_000_000  # Toxiproxy's slicer delay is in µs
    elif kind in ("timeout", "reset_peer"):
        fields["timeout"] = fields["timeout"] * ms
    elif kind in ("slow_close",):
        fields["delay"] = fields["delay"] * ms
    elif kind == "down":
        fields["duration"] = fields["duration"] * ms
    return fields


@dataclass(frozen=True)
class PlannedLink:
    spec: LinkSpec
    listen: Endpoint  # where the consumer connects
    upstream: Endpoint  # where the proxy forwards


def proxy_config(
    planned: list[PlannedLink],
    api: Endpoint,
    seed: int,
    events_log: Path | None,
) -> dict[str, Any]:
    """The JSON `envctl proxy serve --config` reads."""
    proxies = [
        ProxyConfig(
            name=p.spec.name,
            listen=f"{p.listen.host}:{p.listen.port}",
            upstream=f"{p.upstream.host}:{p.upstream.port}",
            toxics=toxics(p.spec),
        ).to_json()
        for p in planned
    ]
    return {
        "api": f"{api.host}:{api.port}",
        "seed": seed,
        "proxies": proxies,
        "schedules": [s for p in planned for s in scheduled(p.spec)],
        "schedule_start": "api",  # the engine starts them when the suites begin
        "events_log": str(events_log) if events_log else None,
    }
