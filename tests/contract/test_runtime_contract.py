"""The runtime seam's contract (runtime/base.py), run against every runtime.

The Docker and Kubernetes runtimes join the ``RUNTIMES`` list when they land; the engine
relies on exactly these behaviours, so a runtime that passes here plugs in.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.blueprint.loader import LoadedBlueprint, loads
from orchestrator.blueprint.model import Readiness
from orchestrator.exceptions import ServiceError
from orchestrator.plan import Resolver
from orchestrator.readiness import TcpProbe, wait_ready
from orchestrator.runtime import registry
from orchestrator.runtime.base import EnvironmentContext, Runtime, ServiceHandle
from orchestrator.secrets import Redactor, SecretStore
from orchestrator.settings import Settings
from orchestrator.state import EnvRecord, StateStore, this_host
from tests.conftest import leftovers

SECRET = "contract-secret-value-1"
BLUEPRINT = """
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: contract}
services:
  cache: {image: "redis:7.0", engine: redis, env: {REDIS_PASSWORD: "${secret.PW}"}}
  app:
    image: "orders:1.42.0"  # any Python image without a HEALTHCHECK of its own
    ports: [8000]
    env: {TOKEN: "${secret.PW}"}
    local: {command: "python -m http.server --bind 127.0.0.1 ${self.port}"}
    docker: {command: "python3 -m http.server 8000"}
  broken:
    image: "orders:1.42.0"
    local: {command: "true", cwd: does-not-exist}
    docker: {command: "/does-not-exist"}
"""

RUNTIMES = [
    pytest.param("fake", id="fake"),
    pytest.param("local", id="local", marks=pytest.mark.local),
    pytest.param("docker", id="docker", marks=pytest.mark.docker),
]


@dataclass
class Harness:
    runtime: Runtime
    loaded: LoadedBlueprint
    env: EnvironmentContext
    state: StateStore
    resolver: Resolver

    def record(self, handles: list[ServiceHandle]) -> EnvRecord:
        return EnvRecord(
            id=self.env.env_id,
            blueprint="contract",
            blueprint_path=str(self.loaded.path),
            runtime=self.runtime.name,
            status="ready",
            mode="up",
            owner_pid=None,
            owner_started=None,
            owner_host=this_host(),
            created_at=time.time(),
            expires_at=time.time() + 60,
            work_dir=self.env.work_dir,
            run_dir=self.env.run_dir,
            services={h.name: dict(h.details) for h in handles},
        )

    def start(self, name: str) -> ServiceHandle:
        return self.runtime.start(self.env, self.resolver.service_spec(name))


def make_harness(name: str, tmp_path: Path, suffix: str = "a") -> Harness:
    tmp_path.mkdir(parents=True, exist_ok=True)
    settings = Settings(state_dir=tmp_path / "state", environ={"ENVCTL_SECRET_PW": SECRET})
    path = tmp_path / "contract.yaml"
    path.write_text(BLUEPRINT)
    loaded = loads(BLUEPRINT, str(path))
    env_id = f"contract-{suffix}{time.monotonic_ns() % 10**6}"
    env = EnvironmentContext(
        env_id=env_id,
        blueprint="contract",
        owner=None,
        work_dir=settings.work_root / f"envctl-{env_id}",
        run_dir=tmp_path / "run",
    )
    runtime = registry.create(name, settings)
    runtime.prepare(env, loaded)
    secrets = SecretStore(settings.environ, Redactor())
    resolver = Resolver(loaded, env, secrets, {}, runtime=name)
    for service_name, svc in loaded.model.services.items():
        resolver.internal[service_name] = runtime.address(env, service_name, svc)
    return Harness(runtime, loaded, env, StateStore(settings.state_db), resolver)


@pytest.fixture(params=RUNTIMES)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "docker":
        request.getfixturevalue("built_images")  # the blueprint's images, built locally
    h = make_harness(request.param, tmp_path)
    yield h
    h.runtime.destroy(h.record([]))


def wait_running(h: Harness, handle: ServiceHandle) -> None:
    """Ready the way the engine sees it: the runtime's own probe, else a TCP connect."""
    probe = h.runtime.readiness_probe(handle, TcpProbe())
    wait_ready(h.runtime, h.env, handle, probe, Readiness(timeout=20), threading.Event())


def test_addresses_are_distinct_within_and_across_environments(
    harness: Harness, tmp_path: Path
) -> None:
    assert len(set(harness.resolver.internal.values())) == 3
    other = make_harness(harness.runtime.name, tmp_path / "other", suffix="b")
    if harness.runtime.name == "fake":
        other.runtime.world = harness.runtime.world  # type: ignore[attr-defined]  # one host
    try:
        # Where the host reaches them. On a container network the in-environment names
        # may repeat across environments (which are isolated); the host's view may not.
        ours = {harness.start(name).endpoint for name in ("cache", "app")}
        theirs = {other.start(name).endpoint for name in ("cache", "app")}
        assert len(ours) == 2 and not ours & theirs
    finally:
        other.runtime.destroy(other.record([]))


def test_a_started_service_runs_at_its_address_until_stopped(harness: Harness) -> None:
    handle = harness.start("app")
    assert handle.endpoint.port is not None, "the host can reach a service with ports"
    wait_running(harness, handle)
    assert harness.runtime.exit_reason(handle) is None
    harness.runtime.stop(handle)
    assert harness.runtime.exit_reason(handle) is not None
    harness.runtime.stop(handle)  # idempotent


def test_handle_details_persist_without_secrets(harness: Harness) -> None:
    handles = [harness.start("cache"), harness.start("app")]
    for handle in handles:
        text = json.dumps(dict(handle.details))
        assert SECRET not in text
    harness.state.add(harness.record(handles))
    assert SECRET.encode() not in harness.state.path.read_bytes()


def test_a_start_that_cannot_happen_raises_service_error(harness: Harness) -> None:
    if harness.runtime.name == "fake":
        from orchestrator.runtime.fake import FakeBehaviour

        harness.runtime.world.behaviours["broken"] = FakeBehaviour(start_error="no such dir")  # type: ignore[attr-defined]
    with pytest.raises(ServiceError, match="'broken'"):
        harness.start("broken")


def test_destroy_from_the_record_alone_removes_everything_and_is_idempotent(
    harness: Harness, tmp_path: Path
) -> None:
    handles = [harness.start("cache"), harness.start("app")]
    for handle in handles:
        wait_running(harness, handle)
    record = harness.record(handles)
    # Another process (envctl down / gc) has only the record: a fresh runtime object.
    fresh = registry.create(harness.runtime.name, harness.runtime.settings)
    if harness.runtime.name == "fake":
        fresh.world = harness.runtime.world  # type: ignore[attr-defined]
    assert harness.env.env_id in fresh.orphans()
    assert list(fresh.destroy(record)) == []
    assert list(fresh.destroy(record)) == []
    assert harness.env.env_id not in fresh.orphans()
    for handle in handles:
        assert harness.runtime.exit_reason(handle) is not None
    if harness.runtime.name == "local":
        assert leftovers(harness.env.env_id) == []
        assert not harness.env.work_dir.exists()
