"""A suite in a container on the environment's network (``suite.image``).

The suite's working directory and the run dir are mounted at the same paths as on the
host, so every path the blueprint interpolates (``${run.dir}/junit.xml``) means the same
inside and out. Its output is redacted line by line into the suite's log, as for suites
on the host; on timeout the container is killed. It carries the environment's labels, so
a killed envctl leaves nothing the watchdog or ``gc`` would not remove.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from orchestrator.runtime.docker import images, labels
from orchestrator.runtime.docker.client import errors
from orchestrator.suites import ContainerSuite, SuiteResult, could_not_start, outcome


def run(
    client: Any, network: str, common_labels: dict[str, str], env_id: str, suite: ContainerSuite
) -> SuiteResult:
    started = time.monotonic()
    suite.log_path.parent.mkdir(parents=True, exist_ok=True)
    suite.junit_path.parent.mkdir(parents=True, exist_ok=True)
    run_dir = suite.log_path.parent.parent
    image = images.resolve(client, suite.image)
    mounts = {
        str(path): {"bind": str(path), "mode": "rw"} for path in {suite.cwd, run_dir.resolve()}
    }
    kwargs: dict[str, Any] = {}
    if os.geteuid() != 0:  # files it writes into the run dir stay the user's
        kwargs["user"] = f"{os.geteuid()}:{os.getegid()}"
    errs = errors()
    with suite.log_path.open("w", encoding="utf-8") as log:
        try:
            container = client.containers.create(
                image.id,
                command=["sh", "-c", suite.command],
                name=labels.container_name(env_id, f"suite-{suite.name}"),
                environment=dict(suite.env),
                working_dir=str(suite.cwd),
                volumes=mounts,
                network=network,
                labels={**common_labels, labels.ROLE: "suite"},
                **kwargs,
            )
        except errs.APIError as exc:
            log.write(suite.redactor(f"cannot create the suite's container: {exc}\n"))
            return could_not_start(suite, started)
        try:
            container.start()
            pump = threading.Thread(target=_pump, args=(container, log, suite), daemon=True)
            pump.start()
            timed_out = False
            try:
                exit_code: int | None = int(
                    container.wait(timeout=suite.timeout).get("StatusCode", -1)
                )
            except Exception:  # requests' ReadTimeout/ConnectionError: the deadline passed
                timed_out, exit_code = True, None
                container.kill()
            pump.join(timeout=5)
            if timed_out:
                log.write(
                    f"\nenvctl: suite {suite.name!r} timed out after {suite.timeout:g}s "
                    "and was stopped\n"
                )
        finally:
            # On failure, teardown removes whatever carries the environment's label.
            with contextlib.suppress(errs.APIError):
                container.remove(force=True)
    return outcome(
        suite.name, suite.tier, exit_code, timed_out, started, suite.junit_path, suite.log_path
    )


def _pump(container: Any, log: Any, suite: ContainerSuite) -> None:
    """Container output → redacted log lines (and the terminal, when echoing)."""
    pending = b""
    try:
        for chunk in container.logs(stream=True, follow=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                _emit(raw, log, suite)
        if pending:
            _emit(pending, log, suite)
    except Exception:  # the container went away under us: its output ends here
        return


def _emit(raw: bytes, log: Any, suite: ContainerSuite) -> None:
    line = suite.redactor(raw.decode("utf-8", errors="replace"))
    log.write(line + "\n")
    if suite.echo is not None:
        suite.echo(line)
