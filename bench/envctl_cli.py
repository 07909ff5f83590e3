"""envctl measured as a user runs it: the venv's ``envctl`` as a subprocess.

Every call gets ``ENVCTL_STATE_DIR`` pointing at the benchmark's own temp dir, so the
user's state is never touched. After each environment is gone the harness checks that
envctl really left nothing behind (processes tagged with the env id, the work dir).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil

from bench import BLUEPRINT, REPO, MeasurementError
from orchestrator.runtime.local.processes import TAG
from orchestrator.settings import Settings

UP_TIMEOUT = 180.0
RUN_TIMEOUT = 400.0
DOWN_TIMEOUT = 120.0
HELP_TIMEOUT = 30.0
TERM_GRACE = 30.0


def envctl_path() -> Path:
    """The venv's envctl: next to the interpreter running the benchmark."""
    for candidate in (Path(sys.executable).parent / "envctl", REPO / ".venv" / "bin" / "envctl"):
        if candidate.exists():
            return candidate
    raise MeasurementError("no envctl next to this Python; run `make install-dev` first")


PROGRESS = re.compile(r"^\[\s*[\d.]+s\]\s+(\w+)\s+(.*)$")


@dataclass(frozen=True)
class Timed:
    seconds: float
    returncode: int
    stdout: str
    lines: list[tuple[float, str]]  # (seconds since launch on our clock, stderr line)

    def stamp(self, verb: str, last: bool = False) -> float | None:
        """When the first (or last) progress line with this verb arrived."""
        hits = [t for t, line in self.lines if (m := PROGRESS.match(line)) and m[1] == verb]
        if not hits:
            return None
        return hits[-1] if last else hits[0]

    def tail(self, what: str) -> str:
        text = " | ".join(line for _, line in self.lines[-6:])
        return f"{what} exited with {self.returncode}: {text or '(no stderr)'}"


def _pump(stream: IO[str], sink: list[tuple[float, str]], t0: float) -> None:
    for line in stream:
        sink.append((time.perf_counter() - t0, line.rstrip("\n")))


@dataclass(frozen=True)
class UpResult:
    seconds: float
    env_id: str
    services: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class RunResult:
    seconds: float
    env_id: str
    phases: dict[str, float]
    services: dict[str, dict[str, Any]]


class Envctl:
    """Runs envctl with a private state dir; remembers every env it created."""

    def __init__(self, state_dir: Path) -> None:
        self.exe = envctl_path()
        self.state_dir = state_dir
        self.environ = {**os.environ, "ENVCTL_STATE_DIR": str(state_dir)}
        self.work_root = Settings.from_environ(self.environ).work_root
        self.env_ids: list[str] = []

    def _run(
        self, args: list[str], timeout: float
    ) -> tuple[float, subprocess.CompletedProcess[str]]:
        """Run ``envctl ARGS``; return (wall seconds from launch to exit, its output).

        If we time out or are interrupted, envctl gets SIGTERM (it then tears down what
        it started) and SIGKILL only if it is still there after TERM_GRACE seconds."""
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(self.exe), *args],
            cwd=REPO,
            env=self.environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException as exc:
            proc.terminate()
            try:
                proc.communicate(timeout=TERM_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise MeasurementError(
                    f"`envctl {' '.join(args)}` timed out after {timeout:g}s"
                ) from exc
            raise
        seconds = time.perf_counter() - started
        return seconds, subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def up(self) -> UpResult:
        """Time ``envctl up`` to its exit (all ready); then ``envctl down``, untimed."""
        seconds, done = self._run(["up", BLUEPRINT, "-o", "json"], UP_TIMEOUT)
        data = _json_or_none(done.stdout)
        env_id = data.get("env") if isinstance(data, dict) else None
        if isinstance(env_id, str):
            self.env_ids.append(env_id)
        if done.returncode != 0 or not isinstance(data, dict) or data.get("status") != "ready":
            raise MeasurementError(_failure("envctl up", done))
        assert isinstance(env_id, str)
        return UpResult(seconds, env_id, dict(data.get("services") or {}))

    def down(self, env_id: str) -> tuple[float, list[str]]:
        """Tear an env down; returns (seconds, what envctl or our check found left)."""
        seconds, done = self._run(["down", env_id, "-o", "json"], DOWN_TIMEOUT)
        if done.returncode != 0:
            raise MeasurementError(_failure(f"envctl down {env_id}", done))
        return seconds, self.leftovers(env_id)

    def run(self) -> tuple[RunResult, list[str]]:
        """Time ``envctl run`` (up + suites + teardown) to its exit."""
        seconds, done = self._run(["run", BLUEPRINT, "-o", "json"], RUN_TIMEOUT)
        data = _json_or_none(done.stdout)
        env_id = data.get("env") if isinstance(data, dict) else None
        if isinstance(env_id, str):
            self.env_ids.append(env_id)
        if done.returncode != 0 or not isinstance(data, dict) or data.get("status") != "passed":
            raise MeasurementError(_failure("envctl run", done))
        assert isinstance(env_id, str)
        leftovers = [str(x) for x in (data.get("teardown") or {}).get("leftovers") or []]
        leftovers += self.leftovers(env_id)
        phases = {str(k): float(v) for k, v in (data.get("phases") or {}).items()}
        return RunResult(seconds, env_id, phases, dict(data.get("services") or {})), leftovers

    def timed(
        self, args: list[str], timeout: float, extra_env: dict[str, str] | None = None
    ) -> Timed:
        """Run ``envctl ARGS`` to its exit, stamping each stderr line as it arrives. On
        timeout or interrupt envctl gets SIGTERM (it tears down what it started), then
        SIGKILL after TERM_GRACE."""
        lines: list[tuple[float, str]] = []
        out: list[str] = []
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(self.exe), *args],
            cwd=REPO,
            env={**self.environ, **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        stdout, stderr = proc.stdout, proc.stderr
        readers = [
            threading.Thread(target=_pump, args=(stderr, lines, t0), daemon=True),
            threading.Thread(target=lambda: out.append(stdout.read()), daemon=True),
        ]
        for reader in readers:
            reader.start()
        try:
            proc.wait(timeout)
            seconds = time.perf_counter() - t0
        except BaseException as exc:
            terminate(proc)
            if isinstance(exc, subprocess.TimeoutExpired):
                raise MeasurementError(
                    f"`envctl {' '.join(args)}` timed out after {timeout:g}s"
                ) from None
            raise
        finally:
            for reader in readers:
                reader.join(10)
            stdout.close()
            stderr.close()
        return Timed(seconds, proc.returncode, "".join(out), lines)

    def help(self) -> float:
        seconds, done = self._run(["--help"], HELP_TIMEOUT)
        if done.returncode != 0:
            raise MeasurementError(_failure("envctl --help", done))
        return seconds

    # leftovers ----------------------------------------------------------------------

    def leftovers(self, env_id: str) -> list[str]:
        """What of ``env_id`` still exists although envctl said it was torn down."""
        work_dir = self.work_root / f"envctl-{env_id}"
        found = [f"process {p.pid} ({_name(p)})" for p in tagged(env_id, work_dir)]
        if work_dir.exists():
            found.append(f"directory {work_dir}")
        return found

    def cleanup(self) -> list[str]:
        """Safety net at the end: ``envctl down --all``, then kill/remove what remains."""
        notes = []
        try:
            _, done = self._run(["down", "--all", "-o", "json"], DOWN_TIMEOUT)
            if done.returncode != 0:
                notes.append(_failure("envctl down --all", done))
        except MeasurementError as exc:
            notes.append(str(exc))
        for env_id in self.env_ids:
            work_dir = self.work_root / f"envctl-{env_id}"
            procs = tagged(env_id, work_dir)
            for proc in procs:
                try:
                    proc.kill()
                except psutil.Error:
                    continue
                notes.append(f"killed leftover process {proc.pid} of {env_id}")
            psutil.wait_procs(procs, timeout=5)
            if work_dir.exists():
                shutil.rmtree(work_dir, ignore_errors=True)
                notes.append(f"removed leftover {work_dir}")
        return notes


def python_startup() -> float:
    """``python -c pass`` with the interpreter envctl runs on: the floor for any CLI."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", "pass"], stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise MeasurementError(f"python -c pass exited with {done.returncode}")
    return seconds


def tagged(env_id: str, work_dir: Path | None = None) -> list[psutil.Process]:
    """Processes of ``env_id``: carrying envctl's env-id tag (how envctl finds orphans), or,
    since redis-server overwrites its environment with its process title, running in or
    naming the env's work dir."""
    found = []
    marker = str(work_dir) + os.sep if work_dir is not None else None
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get(TAG) == env_id:
                found.append(proc)
                continue
            if marker and (
                proc.cwd().startswith(marker) or any(marker in arg for arg in proc.cmdline())
            ):
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def _name(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())[:80] or proc.name()
    except psutil.Error:
        return "?"


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _failure(what: str, done: subprocess.CompletedProcess[str]) -> str:
    tail = " | ".join((done.stderr or "").strip().splitlines()[-6:])
    return f"{what} exited with {done.returncode}: {tail or '(no stderr)'}"


def terminate(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(TERM_GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
