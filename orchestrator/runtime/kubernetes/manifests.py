"""The objects of one environment, as the API's JSON: pure functions, no client.

Per environment (``runtime.py`` creates them in this order):

* a ``Namespace``, labelled and annotated (``labels.py``);
* a ``ResourceQuota`` (what all of it may request, with headroom) and a ``LimitRange``
  (defaults for containers that state no resources);
* a ``NetworkPolicy`` admitting traffic from pods of the same namespace only;
* per service: a ``Service`` (ClusterIP, before anything starts, so that addresses are
  known), a ``Secret`` with its environment (the pod spec only references it), and a
  ``Deployment`` — a ``StatefulSet`` for stateful engines (PostgreSQL, Redis), with an
  ``emptyDir`` for their data, as a test cluster has no storage provisioner.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.blueprint.model import Engine, Resources
from orchestrator.runtime.kubernetes import labels

MI = 2**20
CPU_REQUEST_SHARE = 0.1  # of a stated CPU limit; see container_resources
QUOTA_HEADROOM = 1.25  # a pod replaced while its predecessor terminates still fits
STOP_GRACE = 10  # seconds between SIGTERM and SIGKILL, as docker's stop timeout
DEFAULT_DATA_PATH = {
    Engine.postgres: "/var/lib/postgresql/data",  # the image's PGDATA unless env sets it
    Engine.redis: "/data",
}
ISOLATION_POLICY = "envctl-same-namespace-only"
LIMIT_RANGE = "envctl-defaults"
QUOTA = "envctl-quota"


@dataclass(frozen=True)
class ContainerResources:
    """Requests and limits of one container (cores, bytes); None: the LimitRange's."""

    limit_cpu: float | None = None
    limit_memory: int | None = None
    request_cpu: float | None = None
    request_memory: int | None = None

    def spec(self) -> dict[str, dict[str, str]]:
        limits, requests = {}, {}
        if self.limit_cpu is not None:
            limits["cpu"] = cpu_quantity(self.limit_cpu)
        if self.limit_memory is not None:
            limits["memory"] = memory_quantity(self.limit_memory)
        if self.request_cpu is not None:
            requests["cpu"] = cpu_quantity(self.request_cpu)
        if self.request_memory is not None:
            requests["memory"] = memory_quantity(self.request_memory)
        return {k: v for k, v in (("limits", limits), ("requests", requests)) if v}

    def effective(self) -> ContainerResources:
        """With the LimitRange's defaults where this states nothing (what the quota counts)."""
        return ContainerResources(
            self.limit_cpu if self.limit_cpu is not None else DEFAULTS.limit_cpu,
            self.limit_memory if self.limit_memory is not None else DEFAULTS.limit_memory,
            self.request_cpu if self.request_cpu is not None else DEFAULTS.request_cpu,
            self.request_memory if self.request_memory is not None else DEFAULTS.request_memory,
        )


# What a container that states nothing gets (the LimitRange): Docker would not limit it
# at all; a gigabyte of memory is room for any of the test images envctl builds.
DEFAULTS = ContainerResources(limit_cpu=1.0, limit_memory=1024 * MI, request_cpu=0.05,
                              request_memory=64 * MI)  # fmt: skip
PROXY_RESOURCES = ContainerResources(0.5, 256 * MI, 0.05, 64 * MI)
SUITE_RESOURCES = ContainerResources(2.0, 2048 * MI, 0.1, 256 * MI)


def container_resources(resources: Resources) -> ContainerResources:
    """The blueprint's resources as limits. CPU is requested at a tenth of its limit:
    like containers on one Docker host, environments share cores (the limit still caps
    each); memory is requested in full, as it cannot be shared."""
    cpu, memory = resources.cpu, resources.memory
    return ContainerResources(
        limit_cpu=cpu,
        limit_memory=memory,
        request_cpu=max(0.01, cpu * CPU_REQUEST_SHARE) if cpu else None,
        request_memory=memory,
    )


def cpu_quantity(cores: float) -> str:
    return f"{max(1, math.ceil(cores * 1000))}m"


def memory_quantity(size: int) -> str:
    return f"{size // MI}Mi" if size % MI == 0 else str(size)


# the namespace and its policies --------------------------------------------------------


def namespace(
    name: str, label_set: Mapping[str, str], annotations: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": dict(label_set), "annotations": dict(annotations)},
    }


def resource_quota(
    label_set: Mapping[str, str], containers: Iterable[ContainerResources]
) -> dict[str, Any]:
    """Room for every container of the environment (the services, the proxy and one
    suite pod), plus ``QUOTA_HEADROOM``."""
    effective = [c.effective() for c in containers]

    def total(attr: str) -> float:
        return sum(float(getattr(c, attr)) for c in effective) * QUOTA_HEADROOM

    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": QUOTA, "labels": dict(label_set)},
        "spec": {
            "hard": {
                "requests.cpu": cpu_quantity(total("request_cpu")),
                "limits.cpu": cpu_quantity(total("limit_cpu")),
                "requests.memory": memory_quantity(_whole_mi(total("request_memory"))),
                "limits.memory": memory_quantity(_whole_mi(total("limit_memory"))),
                "pods": str(math.ceil(len(effective) * 2)),
            }
        },
    }


def limit_range(label_set: Mapping[str, str]) -> dict[str, Any]:
    defaults = DEFAULTS.spec()
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": LIMIT_RANGE, "labels": dict(label_set)},
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": defaults["limits"],
                    "defaultRequest": defaults["requests"],
                }
            ]
        },
    }


def isolation_policy(label_set: Mapping[str, str]) -> dict[str, Any]:
    """Ingress to every pod only from pods of this namespace: other environments (and
    anything else in the cluster) cannot connect. Port-forwards run inside the pod's
    network namespace and kubelet probes come from its node, so neither is affected."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": ISOLATION_POLICY, "labels": dict(label_set)},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
        },
    }


# per service ---------------------------------------------------------------------------


def pod_labels(label_set: Mapping[str, str], service: str, role: str) -> dict[str, str]:
    return {**label_set, labels.SERVICE: labels.label_value(service), labels.ROLE: role}


def pod_selector(label_set: Mapping[str, str], service: str) -> dict[str, str]:
    """What picks a service's pods out of its namespace (Service, port-forward, logs)."""
    return {labels.ENV: label_set[labels.ENV], labels.SERVICE: labels.label_value(service)}


def service(
    name: str, service_name: str, ports: Sequence[int], label_set: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "labels": {**label_set, labels.SERVICE: labels.label_value(service_name)},
        },
        "spec": {
            "type": "ClusterIP",
            "selector": pod_selector(label_set, service_name),
            "ports": [
                {"name": f"tcp-{port}", "port": port, "targetPort": port, "protocol": "TCP"}
                for port in ports
            ],
        },
    }


def env_secret(
    name: str, values: Mapping[str, str], label_set: Mapping[str, str]
) -> dict[str, Any]:
    """The service's environment: it holds secrets, so it never goes in a pod spec."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "labels": dict(label_set)},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }


def config_map(
    name: str,
    label_set: Mapping[str, str],
    data: Mapping[str, str] | None = None,
    binary: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": dict(label_set)},
    }
    if data:
        body["data"] = dict(data)
    if binary:
        body["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
    return body


@dataclass(frozen=True)
class Volume:
    """A volume of the pod and where the container mounts it."""

    name: str
    mount_path: str
    source: Mapping[str, Any]  # e.g. {"emptyDir": {}}
    read_only: bool = False


@dataclass(frozen=True)
class PodTemplate:
    service: str  # the blueprint's name
    container: str  # a DNS-1123 label
    image: str
    role: str
    args: Sequence[str] | None = None
    ports: Sequence[int] = ()
    env_secret: str | None = None
    resources: ContainerResources = ContainerResources()
    volumes: Sequence[Volume] = ()
    command: Sequence[str] | None = None  # replaces the image's ENTRYPOINT (suites only)
    restart: str = "Always"
    init_containers: Sequence[Mapping[str, Any]] = ()

    def spec(self, label_set: Mapping[str, str]) -> dict[str, Any]:
        container: dict[str, Any] = {
            "name": self.container,
            "image": self.image,
            # The images may exist only in the node's container runtime (imported, not
            # pushed): never ask a registry for an image that is already there.
            "imagePullPolicy": "IfNotPresent",
        }
        if self.command:
            container["command"] = list(self.command)
        if self.args is not None:
            container["args"] = list(self.args)
        if self.ports:
            container["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in self.ports]
            container["readinessProbe"] = {
                "tcpSocket": {"port": self.ports[0]},
                "periodSeconds": 1,
                "timeoutSeconds": 1,
                "failureThreshold": 1,
            }
        if self.env_secret:
            container["envFrom"] = [{"secretRef": {"name": self.env_secret}}]
        resources = self.resources.spec()
        if resources:
            container["resources"] = resources
        if self.volumes:
            container["volumeMounts"] = [
                {"name": v.name, "mountPath": v.mount_path, "readOnly": v.read_only}
                for v in self.volumes
            ]
        spec: dict[str, Any] = {"containers": [container]}
        if self.init_containers:
            spec["initContainers"] = [dict(c) for c in self.init_containers]
        return {
            "metadata": {"labels": pod_labels(label_set, self.service, self.role)},
            "spec": {
                **spec,
                "restartPolicy": self.restart,
                # Kubernetes would add <SERVICE>_PORT=tcp://… for every Service in the
                # namespace: a Service named `redis` breaks apps that read REDIS_PORT.
                "enableServiceLinks": False,
                "automountServiceAccountToken": False,  # nothing here talks to the API
                "terminationGracePeriodSeconds": STOP_GRACE,
                "volumes": [{"name": v.name, **v.source} for v in self.volumes],
            },
        }


def workload(
    name: str, template: PodTemplate, label_set: Mapping[str, str], *, stateful: bool
) -> dict[str, Any]:
    """A Deployment, or a StatefulSet (``stateful``), of one replica."""
    metadata = {
        "name": name,
        "labels": {**label_set, labels.SERVICE: labels.label_value(template.service)},
    }
    spec: dict[str, Any] = {
        "replicas": 1,
        "selector": {"matchLabels": pod_selector(label_set, template.service)},
        "template": template.spec(label_set),
    }
    if stateful:
        spec["serviceName"] = name
        spec["podManagementPolicy"] = "Parallel"
        kind = "StatefulSet"
    else:
        spec["strategy"] = {"type": "Recreate"}  # never two of a service at once
        kind = "Deployment"
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": metadata, "spec": spec}


def job(
    name: str, template: PodTemplate, label_set: Mapping[str, str], deadline: float
) -> dict[str, Any]:
    """One pod, never retried, killed by Kubernetes itself after ``deadline`` seconds
    (were envctl killed, its suite would not run on)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": dict(label_set)},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": max(1, math.ceil(deadline)),
            "template": template.spec(label_set),
        },
    }


def stateful(engine: Engine | None) -> bool:
    return engine in DEFAULT_DATA_PATH


def data_volume(engine: Engine, env: Mapping[str, str], storage: int | None) -> Volume:
    """Where a stateful engine keeps its data: an emptyDir (no provisioner needed),
    capped at ``resources.storage`` when the blueprint states it."""
    path = DEFAULT_DATA_PATH[engine]
    if engine is Engine.postgres:
        path = env.get("PGDATA") or path
    empty: dict[str, Any] = {}
    if storage:
        empty["sizeLimit"] = memory_quantity(storage)
    return Volume("data", path, {"emptyDir": empty})


def _whole_mi(size: float) -> int:
    return math.ceil(size / MI) * MI
