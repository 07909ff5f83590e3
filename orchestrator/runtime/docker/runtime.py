"""The Docker runtime: each service a container, each environment its own networks.

Per environment, in the order ``prepare`` creates them:

1. a watchdog container (``watchdog.py``) that removes everything below if this envctl
   process dies — created first, so nothing can leak before it watches;
2. an internal bridge network (no egress unless the blueprint says ``egress: true``) on
   which services reach each other by their blueprint names;
3. an "edge" bridge for publishing ports on 127.0.0.1 only: Docker publishes nothing
   for a container that is only on an internal network. IP masquerading is off (no
   traffic leaves through it) and so is inter-container traffic (no path around the
   fault proxy's links), so it adds a door from the host and nothing else.

Then ``start`` creates one container per service from the image the blueprint names
(resolved to an image ID, recorded on the run), with the blueprint's resources as limits
and a named, labelled volume for each VOLUME the image declares (anonymous volumes would
carry no labels and outlive the environment). Everything carries ``envctl.env``, which
is all ``destroy``, ``gc`` and the watchdog go by.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.blueprint.model import Engine, Service
from orchestrator.exceptions import BlueprintError, RuntimeUnavailable, ServiceError
from orchestrator.links import API_PORT as PROXY_API_PORT
from orchestrator.links import PROXY_SERVICE
from orchestrator.ownership import this_process
from orchestrator.runtime import follow, proxyconfig
from orchestrator.runtime.base import (
    KEEPS_DATA,
    SEED_MANIFEST,
    SEEDED_FROM,
    Endpoint,
    EnvironmentContext,
    Runtime,
    ServiceHandle,
    ServiceSpec,
)
from orchestrator.runtime.docker import containers, images, labels, removal, watchdog
from orchestrator.runtime.docker.client import connect, errors
from orchestrator.runtime.docker.health import ContainerTcpProbe, HealthcheckProbe
from orchestrator.settings import Settings
from orchestrator.state import EnvRecord, this_host

if TYPE_CHECKING:
    from orchestrator.blueprint.loader import LoadedBlueprint
    from orchestrator.cost.meter import Sampler
    from orchestrator.readiness import Probe
    from orchestrator.secrets import Redactor
    from orchestrator.suites import ContainerSuite, SuiteResult

log = logging.getLogger(__name__)

STOP_TIMEOUT = 10
EXIT_CHECK_INTERVAL = 0.25  # seconds; how late a crash during readiness may be noticed
FIRST_LINK_PORT = 10001  # the fault proxy's listeners inside its container
PROXY_CONFIG_PATH = "/etc/envctl/proxy.json"
PROXY_EVENTS_PATH = "/var/log/envctl/proxy-events.jsonl"
WATCHDOG_WORK_DIR = "/envctl/work"  # the env's work dir, for the watchdog to empty


@dataclass
class _Env:
    """What this process knows of one environment it is building."""

    network: str  # internal: services reach each other here, by name
    edge: str  # publishes ports on 127.0.0.1; no NAT, no traffic between containers
    images: dict[str, images.ResolvedImage]
    common_labels: dict[str, str]
    internal: dict[str, Endpoint] = field(default_factory=dict)
    fixed_ports: dict[str, int] = field(default_factory=dict)  # docker.host_port
    # The fault proxy's listeners the host uses (suite links), by name → container port.
    proxy_published: dict[str, int | None] = field(default_factory=dict)
    published: dict[str, Endpoint] = field(default_factory=dict)  # host views, once up
    watchdog_start: Future[watchdog.Leash] | None = None  # runs in the background

    def leash(self, wait: float = 15.0) -> watchdog.Leash | None:
        """envctl's connection to the watchdog; None if the watchdog did not start."""
        if self.watchdog_start is None:
            return None
        try:
            return self.watchdog_start.result(timeout=wait)
        except Exception as exc:  # reported by whoever needed it; teardown goes on
            log.warning("the watchdog did not start: %s", exc)
            return None


class DockerRuntime(Runtime):
    name = "docker"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._client: Any = None
        self._envs: dict[str, _Env] = {}
        self._lock = threading.Lock()
        # Environments whose prepare() this process began but that have no resource yet:
        # with the engine unreachable, destroy() knows there is nothing to remove.
        self._nothing_created: set[str] = set()
        self._exit_checks: dict[str, tuple[float, str | None]] = {}  # id → (when, answer)
        self._spec_envs: dict[tuple[str, str], dict[str, str]] = {}  # secrets: memory only

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = connect()
        return self._client

    @property
    def store_id(self) -> str:
        return str(self.settings.state_dir.resolve())

    # prepare -----------------------------------------------------------------------

    def prepare(self, env: EnvironmentContext, blueprint: LoadedBlueprint) -> None:
        env.work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        model = blueprint.model
        self._nothing_created.add(env.env_id)
        client = self.client
        # Every image first: a missing one fails before anything is created.
        resolved: dict[str, images.ResolvedImage] = {}
        for name, svc in model.services.items():
            reference = _image_of(svc)
            if reference is None:
                raise BlueprintError(
                    f"service {name!r} has no image",
                    blueprint.service_location(name),
                    hint="add `image: NAME:TAG` (or `docker: {image: ...}`), "
                    "or use --runtime local",
                )
            resolved[name] = images.resolve(client, reference)
        resolved[PROXY_SERVICE] = images.resolve(client, images.ENVCTL_IMAGE, pull=False)
        pid, started = this_process()
        common = labels.base(
            env.env_id,
            self.store_id,
            f"{pid}:{started or 0:.3f}@{this_host()}",
            time.time() + model.ttl,
            {
                labels.BLUEPRINT: env.blueprint,
                labels.OWNER: env.owner or "",
                **{k: v for k, v in env.labels.items() if k.startswith("envctl.")},
            },
        )
        state = _Env(
            labels.network_name(env.env_id),
            labels.network_name(env.env_id, "edge"),
            resolved,
            common,
        )
        with self._lock:
            self._envs[env.env_id] = state
        self._nothing_created.discard(env.env_id)  # from here on, something may exist
        # The watchdog's container exists before anything else does; it starts (~0.4 s)
        # while the networks are made and the services start.
        watchdog_container = self._create_watchdog(env, state)
        state.watchdog_start = containers.background(
            self._start_watchdog, env.env_id, watchdog_container
        )
        client.networks.create(
            state.network,
            driver="bridge",
            internal=not model.egress,
            labels=common,
            check_duplicate=True,
        )
        client.networks.create(
            state.edge,
            driver="bridge",
            options={
                # Only to publish ports on 127.0.0.1: nothing leaves through it (no NAT),
                # and containers cannot talk across it (that would bypass the links).
                "com.docker.network.bridge.enable_ip_masquerade": "false",
                "com.docker.network.bridge.enable_icc": "false",
            },
            labels=common,
            check_duplicate=True,
        )
        for name, svc in model.services.items():
            port = _service_port(svc)
            if port is not None:
                state.internal[name] = Endpoint(name, port)
            if svc.docker and svc.docker.host_port:
                state.fixed_ports[name] = svc.docker.host_port
        if model.links:
            state.internal[PROXY_SERVICE] = Endpoint(PROXY_SERVICE, PROXY_API_PORT)
            for i, link in enumerate(model.links):
                listener = Endpoint(PROXY_SERVICE, FIRST_LINK_PORT + i)
                state.internal[f"{PROXY_SERVICE}-{link.name}"] = listener
                if link.from_ == "suite":  # the suites run on the host: published
                    state.proxy_published[f"{PROXY_SERVICE}-{link.name}"] = listener.port

    def _create_watchdog(self, env: EnvironmentContext, state: _Env) -> Any:
        name = labels.container_name(env.env_id, labels.WATCHDOG)
        return self.client.containers.create(
            state.images[PROXY_SERVICE].id,
            entrypoint=["python3", "-m", "orchestrator.runtime.docker.watchdog"],
            command=["--env", env.env_id, "--self", name, "--wipe", WATCHDOG_WORK_DIR],
            name=name,
            labels={**state.common_labels, labels.ROLE: "watchdog"},
            volumes={
                containers.docker_socket(self.client): {
                    "bind": containers.DOCKER_SOCKET,
                    "mode": "rw",
                },
                str(env.work_dir): {"bind": WATCHDOG_WORK_DIR, "mode": "rw"},
            },
            ports={f"{watchdog.PORT}/tcp": ("127.0.0.1", None)},
            auto_remove=True,
        )

    def _start_watchdog(self, env_id: str, container: Any) -> watchdog.Leash:
        container.start()
        port = containers.host_port(container, watchdog.PORT)
        if port is None:
            raise RuntimeUnavailable(
                f"the watchdog of {env_id} exited at once",
                hint=f"see `docker logs {container.name}`; is envctl's image current "
                "(`make images`)?",
            )
        return watchdog.Leash(env_id, "127.0.0.1", port)

    # addresses ------------------------------------------------------------------------

    def address(self, env: EnvironmentContext, name: str, service: Service) -> Endpoint:
        state = self._env(env.env_id)
        if name in state.internal:
            return state.internal[name]
        return Endpoint(name, _service_port(service))

    def host_endpoint(self, env: EnvironmentContext, name: str) -> Endpoint | None:
        """Known once the container that publishes it has started."""
        return self._env(env.env_id).published.get(name)

    # services ---------------------------------------------------------------------------

    def start(self, env: EnvironmentContext, spec: ServiceSpec) -> ServiceHandle:
        state = self._env(env.env_id)
        image = state.images[spec.name]
        service = spec.service
        is_proxy = spec.name == PROXY_SERVICE
        name = labels.container_name(env.env_id, spec.name)
        volumes = {
            self._volume(env, state, spec.name, i).name: {"bind": path, "mode": "rw"}
            for i, path in enumerate(image.volumes)
        }
        seeding = self._seeded_start(env, state, spec, volumes) if spec.data_key else {}
        kwargs: dict[str, Any] = {
            "name": name,
            # No `hostname`: Docker's DNS would then answer the service's name with its
            # address on the edge network, where containers cannot reach each other.
            "environment": dict(spec.env),
            "labels": {
                **state.common_labels,
                labels.SERVICE: spec.name,
                labels.ROLE: "proxy" if is_proxy else "service",
            },
            "network": state.network,
            "networking_config": {
                state.network: self.client.api.create_endpoint_config(aliases=[spec.name])
            },
            "volumes": volumes,
        }
        # What the host reaches: the first port (the endpoint), or for the fault proxy its
        # API and the suites' listeners; on 127.0.0.1 only, through the edge network.
        published: dict[str, int] = {}
        own = state.internal.get(spec.name)
        if own is not None and own.port is not None:
            published[spec.name] = own.port
        if is_proxy:
            published.update({k: v for k, v in state.proxy_published.items() if v})
        kwargs["ports"] = {
            f"{port}/tcp": ("127.0.0.1", state.fixed_ports.get(key))
            for key, port in published.items()
        }
        if service.resources.cpu:
            kwargs["nano_cpus"] = int(service.resources.cpu * 1e9)
        if service.resources.memory:
            kwargs["mem_limit"] = service.resources.memory
        command = self._command(spec)
        if command is not None:
            kwargs["command"] = command
        errs = errors()
        try:
            container = self.client.containers.create(image.id, **kwargs)
            if is_proxy:
                containers.put_file(container, PROXY_CONFIG_PATH, self._proxy_config(env))
            if published:
                self.client.networks.get(state.edge).connect(container)
            container.start()
        except errs.APIError as exc:
            self._remove_quietly(name)
            raise _start_error(spec.name, exc, state.fixed_ports.get(spec.name)) from None
        for key, port in published.items():
            state.published[key] = Endpoint("127.0.0.1", containers.host_port(container, port))
        endpoint = state.published.get(spec.name) or Endpoint("127.0.0.1", None)
        details = {
            "container": container.name,
            "container_id": container.id,
            **image.as_details(),
            "healthcheck": image.healthcheck,
            "container_port": own.port if own is not None else None,
            "engine": service.engine.value if service.engine else None,
            **seeding,
        }
        if images.unpinned(image.reference) and not is_proxy:
            log.warning("%s: image %r is not pinned to a version", spec.name, image.reference)
        return ServiceHandle(spec.name, endpoint, details)

    def _seeded_start(
        self,
        env: EnvironmentContext,
        state: _Env,
        spec: ServiceSpec,
        volumes: dict[str, dict[str, str]],
    ) -> dict[str, Any]:
        """Fill the db's data volume from kept seeded data, or mount a staging volume to
        keep this environment's once seeded (seedcache.py). Handle details either way."""
        from orchestrator.runtime.docker import seedcache

        image = state.images[spec.name]
        pgdata = spec.env.get("PGDATA", seedcache.DEFAULT_PGDATA)
        data = next((v for v, m in volumes.items() if m["bind"] == pgdata), None)
        if spec.service.engine is not Engine.postgres or data is None or not spec.data_key:
            return {}
        self._spec_envs[(env.env_id, spec.name)] = dict(spec.env)  # in memory only
        kept = seedcache.kept_volume(self.client, spec.data_key, image.id)
        if kept is not None:
            began = time.monotonic()
            if seedcache.restore(
                self.client, image.id, kept, data, spec.env, env.env_id, state.common_labels
            ):
                return {
                    SEEDED_FROM: spec.data_key,
                    SEED_MANIFEST: seedcache.manifest_of(kept),
                    "cache_restore_seconds": round(time.monotonic() - began, 3),
                }
            # A half-filled volume must not be started on: start from an empty one.
            self.client.volumes.get(data).remove(force=True)
            self.client.volumes.create(
                data, labels={**state.common_labels, labels.SERVICE: spec.name}
            )
        staging = seedcache.staging_volume(self.client, env.env_id, spec.name, state.common_labels)
        volumes[staging.name] = {"bind": seedcache.STAGING_PATH, "mode": "rw"}
        return {KEEPS_DATA: spec.data_key, "staging_volume": staging.name}

    def keep_seeded(
        self, env: EnvironmentContext, handle: ServiceHandle, manifest: Mapping[str, Any]
    ) -> bool:
        from orchestrator.runtime.docker import seedcache

        key, staging = handle.details.get(KEEPS_DATA), handle.details.get("staging_volume")
        container = self._container(handle)
        if not key or not staging or container is None:
            return False
        state = self._env(env.env_id)
        return seedcache.keep(
            self.client,
            container,
            state.images[handle.name].id,
            str(staging),
            str(key),
            self._spec_envs.get((env.env_id, handle.name), {}),
            env.env_id,
            state.common_labels,
            manifest,
        )

    def _command(self, spec: ServiceSpec) -> list[str] | None:
        if spec.name == PROXY_SERVICE:
            # -vv: every per-connection fault decision in its log, for replays.
            return ["-vv", "proxy", "serve", "--config", PROXY_CONFIG_PATH]
        if spec.command:
            return shlex.split(spec.command)
        if spec.service.engine is Engine.redis and spec.env.get("REDIS_PASSWORD"):
            # The official image has no password variable: pass it as redis-server's
            # option, expanded inside the container so it is not in the container's args.
            return ["sh", "-c", 'exec redis-server --requirepass "$REDIS_PASSWORD"']
        return None

    def _proxy_config(self, env: EnvironmentContext) -> str:
        """The session's proxy config, with listeners on every interface of the proxy's
        container and its event log inside it (collected with the logs)."""
        return proxyconfig.read_for_container(env.work_dir, PROXY_EVENTS_PATH)

    def _volume(self, env: EnvironmentContext, state: _Env, service: str, index: int) -> Any:
        return self.client.volumes.create(
            labels.volume_name(env.env_id, service, index),
            labels={**state.common_labels, labels.SERVICE: service},
        )

    def readiness_probe(self, handle: ServiceHandle, default: Probe | None) -> Probe | None:
        from orchestrator.readiness import TcpProbe

        probe = default
        port = handle.details.get("container_port")
        state = self._env_of(handle)
        if isinstance(default, TcpProbe) and port and state is not None:
            # Docker's port proxy accepts a connection before anything listens behind it:
            # ask the container's own address instead.
            container = self._container(handle)
            if container is not None:
                probe = ContainerTcpProbe(container, state.network, int(port))
        if handle.details.get("healthcheck"):
            container = self._container(handle)
            if container is not None:
                return HealthcheckProbe(container, probe)
        return probe

    def sampler(self, env: EnvironmentContext, handle: ServiceHandle) -> Sampler:
        from orchestrator.cost import readings

        container_id = str(handle.details.get("container_id") or "")
        if not container_id:
            return super().sampler(env, handle)
        # The container's cgroup files when the engine is on this host (microseconds a
        # reading); the stats API otherwise (one request a reading).
        return readings.cgroup(container_id) or self._stats_sampler(container_id)

    def _stats_sampler(self, container_id: str) -> Sampler:
        from orchestrator.cost.meter import Reading

        def read(storage: bool) -> Reading | None:
            try:
                stats = self.client.api.stats(container_id, stream=False, one_shot=True)
            except errors().APIError:
                return None
            cpu = (stats.get("cpu_stats") or {}).get("cpu_usage", {}).get("total_usage")
            memory = stats.get("memory_stats") or {}
            if cpu is None or "usage" not in memory:
                return None  # stopped: Docker reports empty stats
            inactive = (memory.get("stats") or {}).get("inactive_file", 0)
            return Reading(cpu / 1e9, max(0, int(memory["usage"]) - int(inactive)))

        return read

    def exit_reason(self, handle: ServiceHandle) -> str | None:
        # Polled by every readiness loop (first every 20 ms): one inspect per container
        # per EXIT_CHECK_INTERVAL at most, or the engine spends the CPU the services need.
        key = str(handle.details.get("container_id") or "")
        now = time.monotonic()
        with self._lock:
            cached = self._exit_checks.get(key)
        if cached is not None and now - cached[0] < EXIT_CHECK_INTERVAL:
            return cached[1]
        reason = self._exit_reason(key)
        with self._lock:
            self._exit_checks[key] = (now, reason)
        return reason

    def _exit_reason(self, container_id: str) -> str | None:
        try:
            attrs = self.client.api.inspect_container(container_id) if container_id else None
        except errors().NotFound:
            attrs = None
        if attrs is None:
            return "is not running (its container is gone)"
        status = attrs.get("State") or {}
        if status.get("Status") in ("exited", "dead"):
            code = status.get("ExitCode")
            oom = " (out of memory: raise resources.memory)" if status.get("OOMKilled") else ""
            return f"exited with code {code}{oom}"
        return None

    def log_path(self, env: EnvRecord | EnvironmentContext, service: str) -> Path | None:
        return None  # Docker keeps the logs; see log_tail and collect_logs

    def log_tail(self, handle: ServiceHandle, env: EnvironmentContext, lines: int = 30) -> str:
        container = self._container(handle)
        if container is None:
            return ""
        try:
            return str(container.logs(tail=lines).decode("utf-8", errors="replace")).rstrip()
        except errors().APIError:
            return ""

    def logs_text(self, record: EnvRecord, service: str) -> str | None:
        container = self._by_name(labels.container_name(record.id, service))
        if container is None:
            return None
        return str(container.logs().decode("utf-8", errors="replace"))

    def follow_output(
        self, env: EnvironmentContext, handle: ServiceHandle, stop: threading.Event
    ) -> Iterator[str]:
        """From the engine's log stream (Docker keeps the output, there is no file). The
        stream ends when the container stops; ``stop`` closes it early (``up`` returning)."""
        container = self._container(handle)
        if container is None:
            return
        try:
            stream = container.logs(stream=True, follow=True)
        except errors().APIError:
            return
        yield from follow.follow_stream(stream, stream.close, stop)

    def collect_logs(self, record: EnvRecord, target: Path, redact: Redactor) -> None:
        super().collect_logs(record, target, redact)  # the services' output, via logs_text
        proxy = self._by_name(labels.container_name(record.id, PROXY_SERVICE))
        if proxy is not None:
            events = containers.get_file(proxy, PROXY_EVENTS_PATH)
            if events is not None:
                (record.run_dir / "proxy-events.jsonl").write_text(redact(events), encoding="utf-8")

    def stop(self, handle: ServiceHandle) -> None:
        container = self._container(handle)
        if container is None:
            return
        try:
            container.stop(timeout=STOP_TIMEOUT)
        except errors().NotFound:
            pass

    def run_suite_in_image(self, env: EnvironmentContext, suite: ContainerSuite) -> SuiteResult:
        from orchestrator.runtime.docker import suite as container_suite

        state = self._env(env.env_id)
        return container_suite.run(
            self.client, state.network, state.common_labels, env.env_id, suite
        )

    def detach(self, env: EnvironmentContext, until: float) -> None:
        state = self._envs.get(env.env_id)
        leash = state.leash() if state is not None else None
        if leash is None or not leash.detach(until):
            log.warning("the watchdog of %s did not take over; `envctl gc` reaps it", env.env_id)

    # removal -----------------------------------------------------------------------------

    def destroy(self, record: EnvRecord) -> Sequence[str]:
        try:
            client = self.client
        except RuntimeUnavailable as exc:
            if record.id in self._nothing_created:
                return _remove_work_dir(record.work_dir)
            # The work dir stays: a later teardown needs its redaction list for the logs.
            return [f"docker resources of {record.id} ({exc.message})"]
        failures = removal.remove_labelled(client, record.id)
        failures += _remove_work_dir(record.work_dir)
        with self._lock:
            state = self._envs.pop(record.id, None)
            for key in [k for k in self._spec_envs if k[0] == record.id]:
                self._spec_envs.pop(key)
        leash = state.leash(wait=0) if state is not None else None
        if leash is not None:
            leash.close()
        return failures

    def orphans(self) -> set[str]:
        """Environments of this state store with resources on the engine.

        Only this store's: another store's environment may be a live run past its ttl or
        a detached `up` whose creator exited, and only its own store (or its watchdog,
        which knows which) can tell. Whatever a dead envctl leaves, its watchdog removes.
        """
        selector = {"label": f"{labels.STORE}={self.store_id}"}
        client = self.client
        listed: list[Any] = [
            *client.containers.list(all=True, filters=selector),
            *client.networks.list(filters=selector),
            *client.volumes.list(filters=selector),
        ]
        found: set[str] = set()
        for item in listed:
            item_labels = item.attrs.get("Labels") or item.attrs.get("Config", {}).get("Labels")
            env_id = (item_labels or {}).get(labels.ENV)
            if env_id:
                found.add(env_id)
        return found

    def reap_orphan(self, env_id: str) -> Sequence[str]:
        failures = removal.remove_labelled(self.client, env_id)
        return failures + _remove_work_dir(self.settings.work_root / f"envctl-{env_id}")

    # helpers ---------------------------------------------------------------------------

    def _env(self, env_id: str) -> _Env:
        with self._lock:
            return self._envs[env_id]

    def _env_of(self, handle: ServiceHandle) -> _Env | None:
        container = str(handle.details.get("container", ""))
        with self._lock:
            for env_id, state in self._envs.items():
                if container.startswith(env_id + "-"):
                    return state
        return None

    def _container(self, handle: ServiceHandle) -> Any:
        return self._by_name(str(handle.details.get("container_id") or ""))

    def _by_name(self, name: str) -> Any:
        if not name:
            return None
        try:
            return self.client.containers.get(name)
        except errors().NotFound:
            return None

    def _remove_quietly(self, name: str) -> None:
        container = self._by_name(name)
        if container is not None:
            try:
                container.remove(force=True, v=True)
            except errors().APIError as exc:
                log.warning("could not remove %s: %s", name, exc)


def _start_error(service: str, exc: Any, fixed_port: int | None) -> ServiceError:
    why = containers.explain(exc)
    if fixed_port and ("already allocated" in why or "already in use" in why):
        return ServiceError(
            service,
            f"cannot publish it on 127.0.0.1:{fixed_port}: the port is already in use",
            hint=f"free port {fixed_port}, choose another docker.host_port, or drop "
            "host_port to let Docker pick a free one",
        )
    return ServiceError(
        service,
        f"Docker could not start it: {why}",
        hint="check the image, command and resources in the blueprint",
    )


def _remove_work_dir(path: Path) -> list[str]:
    """The environment's private dir on the host: proxy config, endpoints (URLs with
    passwords), the redaction list. It must not outlive the environment."""
    shutil.rmtree(path, ignore_errors=True)
    return [f"directory {path}"] if path.exists() else []


def _service_port(service: Service) -> int | None:
    """The port others reach it on: the first declared, else its engine's usual one."""
    if service.ports:
        return service.ports[0]
    if service.engine is not None:
        from orchestrator.engines import adapter

        return adapter(service.engine).default_port
    return None


def _image_of(service: Service) -> str | None:
    if service.docker and service.docker.image:
        return service.docker.image
    return service.image
