"""The run lifecycle: plan → provision → links → seed → suites → teardown → record.

``Session`` owns one environment from creation to teardown. Its state is persisted before
anything is started (so another envctl can always find and reap it), services start in
parallel as soon as their dependencies are ready, and teardown runs exactly once on every
exit path: success, failure, error, Ctrl-C and SIGTERM. A SIGKILL leaves it to `envctl gc`.
"""

from __future__ import annotations

import enum
import graphlib
import json
import logging
import os
import secrets as random_source
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator import plan, readiness, signals, suites
from orchestrator.blueprint.loader import LoadedBlueprint
from orchestrator.childenv import base_environ
from orchestrator.exceptions import EnvctlError, Interrupted, UsageError
from orchestrator.progress import Progress
from orchestrator.result import RunResult, RunStatus, ServiceResult
from orchestrator.runtime import registry
from orchestrator.runtime.base import EnvironmentContext, Runtime, ServiceHandle
from orchestrator.runtime.local.processes import is_same_process, started_at
from orchestrator.secrets import Redactor, SecretStore, load_redactions, save_redactions
from orchestrator.seed import schema as schema_seed
from orchestrator.settings import Settings
from orchestrator.state import EnvRecord, StateStore, this_host

log = logging.getLogger(__name__)


class EnvStatus(enum.StrEnum):
    provisioning = "provisioning"
    ready = "ready"
    seeding = "seeding"
    testing = "testing"
    tearing_down = "tearing_down"
    teardown_failed = "teardown_failed"


@dataclass
class Selection:
    tiers: Sequence[str] = ()
    suites: Sequence[str] = ()


@dataclass
class Session:
    """One environment, from creation to teardown."""

    settings: Settings
    loaded: LoadedBlueprint
    runtime: Runtime
    state: StateStore
    redactor: Redactor
    progress: Progress
    env: EnvironmentContext
    resolver: plan.Resolver
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    handles: dict[str, ServiceHandle] = field(default_factory=dict)
    services: dict[str, ServiceResult] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _torn_down: list[str] | None = None
    _t0: float = field(default_factory=time.monotonic)

    # creation --------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        settings: Settings,
        loaded: LoadedBlueprint,
        runtime: Runtime,
        state: StateStore,
        redactor: Redactor,
        progress: Progress,
        mode: str,
    ) -> Session:
        env_id = f"{loaded.name[:40]}-{random_source.token_hex(3)}"
        meta = loaded.model.metadata
        ctx = EnvironmentContext(
            env_id=env_id,
            blueprint=loaded.name,
            owner=meta.owner,
            work_dir=settings.work_root / f"envctl-{env_id}",
            run_dir=settings.runs_dir / env_id,
            labels={"envctl.blueprint": loaded.name, "envctl.owner": meta.owner or ""},
        )
        generate = {n: s.length for n, s in loaded.model.secrets.items() if s.generate}
        store = SecretStore(settings.environ, redactor, settings.secrets_file, generate)
        resolver = plan.Resolver(loaded, ctx, store, settings.environ)
        now = time.time()
        # Persist first: from here on, whatever we start can be found and reaped.
        state.add(
            EnvRecord(
                id=env_id,
                blueprint=loaded.name,
                blueprint_path=str(loaded.path),
                runtime=runtime.name,
                status=EnvStatus.provisioning.value,
                mode=mode,
                owner_pid=os.getpid(),
                owner_started=_own_start_time(),
                owner_host=this_host(),
                created_at=now,
                expires_at=now + loaded.model.ttl,
                work_dir=ctx.work_dir,
                run_dir=ctx.run_dir,
            )
        )
        ctx.run_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings, loaded, runtime, state, redactor, progress, ctx, resolver)

    @property
    def env_id(self) -> str:
        return self.env.env_id

    def _phase(self, name: str, started: float) -> None:
        self.phases[name] = self.phases.get(name, 0.0) + time.monotonic() - started

    # plan + provision ----------------------------------------------------------------

    def provision(self) -> None:
        t = time.monotonic()
        self.progress.step(f"planning {self.env_id} on {self.runtime.name}")
        self.runtime.prepare(self.env, self.loaded)
        for name, svc in self.loaded.model.services.items():
            self.resolver.internal[name] = self.runtime.address(self.env, name, svc)
        # Resolve every service now: a missing secret fails before anything starts.
        specs = {name: self.resolver.service_spec(name) for name in self.loaded.model.services}
        save_redactions(self.redactor, self.env.work_dir)
        self._phase("plan", t)

        t = time.monotonic()
        sorter = graphlib.TopologicalSorter(plan.dependency_graph(self.loaded))
        sorter.prepare()
        pending: dict[futures.Future[None], str] = {}
        first_error: BaseException | None = None
        with futures.ThreadPoolExecutor(max_workers=max(1, len(specs))) as pool:
            try:
                while sorter.is_active() and first_error is None:
                    for name in sorter.get_ready():
                        pending[pool.submit(self._bring_up, specs[name])] = name
                    done, _ = futures.wait(
                        pending, timeout=0.5, return_when=futures.FIRST_COMPLETED
                    )
                    for fut in done:
                        name = pending.pop(fut)
                        if fut.exception() is not None:
                            first_error = first_error or fut.exception()
                        else:
                            sorter.done(name)
            except BaseException:
                self.cancel.set()  # Ctrl-C: readiness loops return, the pool drains
                raise
            finally:
                if first_error is not None:
                    self.cancel.set()
        self._phase("provision", t)
        if first_error is not None:
            raise first_error
        self._write_env_file()
        self.state.set_status(self.env_id, EnvStatus.ready.value)

    def _bring_up(self, spec: Any) -> None:
        svc = spec.service
        offset = time.monotonic() - self._t0
        self.progress.step(f"starting {spec.name}")
        handle = self.runtime.start(self.env, spec)
        with self._lock:
            self.handles[spec.name] = handle
            self.resolver.external[spec.name] = handle.endpoint
        self.state.set_service(self.env_id, spec.name, handle.details)
        probe = self.runtime.readiness_probe(handle) or readiness.probe_for(
            svc, spec.env, {**base_environ(), **spec.env}, str(spec.cwd)
        )
        ready = readiness.wait_ready(self.runtime, self.env, handle, probe, svc.ready, self.cancel)
        with self._lock:
            url = self.resolver.url(spec.name, self.resolver.external)
        result = ServiceResult(
            name=spec.name,
            host=handle.endpoint.host,
            port=handle.endpoint.port,
            url=url,
            declared_version=svc.declared_version,
            version=ready.version,
            ready_seconds=(time.monotonic() - self._t0) - offset,
            started_offset=offset,
        )
        with self._lock:
            self.services[spec.name] = result
        drift = " (declared " + str(result.declared_version) + ")" if result.version_drift else ""
        version = f" {result.version}" if result.version else ""
        self.progress.step(
            f"ready    {spec.name}{version}{drift} at {handle.endpoint.address} "
            f"in {result.ready_seconds:.2f}s"
        )

    # links + seed ------------------------------------------------------------------------

    def links(self) -> None:
        if self.loaded.model.links:
            self.warnings.append(
                f"{len(self.loaded.model.links)} link(s) declared, but latency/fault injection "
                "is not implemented yet: traffic goes direct"
            )

    def seed(self) -> None:
        t = time.monotonic()
        for seed in self.loaded.model.data:
            if seed.schema_:
                self.progress.step(f"seeding  {seed.service}: schema {seed.schema_}")
                url = self.resolver.url(seed.service, self.resolver.external)
                schema_seed.apply(seed.service, url, self.loaded.directory / seed.schema_)
            if seed.tables:
                self.warnings.append(
                    f"data for {seed.service!r} declares tables ({', '.join(seed.tables)}), "
                    "but row generation is not implemented yet: only the schema was applied"
                )
        if self.loaded.model.data:
            self._phase("seed", t)

    # suites --------------------------------------------------------------------------------

    def run_suites(self, selection: Selection, echo: bool) -> list[suites.SuiteResult]:
        chosen = select_suites(self.loaded, selection)
        if not chosen:
            self.warnings.append("no suites selected: nothing was tested")
            return []
        self.state.set_status(self.env_id, EnvStatus.testing.value)
        env_file = self.env_file
        results = []
        t = time.monotonic()
        for index, suite in chosen:
            self.progress.step(f"suite    {suite.name}: {self.redactor(suite.run)}")
            junit = self.resolver.suite_junit(index, suite)
            env = {
                **base_environ(),
                **self.resolver.endpoint_vars(),
                "ENVCTL_ENV_ID": self.env_id,
                "ENVCTL_RUN_DIR": str(self.env.run_dir),
                "ENVCTL_ENV_FILE": str(env_file),
                "ENVCTL_JUNIT_XML": str(junit),
                **self.resolver.suite_env(index, suite),
            }
            cwd = self.loaded.directory / suite.cwd if suite.cwd else self.loaded.directory
            result = suites.run_suite(
                name=suite.name,
                tier=suite.tier.value,
                command=self.resolver.suite_command(index, suite),
                cwd=cwd,
                env=env,
                timeout=suite.timeout,
                log_path=self.env.run_dir / "logs" / f"suite-{suite.name}.log",
                junit_path=junit,
                redactor=self.redactor,
                echo=self.progress.suite_output if echo else None,
            )
            results.append(result)
            self.progress.step(
                f"suite    {suite.name}: {result.status.value} in {result.seconds:.1f}s"
            )
        self._phase("suites", t)
        return results

    def _stop_services(self) -> None:
        """Dependants first; the services of one level stop side by side."""
        for level in plan.stop_levels(self.loaded):
            handles = [self.handles[n] for n in level if n in self.handles]
            if not handles:
                continue
            with futures.ThreadPoolExecutor(max_workers=len(handles)) as pool:
                for handle, fut in [(h, pool.submit(self.runtime.stop, h)) for h in handles]:
                    try:
                        fut.result()
                    except Exception as exc:  # keep going: the rest must still stop
                        log.warning("stopping %s failed: %s", handle.name, exc)

    @property
    def env_file(self) -> Path:
        return self.env.work_dir / "endpoints.env"

    def _write_env_file(self) -> None:
        """A dotenv of the endpoints, for tools that read one (0600: URLs hold passwords)."""
        path = self.env_file
        lines = [f"{k}={v}" for k, v in sorted(self.resolver.endpoint_vars().items())]
        path.touch(mode=0o600)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    # teardown ----------------------------------------------------------------------------

    def teardown(self) -> list[str]:
        """Stop everything, keep the logs, remove the rest. Runs once; safe to call again."""
        if self._torn_down is not None:
            return self._torn_down
        t = time.monotonic()
        self.progress.step(f"teardown {self.env_id}")
        self.cancel.set()
        leftovers: list[str] = []
        with signals.shielded():
            try:
                self.state.set_status(self.env_id, EnvStatus.tearing_down.value)
                self._stop_services()
                leftovers = destroy_keeping_logs(
                    self.runtime, self.state.get(self.env_id), self.redactor
                )
            except EnvctlError as exc:
                leftovers.append(f"teardown error: {exc.message}")
            if leftovers:
                self.state.set_status(self.env_id, EnvStatus.teardown_failed.value)
                log.error("teardown left: %s (envctl gc retries)", ", ".join(leftovers))
            else:
                self.state.remove(self.env_id)
        self._phase("teardown", t)
        self._torn_down = leftovers
        return leftovers

    def detach(self) -> None:
        """Leave the environment running after this process exits (``envctl up``)."""
        self.state.detach(self.env_id, time.time() + self.loaded.model.ttl)

    def result(
        self,
        status: RunStatus,
        suite_results: list[suites.SuiteResult],
        error: BaseException | None,
    ) -> RunResult:
        meta = self.loaded.model.metadata
        return RunResult(
            env=self.env_id,
            blueprint=self.loaded.name,
            blueprint_file=str(self.loaded.path),
            owner=meta.owner,
            tier=meta.tier.value,
            runtime=self.runtime.name,
            status=status,
            started_at=self.started_at,
            finished_at=datetime.now(UTC),
            run_dir=str(self.env.run_dir),
            services={
                n: self.services[n] for n in self.loaded.model.services if n in self.services
            },
            suites=suite_results,
            phases=dict(self.phases),
            warnings=list(self.warnings),
            error=_error_dict(error),
            leftovers=list(self._torn_down or []),
            exception=error,
        )


def select_suites(loaded: LoadedBlueprint, selection: Selection) -> list[tuple[int, Any]]:
    all_suites = list(enumerate(loaded.model.suites))
    names = {s.name for _, s in all_suites}
    unknown = [n for n in selection.suites if n not in names]
    if unknown:
        raise UsageError(
            f"unknown suite {unknown[0]!r}",
            hint=f"suites in {loaded.path.name}: {', '.join(sorted(names)) or '(none)'}",
        )
    chosen = all_suites
    if selection.suites:
        chosen = [(i, s) for i, s in chosen if s.name in selection.suites]
    if selection.tiers:
        chosen = [(i, s) for i, s in chosen if s.tier.value in selection.tiers]
    return chosen


class Engine:
    """Entry points for commands: run, up, down. Holds what a command's lifetime shares."""

    def __init__(
        self,
        settings: Settings,
        redactor: Redactor | None = None,
        progress: Progress | None = None,
        runtime_factory: Callable[[str, Settings], Runtime] = registry.create,
    ) -> None:
        self.settings = settings
        self.redactor = redactor or Redactor()
        self.progress = progress or Progress()
        self.runtime_factory = runtime_factory
        self._state: StateStore | None = None

    @property
    def state(self) -> StateStore:
        if self._state is None:
            self._state = StateStore(self.settings.state_db)
        return self._state

    def _session(self, loaded: LoadedBlueprint, runtime: str, mode: str) -> Session:
        rt = self.runtime_factory(runtime, self.settings)
        return Session.create(
            self.settings, loaded, rt, self.state, self.redactor, self.progress, mode
        )

    def run(
        self,
        loaded: LoadedBlueprint,
        runtime: str = "local",
        selection: Selection | None = None,
        echo_suites: bool = False,
    ) -> RunResult:
        """Provision, test, tear down, record. Returns the result even on error."""
        selection = selection or Selection()
        select_suites(loaded, selection)  # an unknown --suite fails before anything starts
        session = self._session(loaded, runtime, "run")
        status, suite_results = RunStatus.error, []
        error: BaseException | None = None
        try:
            with signals.interruptible():
                try:
                    session.provision()
                    session.links()
                    session.seed()
                    suite_results = session.run_suites(selection, echo_suites)
                    passed = all(r.status is suites.SuiteStatus.passed for r in suite_results)
                    status = RunStatus.passed if passed else RunStatus.failed
                except EnvctlError as exc:
                    error = exc
                finally:
                    session.teardown()
        except Interrupted as exc:  # a signal that arrived between the blocks above
            error = exc
        except BaseException as exc:
            error = exc
            raise
        finally:
            result = session.result(status, suite_results, error)
            self._record(result)
        return result

    def up(
        self,
        loaded: LoadedBlueprint,
        runtime: str = "local",
        hold: bool = False,
        on_ready: Callable[[Session], None] | None = None,
    ) -> Session:
        """Provision and leave running. ``hold`` keeps this process as owner until a signal."""
        session = self._session(loaded, runtime, "run" if hold else "up")
        try:
            with signals.interruptible():
                session.provision()
                session.links()
                session.seed()
                if on_ready is not None:
                    on_ready(session)
                if not hold:
                    session.detach()
                    return session
                while True:  # until Ctrl-C / SIGTERM / `envctl down`
                    time.sleep(3600)
        except BaseException:
            session.teardown()
            raise

    def down(self, env_id: str, wait: float = 60.0) -> list[str]:
        record = self.state.get(env_id)
        if record.owner_pid and owner_alive(record) and record.owner_pid != os.getpid():
            # Its owner tears down best (it knows its suites); ask it, then make sure.
            self.progress.step(f"asking envctl process {record.owner_pid} to tear down {env_id}")
            os.kill(record.owner_pid, 15)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if env_id not in {r.id for r in self.state.environments()}:
                    return []
                time.sleep(0.2)
            record = self.state.get(env_id)
        return self.destroy(record)

    def destroy(self, record: EnvRecord) -> list[str]:
        self.progress.step(f"teardown {record.id}")
        runtime = self.runtime_factory(record.runtime, self.settings)
        self.state.set_status(record.id, EnvStatus.tearing_down.value)
        leftovers = destroy_keeping_logs(runtime, record, self.redactor)
        if leftovers:
            self.state.set_status(record.id, EnvStatus.teardown_failed.value)
        else:
            self.state.remove(record.id)
        return leftovers

    def _record(self, result: RunResult) -> None:
        """Every run is recorded, passed, failed or errored; secrets redacted first."""
        summary = self.redactor.redact_data(result.to_dict())
        assert isinstance(summary, dict)
        try:
            self.state.record_run(summary)
            (Path(result.run_dir) / "result.json").write_text(
                json.dumps(summary, indent=2), encoding="utf-8"
            )
        except (EnvctlError, OSError) as exc:
            log.error("could not record run %s: %s", result.env, exc)


def destroy_keeping_logs(runtime: Runtime, record: EnvRecord, redactor: Redactor) -> list[str]:
    """Copy service logs into the run dir (redacted), then remove the environment."""
    load_redactions(redactor, record.work_dir)  # when another process created it
    target = record.run_dir / "logs"
    target.mkdir(parents=True, exist_ok=True)
    for name in record.services:
        source = runtime.log_path(record, name)
        if source is not None and source.exists():
            text = source.read_text(encoding="utf-8", errors="replace")
            (target / f"{name}.log").write_text(redactor(text), encoding="utf-8")
    return list(runtime.destroy(record))


def _error_dict(error: BaseException | None) -> dict[str, Any] | None:
    if error is None:
        return None
    if isinstance(error, EnvctlError):
        return error.as_dict()
    return {"type": type(error).__name__, "message": str(error), "hint": "this is a bug in envctl"}


def _own_start_time() -> float | None:
    return started_at(os.getpid())


def owner_alive(record: EnvRecord) -> bool:
    if record.owner_host != this_host():
        return True  # cannot tell from here; only the TTL reaps it
    return is_same_process(record.owner_pid, record.owner_started)
