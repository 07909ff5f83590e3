"""The proxy's metrics in Prometheus text format.

Toxiproxy's byte counters keep its names and labels (so existing dashboards work);
envctl's own series (connections, faults fired, delays injected) are prefixed envctl_.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.proxy.model import ProxyConfig


def prometheus_text(
    proxies: Mapping[str, ProxyConfig], metrics: Mapping[str, Mapping[str, Any]]
) -> str:
    """Toxiproxy's byte counters (its names and labels) plus envctl's series, as text."""
    families: dict[str, list[str]] = {}

    def add(family: str, labels: dict[str, str], value: Any, suffix: str = "") -> None:
        rendered = ",".join(f'{k}="{_label(v)}"' for k, v in sorted(labels.items()))
        number = "NaN" if value is None else repr(value if isinstance(value, int) else float(value))
        families[family].append(f"{family}{suffix}{{{rendered}}} {number}")

    for family, kind, help_text in _FAMILIES:
        families[family] = [f"# HELP {family} {help_text}", f"# TYPE {family} {kind}"]
    for name, proxy in sorted(proxies.items()):
        data = metrics.get(name, {})
        base = {"proxy": name, "listener": proxy.listen, "upstream": proxy.upstream}
        for direction in ("upstream", "downstream"):
            counts = data.get(direction) or {}
            labels = {**base, "direction": direction}
            add("toxiproxy_proxy_received_bytes_total", labels, counts.get("received_bytes", 0))
            add("toxiproxy_proxy_sent_bytes_total", labels, counts.get("sent_bytes", 0))
        add("envctl_proxy_connections_total", {"proxy": name}, data.get("connections_total", 0))
        add("envctl_proxy_connections_active", {"proxy": name}, data.get("connections_active", 0))
        toxics = data.get("toxics") or {}
        for toxic_name, toxic in sorted(toxics.items()):
            labels = {
                "proxy": name,
                "toxic": toxic_name,
                "type": str(toxic.get("type", "")),
                "stream": str(toxic.get("stream", "")),
            }
            add("envctl_proxy_faults_fired_total", labels, toxic.get("fired", 0))
            add(
                "envctl_proxy_toxic_delay_seconds_total",
                labels,
                toxic.get("injected_delay_seconds", 0),
            )
        delays = data.get("injected_delay_ms") or {}
        for q in ("p50", "p95", "p99"):
            ms = delays.get(q)
            quantile = {"proxy": name, "quantile": str(int(q[1:]) / 100)}
            add("envctl_proxy_injected_delay_seconds", quantile, None if ms is None else ms / 1e3)
        total = sum(float(t.get("injected_delay_seconds", 0)) for t in toxics.values())
        add("envctl_proxy_injected_delay_seconds", {"proxy": name}, total, "_sum")
        add(
            "envctl_proxy_injected_delay_seconds", {"proxy": name}, delays.get("count", 0), "_count"
        )
    return "\n".join(line for rows in families.values() for line in rows) + "\n"


_FAMILIES = (
    (
        "toxiproxy_proxy_received_bytes_total",
        "counter",
        "Bytes read from the source, per direction",
    ),
    (
        "toxiproxy_proxy_sent_bytes_total",
        "counter",
        "Bytes written to the destination, per direction",
    ),
    ("envctl_proxy_connections_total", "counter", "Connections accepted"),
    ("envctl_proxy_connections_active", "gauge", "Connections open now"),
    (
        "envctl_proxy_faults_fired_total",
        "counter",
        "Connections a toxic applied to (toxicity roll won)",
    ),
    ("envctl_proxy_toxic_delay_seconds_total", "counter", "Delay a toxic injected, summed"),
    ("envctl_proxy_injected_delay_seconds", "summary", "Delays latency toxics applied (sampled)"),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
