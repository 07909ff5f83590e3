"""Run one test suite against a live environment.

The suite is a shell command in its own process group, so a timeout or Ctrl-C stops it
and everything it spawned (pytest-xdist workers, browsers). Its output is streamed through
the redactor into a log file in the run dir and, when asked, to the terminal.
"""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from orchestrator.secrets import Redactor

COMMAND_NOT_FOUND = 127  # what the shell returns for an unknown command


class SuiteStatus(enum.StrEnum):
    passed = "passed"
    failed = "failed"
    timeout = "timeout"
    error = "error"  # could not be started, or its command does not exist


@dataclass(frozen=True)
class TestCounts:
    total: int
    failures: int
    errors: int
    skipped: int


@dataclass(frozen=True)
class SuiteResult:
    name: str
    tier: str
    status: SuiteStatus
    exit_code: int | None
    seconds: float
    junit: Path | None
    tests: TestCounts | None
    log: Path


def run_suite(
    *,
    name: str,
    tier: str,
    command: str,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    log_path: Path,
    junit_path: Path,
    redactor: Redactor,
    echo: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> SuiteResult:
    started = time.monotonic()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    junit_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            log.write(redactor(f"cannot start suite: {exc}\n"))
            return SuiteResult(
                name,
                tier,
                SuiteStatus.error,
                None,
                time.monotonic() - started,
                None,
                None,
                log_path,
            )
        pump = threading.Thread(target=_pump, args=(proc, log, redactor, echo), daemon=True)
        pump.start()
        timed_out = False
        try:
            if on_start is not None:
                on_start(proc.pid)  # metering; inside the try, so Ctrl-C still kills it
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # Whatever the suite left running (a background server holding its output
            # open) ends with it: on success, timeout, Ctrl-C or SIGTERM alike.
            _kill_group(proc)
            pump.join(timeout=5)
            if pump.is_alive() and proc.stdout is not None:
                proc.stdout.close()  # something escaped the group; stop reading it
                pump.join(timeout=1)
        if timed_out:
            log.write(f"\nenvctl: suite {name!r} timed out after {timeout:g}s and was stopped\n")
    return outcome(name, tier, proc.returncode, timed_out, started, junit_path, log_path)


def outcome(
    name: str,
    tier: str,
    exit_code: int | None,
    timed_out: bool,
    started: float,
    junit_path: Path,
    log_path: Path,
) -> SuiteResult:
    """The result of a finished suite, however it ran (a process here, a container)."""
    seconds = time.monotonic() - started
    junit = junit_path if junit_path.is_file() else None
    if timed_out:
        status = SuiteStatus.timeout
    elif exit_code == COMMAND_NOT_FOUND:
        status = SuiteStatus.error  # a typo in `run`, not a failing test
    else:
        status = SuiteStatus.passed if exit_code == 0 else SuiteStatus.failed
    return SuiteResult(name, tier, status, exit_code, seconds, junit, _counts(junit), log_path)


def could_not_start(suite: ContainerSuite, started: float) -> SuiteResult:
    """A container suite whose container (or Job) could not be made: an error, no code."""
    return SuiteResult(
        suite.name,
        suite.tier,
        SuiteStatus.error,
        None,
        time.monotonic() - started,
        None,
        None,
        suite.log_path,
    )


@dataclass(frozen=True)
class ContainerSuite:
    """A suite to run in a container on the environment's network (``suite.image``)."""

    name: str
    tier: str
    image: str
    command: str
    cwd: Path  # mounted at the same path, as is the run dir
    env: Mapping[str, str]
    timeout: float
    log_path: Path
    junit_path: Path
    redactor: Redactor
    echo: Callable[[str], None] | None = None


def _pump(
    proc: subprocess.Popen[bytes],
    log: TextIO,
    redactor: Redactor,
    echo: Callable[[str], None] | None,
) -> None:
    assert proc.stdout is not None
    try:
        for raw in proc.stdout:
            line = redactor(raw.decode("utf-8", errors="replace"))
            log.write(line)
            if echo is not None:
                echo(line.rstrip("\n"))
    except (ValueError, OSError):
        pass  # the pipe was closed under us (see run_suite); nothing more to read


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the suite's process group, SIGKILL after 3 s, and reap the leader."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break  # nothing left in the group
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; make sure nothing it spawned lingers.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        break
    proc.poll()


def _counts(junit: Path | None) -> TestCounts | None:
    if junit is None:
        return None
    try:
        root = ET.parse(junit).getroot()
    except (ET.ParseError, OSError):
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")

    def total(attr: str) -> int:
        return sum(int(s.get(attr, 0) or 0) for s in suites)

    return TestCounts(total("tests"), total("failures"), total("errors"), total("skipped"))
