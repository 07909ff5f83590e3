"""One environment's life: plan → provision → links → seed → suites → teardown.

A ``Session`` is created by ``Engine.run``/``Engine.up``. Its record is persisted before
anything starts (so another envctl can always find and reap it); services start in
parallel as soon as their dependencies are ready; teardown runs once, whatever happened.
"""

from __future__ import annotations

import dataclasses
import enum
import graphlib
import json
import logging
import resource
import secrets as random_source
import threading
import time
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator import plan, readiness, signals, suites
from orchestrator.blueprint.loader import LoadedBlueprint
from orchestrator.blueprint.model import Suite
from orchestrator.childenv import base_environ, write_env_file
from orchestrator.cost.meter import Meter
from orchestrator.cost.model import ServiceUsage
from orchestrator.exceptions import EnvctlError, Interrupted, StateError, UsageError
from orchestrator.links import PROXY_SERVICE, PlannedLink, proxy_config, proxy_service
from orchestrator.ownership import this_process
from orchestrator.progress import INFO, START, Event, Kind, Progress
from orchestrator.proxy import client as proxy_client
from orchestrator.result import RunResult, RunStatus, ServiceResult
from orchestrator.runtime.base import EnvironmentContext, Runtime, ServiceHandle, ServiceSpec
from orchestrator.secrets import Redactor, SecretStore, redact_file, save_redactions
from orchestrator.settings import Settings
from orchestrator.state import EnvironmentIdTaken, EnvRecord, StateStore, this_host
from orchestrator.teardown import dismantle

log = logging.getLogger(__name__)

SUITE_METER = "suite"  # the suites' own processes, metered like a service


def _children_cpu() -> float:
    """CPU seconds of every child this process has waited for (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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


def select_suites(loaded: LoadedBlueprint, selection: Selection) -> list[tuple[int, Suite]]:
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


@dataclass
class Session:
    settings: Settings
    loaded: LoadedBlueprint
    runtime: Runtime
    state: StateStore
    redactor: Redactor
    progress: Progress
    env: EnvironmentContext
    record: EnvRecord  # as created; services are added as they start
    resolver: plan.Resolver
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    handles: dict[str, ServiceHandle] = field(default_factory=dict)
    services: dict[str, ServiceResult] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _torn_down: list[str] | None = None
    proxy_seed: int | None = None
    link_results: list[dict[str, Any]] = field(default_factory=list)
    seeding: list[dict[str, Any]] = field(default_factory=list)
    meter: Meter | None = None  # what each service uses, per phase (cost/meter.py)
    fidelity: dict[str, Any] | None = None  # the live audit before the suites
    usage: dict[str, ServiceUsage] = field(default_factory=dict)  # once torn down
    timeline: list[dict[str, Any]] = field(default_factory=list)  # spans, see _event
    _open_spans: dict[tuple[str, str], float] = field(default_factory=dict)
    _t0: float = field(default_factory=time.monotonic)
    _followers: list[threading.Thread] = field(default_factory=list)  # --verbose, see _follow
    _stop_following: threading.Event = field(default_factory=threading.Event)
    _followed: threading.Event = field(default_factory=threading.Event)  # see _unfollow

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
        meta = loaded.model.metadata
        pid, started = this_process()
        for _ in range(5):
            env_id = f"{loaded.name[:40]}-{random_source.token_hex(3)}"
            now = time.time()
            record = EnvRecord(
                id=env_id,
                blueprint=loaded.name,
                blueprint_path=str(loaded.path),
                runtime=runtime.name,
                status=EnvStatus.provisioning.value,
                mode=mode,
                owner_pid=pid,
                owner_started=started,
                owner_host=this_host(),
                created_at=now,
                expires_at=now + loaded.model.ttl,
                work_dir=settings.work_root / f"envctl-{env_id}",
                run_dir=settings.runs_dir / env_id,
            )
            try:
                # Persist first: from here on, whatever we start can be found and reaped.
                state.add(record)
                break
            except EnvironmentIdTaken:  # two runs drew the same suffix: draw again
                log.debug("environment id %s is taken; drawing another", env_id)
        else:
            raise StateError("could not find a free environment id", hint="is the state sane?")
        try:
            record.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            state.remove(record.id)  # nothing was started: leave no row behind
            raise StateError(
                f"cannot create the run directory {str(record.run_dir)!r}: {exc.strerror or exc}",
                hint="set ENVCTL_STATE_DIR to a writable directory",
            ) from exc
        ctx = EnvironmentContext(
            env_id=record.id,
            blueprint=loaded.name,
            owner=meta.owner,
            work_dir=record.work_dir,
            run_dir=record.run_dir,
            labels={"envctl.blueprint": loaded.name, "envctl.owner": meta.owner or ""},
        )
        generate = {n: s.length for n, s in loaded.model.secrets.items() if s.generate}
        store = SecretStore(settings.environ, redactor, settings.secrets_file, generate)
        resolver = plan.Resolver(loaded, ctx, store, settings.environ, runtime=runtime.name)
        return cls(settings, loaded, runtime, state, redactor, progress, ctx, record, resolver)

    @property
    def env_id(self) -> str:
        return self.env.env_id

    def _phase(self, name: str, started: float) -> None:
        self.phases[name] = self.phases.get(name, 0.0) + time.monotonic() - started

    def _set_status(self, status: EnvStatus) -> None:
        self.state.set_status(self.env_id, status.value)

    def _event(self, kind: Kind, name: str, state: str, text: str = "", **detail: Any) -> None:
        """Tell the renderer, and keep the run's timeline: a ``start`` opens a span of
        (kind, name), the next other state (but ``info``) closes it with that status."""
        at = time.monotonic() - self._t0
        with self._lock:
            if state == START:
                self._open_spans[(kind, name)] = at
            elif state != INFO:
                start = self._open_spans.pop((kind, name), None)
                if start is not None:
                    span: dict[str, Any] = {"kind": kind, "name": name, "status": state}
                    span |= {"start": round(start, 3), "end": round(at, 3)}
                    self.timeline.append(span | _plain(detail))
        self.progress.event(Event(kind, name, state, text, at, detail))

    def _close_open_spans(self, status: str) -> None:
        """Whatever was still running when the run ended (an error, Ctrl-C)."""
        for kind, name in list(self._open_spans):
            self._event(kind, name, status)  # type: ignore[arg-type]

    # plan + provision ----------------------------------------------------------------

    def provision(self) -> None:
        t = time.monotonic()
        if self.settings.metering and self.meter is None:
            self.meter = Meter(self.settings.meter_interval)
            self.meter.start()
        self._event("phase", "plan", START, f"planning {self.env_id} on {self.runtime.name}")
        self.runtime.prepare(self.env, self.loaded)
        for name, svc in self.loaded.model.services.items():
            self.resolver.internal[name] = self.runtime.address(self.env, name, svc)
        graph = plan.dependency_graph(self.loaded)
        proxy_spec = self._plan_links()
        # Resolve every service now: a missing secret fails before anything starts.
        specs = {name: self.resolver.service_spec(name) for name in self.loaded.model.services}
        if proxy_spec is not None:
            specs[PROXY_SERVICE] = proxy_spec
            graph[PROXY_SERVICE] = set()
            for link in self.loaded.model.links:
                if link.from_ in graph:  # a consumer starts once its proxy listens
                    graph[link.from_].add(PROXY_SERVICE)
        save_redactions(self.redactor, self.env.work_dir)
        self._phase("plan", t)
        self._event("phase", "plan", "done")

        t = time.monotonic()
        self._event("phase", "provision", START)
        sorter = graphlib.TopologicalSorter(graph)
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
        self._event("phase", "provision", "failed" if first_error else "done")
        if first_error is not None:
            raise first_error
        self._write_env_file()
        self._set_status(EnvStatus.ready)

    def _plan_links(self) -> ServiceSpec | None:
        """Reserve the proxy's API and one listener per link; write its config."""
        links = self.loaded.model.links
        if not links:
            return None
        config_path = self.env.work_dir / "proxy.json"
        service = proxy_service(config_path)
        api = self.runtime.address(self.env, PROXY_SERVICE, service)
        planned = []
        for link in links:
            listen = self.runtime.address(self.env, f"{PROXY_SERVICE}-{link.name}", service)
            planned.append(PlannedLink(link, listen, self.resolver.internal[link.to]))
            self.resolver.links[(link.from_, link.to)] = listen
            if link.from_ == "suite":  # replaced by the host's view once the proxy runs
                self.resolver.suite_links[link.to] = listen
        self.resolver.proxy_api = self.resolver.proxy_api_internal = api
        seed = self.loaded.model.proxy.seed
        self.proxy_seed = seed if seed is not None else random_source.randbelow(2**31)
        config = proxy_config(
            planned, api, self.proxy_seed, self.env.run_dir / "proxy-events.jsonl"
        )
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        assert service.local is not None and service.local.command is not None
        return ServiceSpec(PROXY_SERVICE, service, {}, service.local.command, self.env.work_dir)

    def _meter_service(self, spec: ServiceSpec, handle: ServiceHandle) -> None:
        if self.meter is None:
            return
        sampler = self.runtime.sampler(self.env, handle)
        resources = spec.service.resources
        self.meter.track(spec.name, sampler, resources.cpu, resources.memory, resources.storage)

    def _bring_up(self, spec: ServiceSpec) -> None:
        try:
            self._start_and_wait(spec)
        except BaseException as exc:
            reason = exc.render() if isinstance(exc, EnvctlError) else str(exc)
            self._event("service", spec.name, "failed", error=self.redactor(reason))
            raise

    def _start_and_wait(self, spec: ServiceSpec) -> None:
        if spec.name in self.loaded.model.services and self.loaded.model.data:
            from orchestrator.seed.cache import data_key

            spec = dataclasses.replace(spec, data_key=data_key(self.loaded, spec.name))
        svc = spec.service
        offset = time.monotonic() - self._t0
        log_file = self.runtime.log_path(self.env, spec.name) if self.progress.follow_logs else None
        self._event(
            "service",
            spec.name,
            START,
            f"starting {spec.name}",
            **({"log": str(log_file)} if log_file is not None else {}),
        )
        handle = self.runtime.start(self.env, spec)
        self._follow(spec.name, handle)
        self._meter_service(spec, handle)
        with self._lock:
            self.handles[spec.name] = handle
            if spec.name != PROXY_SERVICE:
                self.resolver.external[spec.name] = handle.endpoint
        self.state.set_service(
            self.env_id,
            spec.name,
            {"host": handle.endpoint.host, "port": handle.endpoint.port, **handle.details},
        )
        ready_command = None
        if svc.ready and svc.ready.command:
            with self._lock:  # run on the host: the host view of every address
                ready_command = self.resolver.text(
                    svc.ready.command,
                    ("services", spec.name, "ready", "command"),
                    spec.name,
                    self.resolver.external,
                )
        probe = self.runtime.readiness_probe(
            handle,
            readiness.probe_for(
                svc, spec.env, ready_command, {**base_environ(), **spec.env}, str(spec.cwd)
            ),
        )
        ready = readiness.wait_ready(self.runtime, self.env, handle, probe, svc.ready, self.cancel)
        if spec.name == PROXY_SERVICE:
            with self._lock:
                self.resolver.proxy_api = handle.endpoint  # the host's view of its API
                for link in self.loaded.model.links:
                    if link.from_ == "suite":  # the suites run on the host
                        name = f"{PROXY_SERVICE}-{link.name}"
                        host_view = self.runtime.host_endpoint(self.env, name)
                        if host_view is not None:
                            self.resolver.suite_links[link.to] = host_view
            self._event(
                "service",
                spec.name,
                "ready",
                f"ready    fault proxy at {handle.endpoint.address}",
                address=handle.endpoint.address,
            )
            return
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
            image=handle.details.get("image"),
            image_id=handle.details.get("image_id"),
            image_digest=handle.details.get("image_digest"),
        )
        with self._lock:
            self.services[spec.name] = result
        drift = f" (declared {result.declared_version})" if result.version_drift else ""
        version = f" {result.version}" if result.version else ""
        self._event(
            "service",
            spec.name,
            "ready",
            f"ready    {spec.name}{version}{drift} at {handle.endpoint.address} "
            f"in {result.ready_seconds:.2f}s",
            address=handle.endpoint.address,
            version=result.version,
            seconds=round(result.ready_seconds or 0.0, 3),
        )

    def _follow(self, name: str, handle: ServiceHandle) -> None:
        """Stream the service's own output to the renderer (``--verbose``), redacted, from
        a thread of its own until teardown (or ``detach``) stops following."""
        if not self.progress.follow_logs:
            return

        def pump() -> None:
            try:
                for line in self.runtime.follow_output(self.env, handle, self._stop_following):
                    if self._followed.is_set():
                        break  # too late: the result may be out (see _unfollow)
                    self.progress.service_output(name, self.redactor(line))
            except Exception as exc:  # a broken log stream must not break the run
                log.debug("following the output of %s stopped: %s", name, exc)

        follower = threading.Thread(target=pump, name=f"follow-{name}", daemon=True)
        follower.start()
        with self._lock:
            self._followers.append(follower)

    def _unfollow(self) -> None:
        """Let the followers read out the services' last lines, then end them. A runtime's
        follower ends soon after the stop (``Runtime.follow_output``); one that does not
        is left behind, silenced, rather than printing after the result."""
        self._stop_following.set()
        deadline = time.monotonic() + 2.0
        for follower in list(self._followers):
            follower.join(max(0.0, deadline - time.monotonic()))
        self._followed.set()

    @property
    def env_file(self) -> Path:
        return self.env.work_dir / "endpoints.env"

    def _write_env_file(self) -> None:
        write_env_file(self.env_file, self.resolver.endpoint_vars())

    # links + seed ------------------------------------------------------------------------

    def links(self) -> None:
        """Links are live once the proxy is ready (provision); nothing more to do here."""

    def seed(self) -> None:
        if not self.loaded.model.data:
            return
        t = time.monotonic()
        self._meter_phase("seed")
        self._set_status(EnvStatus.seeding)
        self._event("phase", "seed", START)
        for service in dict.fromkeys(entry.service for entry in self.loaded.model.data):
            if self.cancel.is_set():
                break
            self._event("seed", service, START)
            before = len(self.seeding)
            self._seed_service(service)
            entries = self.seeding[before:]
            rows = sum(int(e.get("rows", 0)) for e in entries)
            cache = ",".join(sorted({str(e.get("cache")) for e in entries})) or "off"
            self._event("seed", service, "done", rows=rows, cache=cache)
        self._set_status(EnvStatus.ready)
        self._phase("seed", t)
        self._event("phase", "seed", "done")

    def _seed_service(self, service: str) -> None:
        """Every data entry of one service: from the cache when the runtime kept it."""
        from orchestrator.runtime.base import KEEPS_DATA, SEED_MANIFEST, SEEDED_FROM
        from orchestrator.seed import volumes
        from orchestrator.seed.run import SeedRequest, seed_entry

        def say(message: str) -> None:
            self._event("seed", service, INFO, f"seeding  {service}: {message}", message=message)

        details = self.handles[service].details
        if details.get(SEEDED_FROM):
            kept = details.get(SEED_MANIFEST) or {}
            seconds = float(details.get("cache_restore_seconds") or 0.0)
            for stats in kept.get("entries", []):
                self.seeding.append({**stats, "cache": "hit", "seconds": seconds})
            rows = sum(int(stats.get("rows", 0)) for stats in kept.get("entries", []))
            say(f"{rows:,} rows from the cache in {seconds:.2f}s (data key {details[SEEDED_FROM]})")
            return
        url = self.resolver.url(service, self.resolver.external)
        done = []
        for index, entry in enumerate(self.loaded.model.data):
            if entry.service != service:
                continue
            request = SeedRequest(self.loaded, index, url, volumes.rows(self.loaded, index), say)
            stats = seed_entry(request).to_dict()
            done.append(stats)
            if stats["targets"]:
                unit = "keys" if all(t["kind"] == "keyspace" for t in stats["targets"]) else "rows"
                say(
                    f"{stats['rows']:,} {unit} in {stats['seconds']:.1f}s "
                    f"({stats['rows_per_second']:,.0f} {unit}/s)"
                )
        cache = "off"
        if details.get(KEEPS_DATA):
            started = time.monotonic()
            try:
                kept = self.runtime.keep_seeded(self.env, self.handles[service], {"entries": done})
            except Interrupted:  # Ctrl-C is not a cache failure: the run stops here
                raise
            except Exception as exc:  # the cache is an optimisation: never fail a run on it
                log.warning("%s: seeded data not kept: %s", service, exc)
                kept = False
            if kept:
                cache = "miss"
                say(f"kept for the next environments in {time.monotonic() - started:.2f}s")
        self.seeding.extend({**stats, "cache": cache} for stats in done)

    # audit ---------------------------------------------------------------------------------

    def audit(self, profile_path: Path) -> None:
        """Score the live environment against production (before the suites run)."""
        from orchestrator import profile
        from orchestrator.audit import live, score

        production, _ = profile.load(profile_path)
        self._event("phase", "audit", START)
        engines = [n for n, s in self.loaded.model.services.items() if s.engine is not None]
        with self._lock:
            urls = {name: self.resolver.url(name, self.resolver.external) for name in engines}
        versions = {name: result.version for name, result in self.services.items()}
        observed = live.observe_services(self.loaded, urls, versions)
        result = score.audit(
            production,
            observed,
            subject=self.env_id,
            kind="live",
            profile_name=str(profile_path),
            intentional=self.loaded.model.intentional,
        )
        self.fidelity = result.to_dict()
        self._event("phase", "audit", "done", overall=result.overall)
        worst = sorted(
            (d for d in result.dimensions if d.score is not None), key=lambda d: d.score or 0
        )
        parts = " · ".join(f"{d.dimension.value} {d.score:.0f}" for d in worst)
        self._event(
            "note",
            "fidelity",
            INFO,
            f"fidelity {result.overall:.0f}/100 against {profile_path.name}: {parts}",
            overall=result.overall,
        )

    # suites --------------------------------------------------------------------------------

    def run_suites(self, selection: Selection, echo: bool) -> list[suites.SuiteResult]:
        chosen = select_suites(self.loaded, selection)
        if not chosen:
            self.warnings.append("no suites selected: nothing was tested")
            return []
        self._set_status(EnvStatus.testing)
        self._meter_phase("suites")
        if any(link.schedule for link in self.loaded.model.links):
            self._proxy_call("POST", "/envctl/schedules/start")  # drills count from here
        results = []
        t = time.monotonic()
        self._event("phase", "suites", START, suites=[s.name for _, s in chosen])
        self._schedule_spans()
        for index, suite in chosen:
            self._event(
                "suite",
                suite.name,
                START,
                f"suite    {suite.name}: {self.redactor(suite.run)}",
                tier=suite.tier.value,
            )
            junit = self.resolver.suite_junit(index, suite)
            if suite.image:
                result = self._run_suite_in_image(index, suite, junit, echo)
                results.append(result)
                self._suite_done(result)
                continue
            env = {
                **base_environ(),
                **self.resolver.endpoint_vars(),
                "ENVCTL_ENV_ID": self.env_id,
                "ENVCTL_RUN_DIR": str(self.env.run_dir),
                "ENVCTL_ENV_FILE": str(self.env_file),
                "ENVCTL_JUNIT_XML": str(junit),
                **self.resolver.suite_env(index, suite),
            }
            cwd = self.loaded.directory / suite.cwd if suite.cwd else self.loaded.directory
            before = _children_cpu()
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
                on_start=self._meter_suite,
            )
            if self.meter is not None:  # the suite was waited for: its exact CPU time
                self.meter.finish(SUITE_METER, _children_cpu() - before)
            if result.junit is not None:
                redact_file(result.junit, self.redactor)  # reports quote env vars and URLs
            results.append(result)
            self._suite_done(result)
        self._phase("suites", t)
        failed = any(r.status is not suites.SuiteStatus.passed for r in results)
        self._event("phase", "suites", "failed" if failed else "done")
        return results

    def _suite_done(self, result: suites.SuiteResult) -> None:
        tests = result.tests.__dict__ if result.tests else None
        self._event(
            "suite",
            result.name,
            result.status.value,
            f"suite    {result.name}: {result.status.value} in {result.seconds:.1f}s",
            seconds=round(result.seconds, 3),
            tests=tests,
        )

    def _schedule_spans(self) -> None:
        """Scheduled faults (outage drills) count from the suites' start: they go on the
        timeline as planned, since the proxy switches them on by itself."""
        now = time.monotonic() - self._t0
        for link in self.loaded.model.links:
            for drill in link.schedule:
                kind = next(iter(drill.fault.model_dump(exclude_none=True)), "fault")
                self.timeline.append(
                    {
                        "kind": "fault",
                        "name": link.name,
                        "status": kind,
                        "start": round(now + drill.at, 3),
                        "end": round(now + drill.at + drill.for_, 3),
                        "scheduled": True,
                    }
                )

    def _run_suite_in_image(
        self, index: int, suite: Suite, junit: Path, echo: bool
    ) -> suites.SuiteResult:
        """On the environment's network: the in-environment view of every address, and
        only envctl's variables (the host's PATH and HOME mean nothing in the image)."""
        assert suite.image is not None
        env = {
            **self.resolver.endpoint_vars(inside=True),
            "ENVCTL_ENV_ID": self.env_id,
            "ENVCTL_RUN_DIR": str(self.env.run_dir),
            "ENVCTL_JUNIT_XML": str(junit),
            **self.resolver.suite_env(index, suite, inside=True),
        }
        cwd = self.loaded.directory / suite.cwd if suite.cwd else self.loaded.directory
        result = self.runtime.run_suite_in_image(
            self.env,
            suites.ContainerSuite(
                name=suite.name,
                tier=suite.tier.value,
                image=suite.image,
                command=self.resolver.suite_command(index, suite, inside=True),
                cwd=cwd.resolve(),
                env=env,
                timeout=suite.timeout,
                log_path=self.env.run_dir / "logs" / f"suite-{suite.name}.log",
                junit_path=junit,
                redactor=self.redactor,
                echo=self.progress.suite_output if echo else None,
            ),
        )
        if result.junit is not None:
            redact_file(result.junit, self.redactor)
        return result

    # teardown ----------------------------------------------------------------------------

    def teardown(self) -> list[str]:
        """Stop everything, keep the logs, remove the rest. Runs once; safe to call again.

        Every step is attempted even when an earlier one failed: an unreadable state
        database must not leave services running.
        """
        if self._torn_down is not None:
            return self._torn_down
        t = time.monotonic()
        self._close_open_spans("interrupted" if self.cancel.is_set() else "failed")
        self._event("phase", "teardown", START, f"teardown {self.env_id}")
        self._meter_phase("teardown")
        self.cancel.set()
        leftovers: list[str] = []
        with signals.shielded():
            try:
                self._set_status(EnvStatus.tearing_down)
            except StateError as exc:
                log.warning("could not mark %s as tearing down: %s", self.env_id, exc.message)
            self._stop_services()
            self._unfollow()  # after the stop: a service's last words are worth seeing
            services = {n: dict(h.details) for n, h in self.handles.items()}
            record = dataclasses.replace(self.record, services=services)
            leftovers = dismantle(self.runtime, record, self.redactor)
            try:
                if leftovers:
                    self._set_status(EnvStatus.teardown_failed)
                else:
                    self.state.remove(self.env_id)
            except StateError as exc:
                leftovers.append(f"state not updated: {exc.message}")
            if leftovers:
                log.error("teardown left: %s (envctl gc retries)", ", ".join(leftovers))
        self._phase("teardown", t)
        self._event(
            "phase",
            "teardown",
            "failed" if leftovers else "done",
            f"torn down in {time.monotonic() - t:.1f}s"
            + (f"; left: {', '.join(leftovers)}" if leftovers else ""),
            leftovers=list(leftovers),
        )
        if self.meter is not None:
            self.usage = self.meter.stop()
        self._torn_down = leftovers
        return leftovers

    def _cost(self) -> dict[str, Any] | None:
        """What the run cost, and its budget check; None when nothing was metered."""
        if not self.usage:
            return None
        from orchestrator.cost import accounting

        usage = accounting.with_network(self.usage, self.link_results)
        try:
            priced = accounting.run_cost(self.settings, self.loaded, usage, self.phases)
        except EnvctlError as exc:  # a bad price file: reported; the run's result stands
            self.warnings.append(f"cost not computed: {exc.render()}")
            return None
        out = priced.to_dict()
        try:
            checked = accounting.check_budget(self.settings, self.loaded, priced.total.total_usd)
        except (EnvctlError, OSError, ValueError) as exc:  # the ledger unreadable: no check
            self.warnings.append(f"budget not checked: {exc}")
            checked = None
        if checked is not None:
            out["budget"] = checked
            if checked["status"] != "ok":
                self.warnings.append(checked["message"])
        return out

    def _meter_phase(self, phase: str) -> None:
        if self.meter is not None:
            self.meter.phase(phase)

    def _meter_suite(self, pid: int) -> None:
        if self.meter is not None:
            from orchestrator.cost import readings

            self.meter.track(SUITE_METER, readings.process_tree(pid, None))

    def _proxy_call(self, method: str, path: str) -> Any:
        """One request to the fault proxy's control API; None when it cannot answer."""
        api = self.resolver.proxy_api
        if api is None or api.port is None or PROXY_SERVICE not in self.handles:
            return None
        try:
            status, data = proxy_client.call(api.host, api.port, method, path, timeout=5)
        except proxy_client.ProxyUnreachable as exc:
            log.warning("fault proxy: %s", exc)
            return None
        return data if status < 300 else None

    def _collect_link_metrics(self) -> None:
        metrics = self._proxy_call("GET", "/envctl/metrics")
        if not isinstance(metrics, dict):
            return
        for link in self.loaded.model.links:
            listen = self.resolver.links.get((link.from_, link.to))
            entry: dict[str, Any] = {
                "name": link.name,
                "from": link.from_,
                "to": link.to,
                "listen": listen.address if listen else None,
            }
            entry.update(metrics.get(link.name) or {})
            self.link_results.append(entry)

    def _stop_services(self) -> None:
        """Dependants first; the services of one level stop side by side; the proxy last."""
        if PROXY_SERVICE in self.handles:
            self._collect_link_metrics()
        for level in [*plan.stop_levels(self.loaded), [PROXY_SERVICE]]:
            handles = [self.handles[n] for n in level if n in self.handles]
            if not handles:
                continue
            with futures.ThreadPoolExecutor(max_workers=len(handles)) as pool:
                for handle, fut in [(h, pool.submit(self.runtime.stop, h)) for h in handles]:
                    try:
                        fut.result()
                    except Exception as exc:  # keep going: the rest must still stop
                        log.warning("stopping %s failed: %s", handle.name, exc)

    def detach(self) -> None:
        """Leave the environment running after this process exits (``envctl up``)."""
        until = time.time() + self.loaded.model.ttl
        # The services live on and their endpoints are printed: their output is no longer
        # ours to show, so silence the followers now rather than read out last words.
        self._followed.set()
        self._stop_following.set()
        self.state.detach(self.env_id, until)
        self.runtime.detach(self.env, until)

    # result --------------------------------------------------------------------------------

    def result(
        self,
        status: RunStatus,
        suite_results: list[suites.SuiteResult],
        error: BaseException | None,
    ) -> RunResult:
        meta = self.loaded.model.metadata
        cost = self._cost()
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
            error=error_dict(error),
            leftovers=list(self._torn_down or []),
            links=list(self.link_results),
            proxy_seed=self.proxy_seed,
            seeding=list(self.seeding),
            cost=cost,
            fidelity=self.fidelity,
            timeline=sorted(self.timeline, key=lambda span: (span["start"], span["end"])),
            exception=error,
        )


def _plain(detail: dict[str, Any]) -> dict[str, Any]:
    """What of an event's detail belongs on the recorded timeline (not log paths)."""
    return {k: v for k, v in detail.items() if k not in {"log", "message", "suites"}}


def error_dict(error: BaseException | None) -> dict[str, Any] | None:
    if error is None:
        return None
    if isinstance(error, EnvctlError):
        return error.as_dict()
    return {"type": type(error).__name__, "message": str(error), "hint": "this is a bug in envctl"}
