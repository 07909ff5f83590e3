"""Proxies and toxics, in the JSON shapes of Toxiproxy's HTTP API.

A *proxy* is one listener forwarding to one upstream; a *toxic* is one fault on one
direction of it: ``upstream`` (client → server) or ``downstream`` (server → client).
``toxicity`` is the probability that the toxic applies to a given connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Stream = Literal["upstream", "downstream"]

# Toxiproxy's toxic types and their attributes (units as Toxiproxy documents them:
# milliseconds, KB/s with 1 KB = 1000 B, microseconds for slicer delay), plus envctl's:
# `latency` also accepts p50/p95/p99 (ms) to draw delays from a fitted distribution,
# and `down` refuses (or blackholes) new connections for a while.
TOXIC_TYPES: dict[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter", "p50", "p95", "p99"),
    "bandwidth": ("rate",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slow_close": ("delay",),
    "down": ("mode", "duration"),
}


class FaultSpecError(ValueError):
    """A toxic that cannot be built: unknown type, bad attribute, bad stream/toxicity."""


@dataclass
class Toxic:
    type: str
    name: str = ""
    stream: Stream = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name:
            self.name = f"{self.type}_{self.stream}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Toxic:
        return cls(
            type=str(data.get("type", "")),
            name=str(data.get("name") or ""),
            stream=data.get("stream") or "downstream",
            toxicity=float(data.get("toxicity", 1.0)),
            attributes=dict(data.get("attributes") or {}),
        )


@dataclass
class ProxyConfig:
    name: str
    listen: str  # "127.0.0.1:0" picks a free port; the running proxy reports the real one
    upstream: str  # "host:port"
    enabled: bool = True
    toxics: list[Toxic] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [t.to_json() for t in self.toxics],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProxyConfig:
        return cls(
            name=str(data["name"]),
            listen=str(data.get("listen") or "127.0.0.1:0"),
            upstream=str(data["upstream"]),
            enabled=bool(data.get("enabled", True)),
            toxics=[Toxic.from_json(t) for t in data.get("toxics") or []],
        )
