"""What one service becomes in its namespace: the objects ``start`` creates, in order.

* a Secret with the service's environment (when it has one): the pod spec names it in
  ``envFrom`` and holds no value, so ``kubectl get -o yaml`` of a pod shows no secret;
* for the fault proxy, a ConfigMap with its config (listeners on 0.0.0.0);
* the workload: a StatefulSet for stateful engines, with an emptyDir for their data,
  else a Deployment. Its arguments follow the docker runtime's ``command``: the image's
  ENTRYPOINT stays, the blueprint's command replaces its CMD.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from orchestrator.blueprint.model import Engine, Service
from orchestrator.links import PROXY_SERVICE
from orchestrator.runtime.base import ServiceSpec
from orchestrator.runtime.docker.images import ENVCTL_IMAGE
from orchestrator.runtime.kubernetes import labels, manifests
from orchestrator.runtime.kubernetes.environment import Environment

PROXY_CONFIG = "envctl-proxy-config"
PROXY_CONFIG_DIR = "/etc/envctl"
PROXY_EVENTS_DIR = "/var/log/envctl"
PROXY_EVENTS_PATH = f"{PROXY_EVENTS_DIR}/proxy-events.jsonl"


@dataclass(frozen=True)
class Planned:
    name: str  # the workload's (and the Service's) name
    kind: str  # Deployment | StatefulSet
    image: str
    objects: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (collection, body)

    @property
    def workload_path(self) -> str:
        collection = next(c for c, body in self.objects if body["kind"] == self.kind)
        return f"{collection}/{self.name}"


def image_of(service: Service) -> str | None:
    if service.kubernetes and service.kubernetes.image:
        return service.kubernetes.image
    return service.image


def plan(spec: ServiceSpec, state: Environment, proxy_config: str | None = None) -> Planned:
    """The objects of ``spec``'s service; ``proxy_config`` is the proxy's (for the proxy)."""
    service = spec.service
    is_proxy = spec.name == PROXY_SERVICE
    obj = state.objects.get(spec.name) or labels.object_name(spec.name)
    stateful = manifests.stateful(service.engine) and not is_proxy
    own_labels = {**state.common_labels, labels.SERVICE: labels.label_value(spec.name)}
    objects: list[tuple[str, dict[str, Any]]] = []
    secret = f"{obj}-env" if spec.env else None
    if secret is not None:
        objects.append(
            (f"{state.base}/secrets", manifests.env_secret(secret, spec.env, own_labels))
        )
    volumes: list[manifests.Volume] = []
    if is_proxy:
        objects.append((
            f"{state.base}/configmaps",
            manifests.config_map(PROXY_CONFIG, own_labels, {"proxy.json": proxy_config or "{}"}),
        ))  # fmt: skip
        volumes = [
            manifests.Volume(
                "config", PROXY_CONFIG_DIR, {"configMap": {"name": PROXY_CONFIG}}, True
            ),
            manifests.Volume("events", PROXY_EVENTS_DIR, {"emptyDir": {}}),
        ]
    elif stateful and service.engine is not None:
        volumes = [manifests.data_volume(service.engine, spec.env, service.resources.storage)]
    image = ENVCTL_IMAGE if is_proxy else str(image_of(service))
    template = manifests.PodTemplate(
        service=spec.name,
        container=obj,
        image=image,
        role="proxy" if is_proxy else "service",
        args=command(spec),
        ports=state.ports.get(spec.name, []),
        env_secret=secret,
        resources=(
            manifests.PROXY_RESOURCES
            if is_proxy
            else manifests.container_resources(service.resources)
        ),
        volumes=volumes,
    )
    kind = "StatefulSet" if stateful else "Deployment"
    collection = f"/apis/apps/v1/namespaces/{state.namespace}/{kind.lower()}s"
    objects.append(
        (collection, manifests.workload(obj, template, state.common_labels, stateful=stateful))
    )
    return Planned(obj, kind, image, objects)


def command(spec: ServiceSpec) -> list[str] | None:
    """The container's arguments, as the docker runtime's command."""
    if spec.name == PROXY_SERVICE:
        # -vv: every per-connection fault decision in its log, for replays.
        return ["-vv", "proxy", "serve", "--config", f"{PROXY_CONFIG_DIR}/proxy.json"]
    if spec.command:
        return shlex.split(spec.command)
    if spec.service.engine is Engine.redis and spec.env.get("REDIS_PASSWORD"):
        # The official image has no password variable: pass it as redis-server's
        # option, expanded inside the container so it is not in the pod spec.
        return ["sh", "-c", 'exec redis-server --requirepass "$REDIS_PASSWORD"']
    return None
