"""One environment's namespace: created with its policies and Services before any pod.

``create`` makes, in order: the Namespace (labels and annotations from ``labels.py``),
its ResourceQuota and LimitRange, the NetworkPolicy, and a Service per service (and for
the fault proxy, with one port per link), so that every address a service or the proxy
is given exists — and is fixed — before anything starts. ``Environment`` is what this
process knows of it afterwards; ``destroy`` needs none of it (the namespace's name
follows from the env id).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orchestrator.blueprint.model import Service
from orchestrator.exceptions import RuntimeUnavailable
from orchestrator.links import API_PORT as PROXY_API_PORT
from orchestrator.links import PROXY_SERVICE
from orchestrator.ownership import this_process
from orchestrator.runtime.base import Endpoint, EnvironmentContext
from orchestrator.runtime.kubernetes import labels, manifests
from orchestrator.runtime.kubernetes.client import ApiError, Kube
from orchestrator.state import this_host

if TYPE_CHECKING:
    from orchestrator.blueprint.loader import LoadedBlueprint

log = logging.getLogger(__name__)

FIRST_LINK_PORT = 10001  # the fault proxy's listeners, as on docker
SETTLE_WAIT = 15.0  # seconds for a new namespace's service account and quota


@dataclass(frozen=True)
class Cluster:
    """What envctl needs to know of the cluster, looked up once per process."""

    dns: bool  # Services resolve by name (a kube-dns/CoreDNS Service exists)
    network_policy_enforced: bool


@dataclass
class Environment:
    """What this process knows of one environment it is building."""

    namespace: str
    env_label: str  # envctl.dev/env's value: the env id as a label value
    common_labels: dict[str, str]
    cluster: Cluster
    objects: dict[str, str] = field(default_factory=dict)  # service → object name
    ports: dict[str, list[int]] = field(default_factory=dict)  # service → its Service's
    internal: dict[str, Endpoint] = field(default_factory=dict)
    suite_links: dict[str, int] = field(default_factory=dict)  # proxy listener → port
    published: dict[str, Endpoint] = field(default_factory=dict)  # host views, once up
    forwards: dict[str, str] = field(default_factory=dict)  # published → forwarding key
    bundles: dict[str, bytes] = field(default_factory=dict)  # suite → its packed cwd

    @property
    def base(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}"


def look_at(kube: Kube, network_policy: bool) -> Cluster:
    dns = False
    for name in ("kube-dns", "coredns"):
        try:
            dns = kube.get(f"/api/v1/namespaces/kube-system/services/{name}") is not None
        except RuntimeUnavailable:  # not allowed to look: ClusterIPs work anyway
            dns = False
        if dns:
            break
    return Cluster(dns, network_policy)


def common_labels(env: EnvironmentContext, store: str, tier: str) -> dict[str, str]:
    values = {
        labels.MANAGED: "true",
        labels.ENV: labels.label_value(env.env_id),
        labels.STORE: store,
        labels.BLUEPRINT: labels.label_value(env.blueprint),
        labels.OWNER: labels.label_value(env.owner or ""),
        labels.TIER: labels.label_value(tier),
    }
    return {k: v for k, v in values.items() if v}


def namespace_annotations(env: EnvironmentContext, ttl: float) -> dict[str, str]:
    pid, started = this_process()
    values = {
        labels.ENV_ID: env.env_id,
        labels.BLUEPRINT: env.blueprint,
        labels.OWNER: env.owner or "",
        labels.CREATED_BY: f"{pid}:{started or 0:.3f}@{this_host()}",
        labels.EXPIRES_AT: labels.iso_utc(time.time() + ttl),
    }
    return {k: v for k, v in values.items() if v}


def create_namespace(
    kube: Kube, env: EnvironmentContext, blueprint: LoadedBlueprint, state: Environment
) -> None:
    """The namespace alone: once it exists, everything else is removed with it."""
    body = manifests.namespace(
        state.namespace, state.common_labels, namespace_annotations(env, blueprint.model.ttl)
    )
    try:
        kube.create("/api/v1/namespaces", body)
    except ApiError as exc:
        if exc.conflict:
            raise RuntimeUnavailable(
                f"namespace {state.namespace} already exists",
                hint="another environment had this id: `envctl gc`, then run again",
            ) from None
        raise


def populate(kube: Kube, blueprint: LoadedBlueprint, state: Environment) -> None:
    """Quota, limits, the network policy and every Service, in the new namespace."""
    model = blueprint.model
    common = state.common_labels
    containers = [manifests.container_resources(s.resources) for s in model.services.values()]
    containers.append(manifests.SUITE_RESOURCES)  # one suite pod at a time
    if model.links:
        containers.append(manifests.PROXY_RESOURCES)
    kube.create(f"{state.base}/resourcequotas", manifests.resource_quota(common, containers))
    kube.create(f"{state.base}/limitranges", manifests.limit_range(common))
    kube.create(
        f"/apis/networking.k8s.io/v1/namespaces/{state.namespace}/networkpolicies",
        manifests.isolation_policy(common),
    )
    for name, svc in model.services.items():
        state.objects[name] = labels.object_name(name)
        ports = service_ports(svc)
        if ports:
            _create_service(kube, state, name, ports)
    if model.links:
        state.objects[PROXY_SERVICE] = labels.object_name(PROXY_SERVICE)
        ports = [PROXY_API_PORT] + [FIRST_LINK_PORT + i for i in range(len(model.links))]
        host = _create_service(kube, state, PROXY_SERVICE, ports).host
        for i, link in enumerate(model.links):
            key = f"{PROXY_SERVICE}-{link.name}"
            state.internal[key] = Endpoint(host, FIRST_LINK_PORT + i)
            if link.from_ == "suite":  # the suites run on the host: port-forwarded
                state.suite_links[key] = FIRST_LINK_PORT + i
    _settle(kube, state)


def service_ports(service: Service) -> list[int]:
    """The ports of its Service: the declared ones, else its engine's usual one."""
    if service.ports:
        return list(service.ports)
    if service.engine is not None:
        from orchestrator.engines import adapter

        return [adapter(service.engine).default_port]
    return []


def _create_service(kube: Kube, state: Environment, name: str, ports: list[int]) -> Endpoint:
    obj = state.objects[name]
    created = kube.create(
        f"{state.base}/services", manifests.service(obj, name, ports, state.common_labels)
    )
    # The DNS name reads better in URLs and logs; without cluster DNS, the ClusterIP
    # (fixed from now on) works as well.
    dns_name = f"{obj}.{state.namespace}.svc"
    host = dns_name if state.cluster.dns else str(created["spec"]["clusterIP"])
    state.ports[name] = ports
    state.internal[name] = Endpoint(host, ports[0])
    return state.internal[name]


def _settle(kube: Kube, state: Environment) -> None:
    """Wait (briefly) for what a new namespace gets asynchronously: its default service
    account, without which no pod is admitted, and its quota's status, without which
    quota admission refuses pods. Both take a moment at most."""
    deadline = time.monotonic() + SETTLE_WAIT
    while time.monotonic() < deadline:
        account = kube.get(f"{state.base}/serviceaccounts/default")
        quota = kube.get(f"{state.base}/resourcequotas/{manifests.QUOTA}") or {}
        if account is not None and (quota.get("status") or {}).get("hard"):
            return
        time.sleep(0.1)
    log.debug("namespace %s did not settle within %gs", state.namespace, SETTLE_WAIT)
