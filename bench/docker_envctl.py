"""envctl on the Docker runtime, run as a user runs it: the venv's ``envctl`` as a
subprocess with ``ENVCTL_STATE_DIR`` set to a temp dir of the benchmark.

``up`` is timed from launch to exit, and every progress line envctl writes to stderr
(``[   1.1s] starting db``) is stamped on our clock as it arrives, which splits the wall
time into CLI start-up, prepare (images, watchdog, networks), the services, and
seed + hand-over + exit. ``sigkill`` times how long the watchdog takes to remove an
environment whose envctl was killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench import BLUEPRINT, REPO, MeasurementError
from bench.docker_engine import ENVCTL_ENV, Selector, found, poll, remove
from bench.envctl_cli import DOWN_TIMEOUT, UP_TIMEOUT, Envctl, tagged, terminate

PAIR_BLUEPRINT = "tests/integration/dockerized/blueprints/pair.yaml"
SUITE_SLEEP = "60"  # the pair blueprint's suite sleeps this long: envctl is `testing`
TESTING_TIMEOUT = 120.0  # launch → `envctl ls` shows the env testing
LS_INTERVAL = 0.5  # each `envctl ls` is a Python start-up; do not flood the CPUs
REAP_TIMEOUT = 60.0  # SIGKILL → nothing labelled left


@dataclass(frozen=True)
class UpResult:
    seconds: float
    env_id: str
    services: dict[str, dict[str, Any]]
    breakdown: dict[str, float]  # see DockerEnvctl.up


@dataclass
class SigkillResult:
    reaped_s: float  # SIGKILL → no container, network or volume labelled with the env
    testing_s: float  # launch → `envctl ls` showed it testing (informational)
    env_id: str
    leftovers: list[str] = field(default_factory=list)


class DockerEnvctl(Envctl):
    """``Envctl`` (bench/envctl_cli.py) with the Docker runtime's commands."""

    def up_docker(self) -> UpResult:
        """``envctl up blueprints/checkout.yaml --runtime docker -o json``, launch → exit.

        The breakdown, from the stamps of envctl's progress lines on our clock:
        ``cli`` launch → "planning" (interpreter, imports, blueprint, state, session);
        ``prepare`` → first "starting" (image IDs, watchdog, networks);
        ``services`` → the last "ready" (containers, the fault proxy, readiness);
        ``seed_exit`` → exit (schema, watchdog hand-over, the JSON, interpreter exit)."""
        done = self.timed(["up", BLUEPRINT, "--runtime", "docker", "-o", "json"], UP_TIMEOUT)
        data = _json_or_none(done.stdout)
        env_id = data.get("env") if isinstance(data, dict) else None
        if isinstance(env_id, str):
            self.env_ids.append(env_id)
        if done.returncode != 0 or not isinstance(data, dict) or data.get("status") != "ready":
            raise MeasurementError(done.tail("envctl up --runtime docker"))
        assert isinstance(env_id, str)
        marks = {
            "planning": done.stamp("planning"),
            "starting": done.stamp("starting"),
            "ready": done.stamp("ready", last=True),
        }
        breakdown: dict[str, float] = {}
        if None not in marks.values():
            plan, start, ready = (float(v or 0.0) for v in marks.values())
            breakdown = {
                "cli": plan,
                "prepare": start - plan,
                "services": ready - start,
                "seed_exit": done.seconds - ready,
            }
        return UpResult(done.seconds, env_id, dict(data.get("services") or {}), breakdown)

    def down_docker(self, client: Any, env_id: str) -> tuple[float, list[str]]:
        """``envctl down ENV`` timed; returns (seconds, anything of the env still there:
        labelled Docker resources, tagged processes, the work dir)."""
        seconds, _ = self.down(env_id)
        return seconds, self._left_of(client, env_id)

    def _left_of(self, client: Any, env_id: str) -> list[str]:
        """What of ``env_id`` is still there after ``envctl down``: tagged processes, its
        work dir, labelled Docker resources. The work dir is removed here (it holds the
        env's secrets), so that each sample reports its own."""
        left = self.leftovers(env_id) + found(client, Selector(label=f"{ENVCTL_ENV}={env_id}"))
        work_dir = self.work_root / f"envctl-{env_id}"
        if work_dir.is_dir():
            shutil.rmtree(work_dir, ignore_errors=True)
        return left

    def sigkill(self, client: Any, poll_interval: float) -> SigkillResult:
        """``envctl run pair.yaml --runtime docker`` with a sleeping suite; once `envctl ls`
        says testing, SIGKILL envctl and time until the watchdog has removed every
        labelled container, network and volume of the env."""
        with tempfile.TemporaryFile("w+", prefix="bench-sigkill-") as log:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [str(self.exe), "run", PAIR_BLUEPRINT, "--runtime", "docker"],
                cwd=REPO,
                env={**self.environ, "SUITE_SLEEP": SUITE_SLEEP},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,  # a Ctrl-C of ours is not envctl's: we stop it
            )
            env_id: str | None = None
            try:
                env_id = poll(
                    lambda: self._testing(proc, log),
                    TESTING_TIMEOUT,
                    LS_INTERVAL,
                    "sigkill: env testing",
                )
                testing_s = time.perf_counter() - t0
                self.env_ids.append(env_id)
                reaped_s = self._kill_and_wait(client, proc, env_id, poll_interval)
            finally:
                terminate(proc)  # unless killed: SIGTERM, so envctl tears down itself
                notes = self._after_kill(client, env_id) if env_id else []
        return SigkillResult(reaped_s, testing_s, env_id, notes)

    def _testing(self, proc: subprocess.Popen[Any], log: IO[str]) -> str | None:
        """The env id once `envctl ls` shows a new env testing; fails if envctl exited."""
        if proc.poll() is not None:
            log.seek(0)
            tail = " | ".join(log.read().strip().splitlines()[-5:])
            raise MeasurementError(f"envctl run exited with {proc.returncode}: {tail}")
        _, ls = self._run(["ls", "-o", "json"], DOWN_TIMEOUT)
        rows = _json_or_none(ls.stdout)
        for row in rows if isinstance(rows, list) else []:
            if (
                isinstance(row, dict)
                and row.get("status") == "testing"
                and row.get("env") not in self.env_ids  # one killed before (state kept)
            ):
                return str(row["env"])
        return None

    def _kill_and_wait(
        self, client: Any, proc: subprocess.Popen[Any], env_id: str, poll_interval: float
    ) -> float:
        selector = Selector(label=f"{ENVCTL_ENV}={env_id}")
        if not found(client, selector):
            raise MeasurementError(f"sigkill: {env_id} is testing but has no Docker resources")
        proc.send_signal(signal.SIGKILL)
        killed_at = time.perf_counter()
        proc.wait(10)
        try:
            poll(lambda: not found(client, selector), REAP_TIMEOUT, poll_interval, "sigkill")
        except MeasurementError:
            left = ", ".join(found(client, selector))
            raise MeasurementError(
                f"sigkill: {env_id} not reaped {REAP_TIMEOUT:g}s after SIGKILL: {left}"
            ) from None
        return time.perf_counter() - killed_at

    def _after_kill(self, client: Any, env_id: str) -> list[str]:
        """What a user does after a crash: the killed envctl's suite still sleeps (in
        its own session), and the env's record and work dir are still there: kill it,
        ``envctl down`` the env. Returns what is left of it after that."""
        for proc in tagged(env_id):
            with contextlib.suppress(Exception):
                proc.kill()
        notes = []
        try:
            _, done = self._run(["down", env_id, "-o", "json"], DOWN_TIMEOUT)
            if done.returncode != 0:
                notes.append(f"`envctl down {env_id}` after SIGKILL exited {done.returncode}")
        except MeasurementError as exc:
            notes.append(str(exc))
        return notes + self._left_of(client, env_id)

    def sweep(self, client: Any) -> list[str]:
        """After all: ``envctl down --all`` and process/work-dir clean-up (``cleanup``),
        then remove whatever of our environments Docker still holds."""
        notes = self.cleanup()
        for env_id in self.env_ids:
            selector = Selector(label=f"{ENVCTL_ENV}={env_id}")
            left = found(client, selector)
            if left:
                notes.append(f"{env_id} left {', '.join(left)}; removed")
                notes += remove(client, selector)
        return notes


def new_state_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="bench-envctl-docker-state-"))


def remove_state_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
