"""The local runtime: every service a real process on 127.0.0.1, no daemon needed.

Per environment: a private directory (services' data, logs), ports reserved in the state
store so parallel environments never collide, one process group per service, and the
environment id in every process's environment so orphans can be found after a crash.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import random
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.blueprint.loader import LoadedBlueprint
from orchestrator.blueprint.model import Engine, Service
from orchestrator.childenv import base_environ
from orchestrator.exceptions import BlueprintError, ServiceError
from orchestrator.ownership import is_same_process, started_at
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
from orchestrator.runtime.local import binaries, postgres, processes, redis
from orchestrator.runtime.local.processes import RunAs
from orchestrator.settings import Settings
from orchestrator.state import EnvRecord, StateStore

if TYPE_CHECKING:
    from orchestrator.cost.meter import Sampler

log = logging.getLogger(__name__)

PORT_RANGE = (20000, 32000)  # below Linux's ephemeral range, so outgoing sockets never sit there
MARKER = ".envctl-env"
STOP_TIMEOUT = 10.0


class LocalRuntime(Runtime):
    name = "local"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._state: StateStore | None = None
        self._ports: dict[tuple[str, str], int] = {}
        self._procs: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
        self._envs: dict[tuple[str, str], dict[str, str]] = {}
        self._lock = threading.Lock()

    @property
    def state(self) -> StateStore:
        if self._state is None:
            self._state = StateStore(self.settings.state_db)
        return self._state

    # lifecycle ---------------------------------------------------------------------

    def prepare(self, env: EnvironmentContext, blueprint: LoadedBlueprint) -> None:
        for name, svc in blueprint.model.services.items():
            if svc.engine is None and not (svc.local and svc.local.command):
                raise BlueprintError(
                    f"service {name!r} has no local.command, and no engine envctl can start",
                    blueprint.service_location(name),
                    hint="add `local: {command: ...}`, set `engine: postgres|redis`, "
                    "or use --runtime docker",
                )
        needed = {svc.engine for svc in blueprint.model.services.values() if svc.engine}
        # Fail before anything starts when a server binary is missing.
        if Engine.postgres in needed:
            binaries.postgres(self.settings.binary_source)
        if Engine.redis in needed:
            binaries.redis(self.settings.binary_source)
        # Private: logs, configs and the endpoints file can hold secrets.
        env.work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        marker = {"env": env.env_id, "store": self.store_id}
        (env.work_dir / MARKER).write_text(json.dumps(marker), encoding="utf-8")
        (env.work_dir / "logs").mkdir(mode=0o700, exist_ok=True)
        (env.work_dir / "services").mkdir(mode=0o700, exist_ok=True)
        if _run_as() is not None:
            # The unprivileged server user must reach its own service dir: traverse only.
            env.work_dir.chmod(0o711)
            (env.work_dir / "services").chmod(0o711)

    def address(self, env: EnvironmentContext, name: str, service: Service) -> Endpoint:
        port = self.state.reserve_port(env.env_id, _candidates())
        with self._lock:
            self._ports[(env.env_id, name)] = port
        return Endpoint("127.0.0.1", port)

    def start(self, env: EnvironmentContext, spec: ServiceSpec) -> ServiceHandle:
        port = self._ports[(env.env_id, spec.name)]
        service_dir = env.work_dir / "services" / spec.name
        service_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        log_path = self.log_path(env, spec.name)
        assert log_path is not None
        process_env = {
            **base_environ(),
            **spec.env,
            processes.TAG: env.env_id,
            processes.STORE_TAG: self.store_id,
        }
        run_as: RunAs | None = None
        engine = spec.service.engine
        stop_signal = signal.SIGTERM
        seeding: dict[str, Any] = {}
        if engine is Engine.postgres:
            run_as = _run_as()
            bins = binaries.postgres(self.settings.binary_source)
            seeded = None
            if spec.data_key:
                kept = postgres.seeded_path(
                    self.settings.cache_dir, bins, spec.env, run_as, spec.data_key
                )
                seeding = self._seeded(kept, spec.data_key)
                seeded = kept if SEEDED_FROM in seeding else None
            began = time.monotonic()
            argv = postgres.prepare(
                spec.name,
                bins,
                service_dir,
                port,
                spec.env,
                process_env,
                run_as,
                cache_dir=self.settings.cache_dir,
                seeded=seeded,
            )
            if seeded is not None:
                seeding["cache_restore_seconds"] = round(time.monotonic() - began, 3)
            stop_signal = signal.SIGINT  # "fast" shutdown: no waiting for clients
        elif engine is Engine.redis:
            argv = redis.prepare(
                binaries.redis(self.settings.binary_source), service_dir, port, spec.env
            )
        else:
            assert spec.command is not None, "prepare() checked every service has a command"
            argv = ["/bin/sh", "-c", f"exec {spec.command}"]
            if spec.service.local:
                stop_signal = signal.Signals[spec.service.local.stop_signal]
        cwd = service_dir if engine is not None else spec.cwd
        try:
            proc = processes.spawn(argv, env=process_env, cwd=cwd, log_path=log_path, run_as=run_as)
        except OSError as exc:
            what = exc.filename or argv[0]
            raise ServiceError(
                spec.name,
                f"cannot start it: {exc.strerror or exc}: {str(what)!r}",
                hint="check local.command and local.cwd in the blueprint",
            ) from exc
        with self._lock:
            self._procs[(env.env_id, spec.name)] = proc
            self._envs[(env.env_id, spec.name)] = dict(spec.env)  # in memory only: secrets
        details = {
            "pid": proc.pid,
            "started": started_at(proc.pid),
            "port": port,
            "stop_signal": stop_signal.name,
            "log": str(log_path),
            "engine": engine.value if engine else None,
            **seeding,
        }
        return ServiceHandle(spec.name, Endpoint("127.0.0.1", port), details)

    def _seeded(self, kept: Path, key: str) -> dict[str, Any]:
        """Handle details for a data key: kept data to start from, or where to keep it."""
        try:
            manifest = json.loads((kept.parent / f"{kept.name}.json").read_text("utf-8"))
            if (kept / "PG_VERSION").is_file():
                os.utime(kept)  # most recently used: pruned last
                return {SEEDED_FROM: key, SEED_MANIFEST: manifest, "data_dir": str(kept)}
        except (OSError, ValueError):
            pass
        return {KEEPS_DATA: key, "data_dir": str(kept)}

    def keep_seeded(
        self, env: EnvironmentContext, handle: ServiceHandle, manifest: Mapping[str, Any]
    ) -> bool:
        if not handle.details.get(KEEPS_DATA) or handle.details.get("engine") != "postgres":
            return False
        spec_env = self._envs.get((env.env_id, handle.name), {})
        kept = postgres.snapshot(
            handle.name,
            binaries.postgres(self.settings.binary_source),
            int(handle.details["port"]),
            spec_env,
            base_environ(),
            _run_as(),
            Path(handle.details["data_dir"]),
            json.dumps(manifest),
        )
        if kept:  # the next environment's copy, made while this one runs its suites
            postgres.replenish(Path(handle.details["data_dir"]), base_environ())
        return kept

    def sampler(self, env: EnvironmentContext, handle: ServiceHandle) -> Sampler:
        from orchestrator.cost import readings

        pid = handle.details.get("pid")
        if not pid:
            return super().sampler(env, handle)
        disk = env.work_dir / "services" / handle.name if handle.details.get("engine") else None
        return readings.process_tree(int(pid), handle.details.get("started"), disk)

    def exit_reason(self, handle: ServiceHandle) -> str | None:
        proc = self._popen(handle)
        if proc is not None:
            code = proc.poll()
            return None if code is None else processes.describe_exit(code)
        pid, started = handle.details.get("pid"), handle.details.get("started")
        return None if is_same_process(pid, started) else "is not running"

    def log_path(self, env: EnvRecord | EnvironmentContext, service: str) -> Path | None:
        return env.work_dir / "logs" / f"{service}.log"

    def stop(self, handle: ServiceHandle) -> None:
        pid = handle.details.get("pid")
        if not pid:
            return
        processes.stop_group(
            pid,
            handle.details.get("started"),
            signal.Signals[handle.details.get("stop_signal", "SIGTERM")],
            STOP_TIMEOUT,
            popen=self._popen(handle),
        )

    def destroy(self, record: EnvRecord) -> Sequence[str]:
        handles = [
            ServiceHandle(n, Endpoint("127.0.0.1", None), d) for n, d in record.services.items()
        ]
        if handles:  # whatever is still running goes together: the environment is going away
            with ThreadPoolExecutor(max_workers=len(handles)) as pool:
                list(pool.map(self.stop, handles))
        leftovers = processes.kill_tagged(record.id, record.work_dir)
        shutil.rmtree(record.work_dir, ignore_errors=True)
        for details in record.services.values():
            if details.get("data_dir") and (details.get(SEEDED_FROM) or details.get(KEEPS_DATA)):
                postgres.replenish(Path(details["data_dir"]), base_environ())
        if record.work_dir.exists():
            leftovers.append(f"directory {record.work_dir}")
        with self._lock:
            for key in [k for k in self._procs if k[0] == record.id]:
                self._procs.pop(key)
                self._envs.pop(key, None)
        return leftovers

    @property
    def store_id(self) -> str:
        return str(self.settings.state_dir.resolve())

    def orphans(self) -> set[str]:
        found = set(processes.tagged(store=self.store_id))
        for marker in self.settings.work_root.glob(f"envctl-*/{MARKER}"):
            try:
                data = json.loads(marker.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("store") == self.store_id and data.get("env"):
                found.add(str(data["env"]))
        return found

    def reap_orphan(self, env_id: str) -> Sequence[str]:
        leftovers = processes.kill_tagged(env_id, self.settings.work_root / f"envctl-{env_id}")
        for marker in self.settings.work_root.glob(f"envctl-{env_id}/{MARKER}"):
            shutil.rmtree(marker.parent, ignore_errors=True)
            if marker.parent.exists():
                leftovers.append(f"directory {marker.parent}")
        return leftovers

    def _popen(self, handle: ServiceHandle) -> subprocess.Popen[bytes] | None:
        with self._lock:
            for (_, name), proc in self._procs.items():
                if name == handle.name and proc.pid == handle.details.get("pid"):
                    return proc
        return None


def _candidates() -> Iterator[int]:
    low, high = PORT_RANGE
    start = random.randrange(low, high)
    for offset in range(high - low):
        yield low + (start - low + offset) % (high - low)


def _run_as() -> RunAs | None:
    """``nobody`` when we are root (PostgreSQL refuses root); ourselves otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return RunAs(entry.pw_uid, entry.pw_gid)
