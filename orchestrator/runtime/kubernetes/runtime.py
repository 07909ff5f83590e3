"""The Kubernetes runtime: each environment a namespace, each service a workload in it.

``prepare`` creates the namespace with its quota, limits, NetworkPolicy and a Service
per service (``environment.py``), so every address exists before anything starts.
``start`` creates the service's Secret and Deployment — a StatefulSet for PostgreSQL
and Redis (``workloads.py``) — and a port-forward listener on 127.0.0.1 for the host
(``portforward.py``, in a child process: ``forwarding.py``): probes, seeding and suites
on the host go through it.

Readiness is the pod's Ready condition, then the service's own probe through the
port-forward (``health.py``); a pod that cannot pull its image, crashes or cannot be
scheduled fails at once, with its events and log (``status.py``). The fault proxy is a
Deployment of envctl's own image. Suites with ``image`` run as Jobs (``suite.py``).
Teardown keeps the logs (``stopping.py``), deletes the namespace and waits until it is
gone; ``gc`` finds namespaces by label and expiry (``removal.py``). Everything carries
``envctl.dev/env``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.blueprint.model import Service
from orchestrator.exceptions import BlueprintError, RuntimeUnavailable, ServiceError
from orchestrator.links import PROXY_SERVICE
from orchestrator.runtime import proxyconfig
from orchestrator.runtime.base import (
    Endpoint,
    EnvironmentContext,
    Runtime,
    ServiceHandle,
    ServiceSpec,
)
from orchestrator.runtime.docker.images import unpinned
from orchestrator.runtime.kubernetes import (
    bundle,
    environment,
    labels,
    netpolicy,
    pods,
    removal,
    status,
    stopping,
    workloads,
)
from orchestrator.runtime.kubernetes.client import ApiError, Kube, NotConfigured, connect
from orchestrator.runtime.kubernetes.environment import Cluster, Environment
from orchestrator.runtime.kubernetes.forwarding import Forwarding
from orchestrator.runtime.kubernetes.health import PodReadyProbe
from orchestrator.settings import Settings
from orchestrator.state import EnvRecord

if TYPE_CHECKING:
    from orchestrator.blueprint.loader import LoadedBlueprint
    from orchestrator.readiness import Probe
    from orchestrator.secrets import Redactor
    from orchestrator.suites import ContainerSuite, SuiteResult

log = logging.getLogger(__name__)

PROBLEM_RECHECK = 2.0  # seconds a found problem (events looked up) is reused


class KubernetesRuntime(Runtime):
    name = "kubernetes"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._kube: Kube | None = None
        self._pods: pods.PodCache | None = None
        self._cluster: Cluster | None = None
        self._envs: dict[str, Environment] = {}
        self._lock = threading.Lock()
        # Environments whose prepare() began but that have nothing in the cluster yet:
        # with the API unreachable, destroy() knows there is nothing to remove.
        self._nothing_created: set[str] = set()
        self._stopped: set[tuple[str, str]] = set()  # (namespace, service)
        self._problems: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._logs: dict[tuple[str, str], str] = {}  # kept by stop(), for collect_logs
        self._proxy_events: dict[str, str] = {}  # namespace → the proxy's events, ditto
        self._forwarding: Forwarding | None = None

    @property
    def kube(self) -> Kube:
        if self._kube is None:
            self._kube = connect(self.settings)
        return self._kube

    @property
    def pod_cache(self) -> pods.PodCache:
        if self._pods is None:
            self._pods = pods.PodCache(self.kube)
        return self._pods

    @property
    def forwarding(self) -> Forwarding:
        if self._forwarding is None:
            self._forwarding = Forwarding(self.settings)
        return self._forwarding

    @property
    def store_id(self) -> str:
        return labels.store_id(self.settings.state_dir)

    # prepare -----------------------------------------------------------------------

    def prepare(self, env: EnvironmentContext, blueprint: LoadedBlueprint) -> None:
        env.work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        model = blueprint.model
        self._nothing_created.add(env.env_id)
        for name, svc in model.services.items():
            if workloads.image_of(svc) is None:
                raise BlueprintError(
                    f"service {name!r} has no image",
                    blueprint.service_location(name),
                    hint="add `image: NAME:TAG` (or `kubernetes: {image: ...}`), "
                    "or use --runtime local",
                )
        bundles = bundle.pack_suites(blueprint)  # too big to ship: fails before anything
        kube = self.kube
        common = environment.common_labels(env, self.store_id, model.metadata.tier.value)
        state = Environment(
            labels.namespace_name(env.env_id),
            common[labels.ENV],
            common,
            self._look_at_cluster(kube),
            bundles=bundles,
        )
        with self._lock:
            self._envs[env.env_id] = state
        environment.create_namespace(kube, env, blueprint, state)
        self._nothing_created.discard(env.env_id)  # from here on, something exists
        self.forwarding.start()  # reaches the API while the rest is created
        environment.populate(kube, blueprint, state)

    def _look_at_cluster(self, kube: Kube) -> Cluster:
        if self._cluster is None:
            enforced = netpolicy.enforced(kube, self.settings.kube_network_policy)
            if not enforced:
                log.warning("%s", netpolicy.UNENFORCED_WARNING)  # once per process
            self._cluster = environment.look_at(kube, enforced)
        return self._cluster

    # addresses ------------------------------------------------------------------------

    def address(self, env: EnvironmentContext, name: str, service: Service) -> Endpoint:
        state = self._env(env.env_id)
        if name in state.internal:
            return state.internal[name]
        return Endpoint(state.objects.get(name) or labels.object_name(name), None)

    def host_endpoint(self, env: EnvironmentContext, name: str) -> Endpoint | None:
        """The port-forward of a service or of a proxy listener, once it started."""
        return self._env(env.env_id).published.get(name)

    # services ---------------------------------------------------------------------------

    def start(self, env: EnvironmentContext, spec: ServiceSpec) -> ServiceHandle:
        state = self._env(env.env_id)
        is_proxy = spec.name == PROXY_SERVICE
        config = None
        if is_proxy:
            config = proxyconfig.read_for_container(env.work_dir, workloads.PROXY_EVENTS_PATH)
        planned = workloads.plan(spec, state, config)
        created: list[str] = []
        try:
            for collection, body in planned.objects:
                self.kube.create(collection, body)
                created.append(f"{collection}/{body['metadata']['name']}")
        except RuntimeUnavailable as exc:
            self._remove_quietly(created)
            why = exc.detail if isinstance(exc, ApiError) else exc.message
            raise ServiceError(
                spec.name,
                f"Kubernetes refused it: {why}",
                hint="check the image, command and resources in the blueprint",
            ) from None
        ports = state.ports.get(spec.name, [])
        try:
            if ports:
                self._forward(state, spec.name, spec.name, ports[0])
            if is_proxy:
                for key, port in state.suite_links.items():
                    self._forward(state, key, spec.name, port)
        except ServiceError:
            self._close_forwards(state.namespace, spec.name)
            self._remove_quietly(created)
            raise
        own = state.internal.get(spec.name)
        details = {
            "namespace": state.namespace,
            "env_label": state.env_label,
            "kind": planned.kind,
            "workload": planned.name,
            "workload_path": planned.workload_path,
            "image": planned.image,
            "image_id": None,  # the node resolves it: filled in once the pod is Ready
            "container_port": ports[0] if ports else None,
            "address": own.address if own is not None else None,
            "engine": spec.service.engine.value if spec.service.engine else None,
            "started_at": time.time(),
            "network_policy_enforced": state.cluster.network_policy_enforced,
        }
        if unpinned(planned.image) and not is_proxy:
            log.warning("%s: image %r is not pinned to a version", spec.name, planned.image)
        endpoint = state.published.get(spec.name) or Endpoint("127.0.0.1", None)
        return ServiceHandle(spec.name, endpoint, details)

    def _forward(self, state: Environment, key: str, service: str, port: int) -> None:
        forwarding_key = f"{state.namespace}/{key}"
        try:
            endpoint = self.forwarding.forward(
                forwarding_key, state.namespace, state.env_label, service, port
            )
        except RuntimeUnavailable as exc:
            raise ServiceError(service, exc.message, hint=exc.hint) from None
        with self._lock:
            state.forwards[key] = forwarding_key
            state.published[key] = endpoint

    def readiness_probe(self, handle: ServiceHandle, default: Probe | None) -> Probe | None:
        from orchestrator.readiness import TcpProbe

        # The kubelet's TCP probe on the first port asks what a TCP probe would.
        inner = None if isinstance(default, TcpProbe) else default
        return PodReadyProbe(lambda: self._not_ready(handle), inner)

    def _not_ready(self, handle: ServiceHandle) -> str | None:
        namespace, env_label = _where(handle)
        try:
            found = self.pod_cache.of_service(namespace, env_label, handle.name)
            why = status.ready(found)
            if why is None and handle.details.get("container_port"):
                # Other pods reach it through its Service: ready means that the Service
                # routes to it too, not only that the kubelet's probe passed.
                slices = self.kube.list(
                    f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
                    labelSelector=f"kubernetes.io/service-name={handle.details.get('workload')}",
                )
                why = status.serving(slices, [str(p["metadata"]["name"]) for p in found])
        except RuntimeUnavailable as exc:
            return exc.message
        if why is None and isinstance(handle.details, dict):
            # Known only now that the node has the image; the run records it from the
            # handle once the service is ready (the handle itself was persisted at start).
            image_id, digest = status.image_id(found)
            handle.details.update({"image_id": image_id, "image_digest": digest})
        return why

    def exit_reason(self, handle: ServiceHandle) -> str | None:
        namespace, env_label = _where(handle)
        key = (namespace, handle.name)
        if key in self._stopped:
            return "was stopped"
        with self._lock:
            known = self._problems.get(key)
        if known is not None and time.monotonic() - known[0] < PROBLEM_RECHECK:
            return known[1]  # a problem found (or looked for in the events) just now
        try:
            found_pods = self.pod_cache.of_service(namespace, env_label, handle.name)
        except RuntimeUnavailable:
            return None  # the API is away for now; the readiness timeout still holds
        if self.pod_cache.gone(namespace):
            return "is not running (its namespace was deleted)"
        age = time.time() - float(handle.details.get("started_at") or 0)
        found = status.problem(found_pods, age)
        names = [str(p["metadata"]["name"]) for p in found_pods]
        workload = str(handle.details.get("workload") or "")
        events: list[status.Json] | None = None
        if found is None and age > status.STUCK_GRACE and status.not_started(found_pods):
            # Still not started: ask the events why, at most every PROBLEM_RECHECK.
            with self._lock:
                self._problems[key] = (time.monotonic(), None)
            events = self._events(namespace, workload, names)
            found = status.stuck(found_pods, events, age)
        if found is None:
            return None
        if events is None:
            events = self._events(namespace, workload, names)
        reason = status.describe(found, status.latest_warnings(events))
        with self._lock:
            self._problems[key] = (time.monotonic(), reason)
        return reason

    def _events(self, namespace: str, workload: str, pod_names: list[str]) -> list[status.Json]:
        """The warnings about a service's pods and workload."""
        try:
            events = self.kube.list(
                f"/api/v1/namespaces/{namespace}/events", fieldSelector="type=Warning"
            )
        except RuntimeUnavailable:
            return []
        return status.related_events(events, workload, pod_names)

    # logs ---------------------------------------------------------------------------

    def log_path(self, env: EnvRecord | EnvironmentContext, service: str) -> Path | None:
        return None  # the kubelet keeps the logs; see log_tail and logs_text

    def log_tail(self, handle: ServiceHandle, env: EnvironmentContext, lines: int = 30) -> str:
        namespace, env_label = _where(handle)
        kept = self._logs.get((namespace, handle.name))
        if kept is not None:
            return "\n".join(kept.splitlines()[-lines:])
        try:
            pod = pods.newest(self.pod_cache.of_service(namespace, env_label, handle.name))
            return pods.service_log(self.kube, namespace, pod, tail=lines).rstrip() if pod else ""
        except RuntimeUnavailable:
            return ""

    def logs_text(self, record: EnvRecord, service: str) -> str | None:
        namespace = labels.namespace_name(record.id)
        kept = self._logs.get((namespace, service))
        if kept is not None:
            return kept
        env_label = labels.label_value(record.id)
        pod = pods.newest(pods.service_pods(self.kube, namespace, env_label, service))
        return pods.service_log(self.kube, namespace, pod) if pod else None

    def collect_logs(self, record: EnvRecord, target: Path, redact: Redactor) -> None:
        super().collect_logs(record, target, redact)  # the services' output, via logs_text
        if PROXY_SERVICE not in record.services:
            return
        namespace = labels.namespace_name(record.id)
        events = self._proxy_events.get(namespace)
        if events is None:
            env_label = labels.label_value(record.id)
            pod = pods.newest(pods.service_pods(self.kube, namespace, env_label, PROXY_SERVICE))
            if pod is not None:
                name = str(pod["metadata"]["name"])
                events = pods.read_file(self.kube, namespace, name, workloads.PROXY_EVENTS_PATH)
        if events is not None:
            (record.run_dir / "proxy-events.jsonl").write_text(redact(events), encoding="utf-8")

    # stopping ------------------------------------------------------------------------

    def stop(self, handle: ServiceHandle) -> None:
        namespace, env_label = _where(handle)
        key = (namespace, handle.name)
        self._close_forwards(namespace, handle.name)
        if key in self._stopped:
            return
        events_file = workloads.PROXY_EVENTS_PATH if handle.name == PROXY_SERVICE else None
        try:
            kept = stopping.scale_down(
                self.kube,
                namespace,
                env_label,
                handle.name,
                str(handle.details.get("workload_path") or ""),
                events_file,
            )
        except RuntimeUnavailable as exc:
            log.warning("stopping %s: %s", handle.name, exc.message)
        else:
            with self._lock:
                if kept.logs:
                    self._logs[key] = kept.logs
                if kept.events is not None:
                    self._proxy_events[namespace] = kept.events
        self._stopped.add(key)

    def _close_forwards(self, namespace: str, service: str | None = None) -> None:
        """Stop the port-forwards of one service (for the proxy: its listeners' too),
        or of the whole environment."""
        with self._lock:
            keys = []
            for state in self._envs.values():
                if state.namespace != namespace:
                    continue
                names = [
                    k
                    for k in state.forwards
                    if service is None
                    or k == service
                    or (service == PROXY_SERVICE and k in state.suite_links)
                ]
                keys += [state.forwards.pop(k) for k in names]
        if keys and self._forwarding is not None:
            try:
                self._forwarding.stop(keys)
            except RuntimeUnavailable as exc:  # the child is gone: so are its listeners
                log.debug("stopping port-forwards: %s", exc.message)

    def run_suite_in_image(self, env: EnvironmentContext, suite: ContainerSuite) -> SuiteResult:
        from orchestrator.runtime.kubernetes import suite as job_suite

        state = self._env(env.env_id)
        source = state.bundles.get(suite.name)
        if source is None:
            try:
                source = bundle.pack(suite.cwd)
            except bundle.BundleTooLarge as exc:
                raise bundle.too_large(suite.name, exc) from None
        reach = sorted(e.address for e in state.internal.values() if e.port)
        return job_suite.run(self.kube, state.namespace, state.common_labels, suite, source, reach)

    def detach(self, env: EnvironmentContext, until: float) -> None:
        namespace = labels.namespace_name(env.env_id)
        try:
            self.kube.patch(
                f"/api/v1/namespaces/{namespace}",
                {"metadata": {"annotations": {labels.EXPIRES_AT: labels.iso_utc(until)}}},
            )
        except RuntimeUnavailable as exc:
            log.warning("could not set the expiry of %s: %s", namespace, exc.message)
        log.warning(
            "%s stays in namespace %s until %s, but its 127.0.0.1 endpoints are "
            "port-forwards of this process and end with it: keep them with `envctl up "
            "--wait`, or use `kubectl port-forward -n %s svc/NAME PORT`",
            env.env_id,
            namespace,
            labels.iso_utc(until),
            namespace,
        )

    # removal -----------------------------------------------------------------------------

    def destroy(self, record: EnvRecord) -> Sequence[str]:
        namespace = labels.namespace_name(record.id)
        self._close_forwards(namespace)
        try:
            kube = self.kube
        except RuntimeUnavailable as exc:
            if record.id in self._nothing_created:
                return removal.remove_work_dir(record.work_dir)
            # The work dir stays: a later teardown needs its redaction list for the logs.
            return [f"namespace {namespace} ({exc.message})"]
        try:
            failures = removal.delete_namespace(kube, namespace)
        except RuntimeUnavailable as exc:
            failures = [f"namespace {namespace} ({exc.message})"]
        if not failures:  # else a retry (gc) still needs its redaction list for the logs
            failures += removal.remove_work_dir(record.work_dir)
        with self._lock:
            self._envs.pop(record.id, None)
            for key in [k for k in self._logs if k[0] == namespace]:
                self._logs.pop(key)
            self._proxy_events.pop(namespace, None)
        self.pod_cache.forget(namespace)
        if self._forwarding is not None and not self._forwarding.keys:
            self._forwarding.close()  # no environment of this process needs it any more
        return failures

    def orphans(self) -> set[str]:
        """Environments with a namespace here: every one of this state store, and those
        of any store whose ttl passed (see ``removal.select_orphans``). Empty without any
        Kubernetes configuration: then there is no cluster envctl could have used."""
        try:
            kube = self.kube
        except NotConfigured:
            return set()
        found = kube.list("/api/v1/namespaces", labelSelector=f"{labels.MANAGED}=true")
        return removal.select_orphans(found, self.store_id, time.time())

    def reap_orphan(self, env_id: str) -> Sequence[str]:
        failures = removal.delete_namespace(self.kube, labels.namespace_name(env_id))
        return failures + removal.remove_work_dir(self.settings.work_root / f"envctl-{env_id}")

    # helpers ---------------------------------------------------------------------------

    def _env(self, env_id: str) -> Environment:
        with self._lock:
            return self._envs[env_id]

    def _remove_quietly(self, paths: list[str]) -> None:
        for path in paths:
            try:
                self.kube.delete(path)
            except RuntimeUnavailable as exc:
                log.warning("could not remove %s: %s", path, exc.message)


def _where(handle: ServiceHandle) -> tuple[str, str]:
    """The handle's namespace and ``envctl.dev/env`` value (it may come from the state)."""
    return str(handle.details.get("namespace") or ""), str(handle.details.get("env_label") or "")
