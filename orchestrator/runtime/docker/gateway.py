"""The gateway: how the host reaches services on an environment's internal network.

Docker publishes no ports for a container that is only on an ``--internal`` network, and
an internal network is what keeps services from reaching anything outside their
environment. So each environment gets one more container, from envctl's own image: the
fault proxy with no faults, attached to the internal network and to a second "edge"
bridge (IP masquerading off, so no traffic leaves through it either), with one listener
per service port published on 127.0.0.1 only. Host → 127.0.0.1:P → gateway → service.

Through a relay, a TCP connect succeeds even when the service behind is not up yet, so
TCP readiness asks the gateway instead (``/envctl/proxies/<name>/upstream``).
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any

from orchestrator.engines import NotReady
from orchestrator.exceptions import ServiceError
from orchestrator.runtime.base import Endpoint
from orchestrator.runtime.docker import containers
from orchestrator.runtime.docker.client import errors
from orchestrator.runtime.docker.labels import GATEWAY

API_PORT = 8475
FIRST_PORT = 20000
CONFIG_PATH = "/etc/envctl/gateway.json"


@dataclass(frozen=True)
class Route:
    name: str  # a service, or the fault proxy's API / listener, as the runtime names it
    container_port: int  # the gateway's listener
    upstream: Endpoint  # in-network address


def routes(targets: dict[str, Endpoint]) -> list[Route]:
    """One listener per target, on ports that cannot clash inside the gateway."""
    return [
        Route(name, FIRST_PORT + i, endpoint)
        for i, (name, endpoint) in enumerate(sorted(targets.items()))
    ]


def config(routes_: list[Route]) -> dict[str, Any]:
    """`envctl proxy serve` config: plain relays, no toxics, no schedules."""
    return {
        "api": f"0.0.0.0:{API_PORT}",
        "seed": 0,
        "proxies": [
            {
                "name": r.name,
                "listen": f"0.0.0.0:{r.container_port}",
                "upstream": f"{r.upstream.host}:{r.upstream.port}",
                "toxics": [],
            }
            for r in routes_
        ],
        "schedules": [],
    }


def start(
    client: Any,
    image_id: str,
    name: str,
    container_labels: dict[str, str],
    routes_: list[Route],
    fixed: dict[str, int],
    networks: tuple[Any, Any],
) -> tuple[Endpoint, dict[str, Endpoint]]:
    """Start the gateway on (internal, edge); return its API and each route's host view.

    ``fixed``: route name → the 127.0.0.1 port asked for (``docker.host_port``); every
    other route gets whatever free port the engine picks.
    """
    internal_net, edge_net = networks
    ports: dict[str, Any] = {f"{API_PORT}/tcp": ("127.0.0.1", None)}
    for route in routes_:
        ports[f"{route.container_port}/tcp"] = ("127.0.0.1", fixed.get(route.name))
    container = client.containers.create(
        image_id,
        command=["proxy", "serve", "--config", CONFIG_PATH],
        name=name,
        labels=container_labels,
        network=edge_net.name,
        ports=ports,
    )
    containers.put_file(container, CONFIG_PATH, json.dumps(config(routes_)))
    internal_net.connect(container, aliases=[GATEWAY])
    try:
        container.start()
    except errors().APIError as exc:
        taken = [f"{port} ({route})" for route, port in sorted(fixed.items())]
        if taken and ("already allocated" in str(exc) or "already in use" in str(exc)):
            raise ServiceError(
                GATEWAY,
                "cannot publish on 127.0.0.1: a port is already in use: " + containers.explain(exc),
                hint=f"fixed ports asked for (docker.host_port): {', '.join(taken)}; "
                "free the port, choose another, or drop host_port to let Docker pick",
            ) from None
        raise ServiceError(
            GATEWAY, f"Docker could not start it: {containers.explain(exc)}"
        ) from None
    api = Endpoint("127.0.0.1", containers.host_port(container, API_PORT))
    published = {
        r.name: Endpoint("127.0.0.1", containers.host_port(container, r.container_port))
        for r in routes_
    }
    return api, published


@dataclass(frozen=True)
class GatewayTcpProbe:
    """TCP readiness of a service behind the gateway: can the gateway connect to it?"""

    api: Endpoint  # the gateway's API, host view
    route: str
    description: str = "tcp connect (from the environment's network)"

    def check(self, endpoint: Endpoint, timeout: float) -> str | None:
        conn = http.client.HTTPConnection(self.api.host, self.api.port, timeout=timeout + 1)
        try:
            conn.request("GET", f"/envctl/proxies/{self.route}/upstream?timeout={timeout:g}")
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise NotReady(f"gateway not answering yet: {exc}") from None
        finally:
            conn.close()
        if response.status == 200:
            return None
        try:
            why = json.loads(body).get("error") or f"HTTP {response.status}"
        except ValueError:
            why = f"HTTP {response.status}"
        raise NotReady(f"tcp {self.route}: {why}")
