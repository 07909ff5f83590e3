"""A suite in the environment's namespace (``suite.image``): one Job, one pod.

Docker mounts the suite's directory and the run dir; a pod cannot, so the files travel:

* in: the suite's cwd as a .tar.gz (``bundle.py``) in a ConfigMap, unpacked at the same
  absolute path, and the run dir created empty at its own — so every path the
  blueprint interpolates (``${run.dir}/junit.xml``) means the same inside and out;
  its environment in a Secret (``envFrom``) and its command in another (a file), as
  both may hold secrets and a pod spec is readable by anyone who may list pods;
* out: when the command ends, the wrapper prints what it wrote into the run dir (the
  JUnit file among it) as a base64 .tar.gz between two markers carrying a random
  token, which the suite's own output cannot forge. The log pump keeps everything
  before the markers (redacted, line by line) and unpacks what is between them into
  the run dir on the host — only paths under it, or the JUnit path.

The wrapper needs ``sh``, ``tar``, ``gzip`` and ``base64`` in the image. On timeout the
Job is deleted (its pod with it); ``activeDeadlineSeconds`` makes Kubernetes stop it too,
were envctl killed first.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import logging
import secrets as random_source
import shlex
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from orchestrator.exceptions import RuntimeUnavailable
from orchestrator.runtime.docker.images import ENVCTL_IMAGE
from orchestrator.runtime.kubernetes import labels, manifests, pods, status
from orchestrator.runtime.kubernetes.client import Kube
from orchestrator.suites import ContainerSuite, SuiteResult, could_not_start, outcome

log = logging.getLogger(__name__)

SOURCE_DIR = "/envctl/source"
RUN_DIR = "/envctl/run"
POLL = 0.5
DEADLINE_SLACK = 30.0  # seconds Kubernetes gives the Job past the suite's own timeout
COMMAND_NOT_RUN = 125  # the wrapper's exit code when the suite's files cannot be unpacked


@dataclass(frozen=True)
class Markers:
    begin: str
    end: str

    @classmethod
    def fresh(cls) -> Markers:
        token = random_source.token_hex(12)
        return cls(f"envctl-artifacts-{token}-begin", f"envctl-artifacts-{token}-end")


def wrapper(suite: ContainerSuite, run_dir: Path, markers: Markers) -> str:
    """The container's shell script around the suite's command."""
    cwd, junit = str(suite.cwd), str(suite.junit_path)
    keep = [_relative(run_dir)]
    if not suite.junit_path.is_relative_to(run_dir):
        keep.append(_relative(suite.junit_path))
    q = shlex.quote
    return "\n".join([
        f"mkdir -p {q(cwd)} {q(str(run_dir))} {q(str(PurePosixPath(junit).parent))}",
        f"if ! tar -xzf {SOURCE_DIR}/source.tar.gz -C {q(cwd)}; then",
        "  echo \"envctl: cannot unpack the suite's files (does the image have tar?)\" >&2",
        f"  exit {COMMAND_NOT_RUN}",
        "fi",
        f"cd {q(cwd)}",
        f"/bin/sh {RUN_DIR}/command",
        "code=$?",
        f"printf '\\n%s\\n' {q(markers.begin)}",
        f"tar -czf - -C / {' '.join(q(k) for k in keep)} 2>/dev/null | base64",
        f"printf '%s %s\\n' {q(markers.end)} \"$code\"",
        'exit "$code"',
    ])  # fmt: skip


def job_name(suite: str) -> str:
    return labels.object_name(f"suite-{suite}")


# Run first, in the suite's pod (same network namespace, same address): until a
# NetworkPolicy agent has learnt a new pod's address, it drops that pod's traffic —
# kube-router's firewall refuses it for about half a second. Waiting here, in envctl's
# own image, keeps that race out of every suite; what stays unreachable is reported and
# left to the suite to fail on.
REACH = """
import socket, sys, time
pending, deadline = list(sys.argv[1:]), time.monotonic() + 30
while pending and time.monotonic() < deadline:
    for target in list(pending):
        host, _, port = target.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            pending.remove(target)
        except OSError:
            pass
    if pending:
        time.sleep(0.1)
if pending:
    print("envctl: not reachable from the suite's pod:", ", ".join(pending), file=sys.stderr)
"""


def reach_first(targets: list[str]) -> dict[str, Any]:
    """An init container that waits until the suite's pod reaches ``targets``."""
    return {
        "name": "reach-services",
        "image": ENVCTL_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", "-c", REACH, *targets],
        "resources": manifests.PROXY_RESOURCES.spec(),
    }


def run(
    kube: Kube,
    namespace: str,
    label_set: dict[str, str],
    suite: ContainerSuite,
    source: bytes,
    reach: list[str],
) -> SuiteResult:
    """Run ``suite`` as a Job; ``reach``: host:port addresses its pod waits for first."""
    started = time.monotonic()
    suite.log_path.parent.mkdir(parents=True, exist_ok=True)
    suite.junit_path.parent.mkdir(parents=True, exist_ok=True)
    run_dir = suite.log_path.parent.parent.resolve()
    name = job_name(suite.name)
    markers = Markers.fresh()
    suite_labels = {**label_set, labels.ROLE: "suite"}
    template = manifests.PodTemplate(
        service=f"suite-{suite.name}",
        container="suite",
        image=suite.image,
        role="suite",
        command=["/bin/sh", "-c", wrapper(suite, run_dir, markers)],
        env_secret=f"{name}-env",
        resources=manifests.SUITE_RESOURCES,
        volumes=[
            manifests.Volume("source", SOURCE_DIR, {"configMap": {"name": f"{name}-source"}}, True),
            manifests.Volume("run", RUN_DIR, {"secret": {"secretName": f"{name}-run"}}, True),
        ],
        restart="Never",
        init_containers=[reach_first(reach)] if reach else [],
    )
    base = f"/api/v1/namespaces/{namespace}"
    created: list[str] = []
    with suite.log_path.open("w", encoding="utf-8") as out:
        try:
            for path, body in (
                (f"{base}/configmaps", manifests.config_map(
                    f"{name}-source", suite_labels, binary={"source.tar.gz": source})),
                (f"{base}/secrets", manifests.env_secret(f"{name}-env", suite.env, suite_labels)),
                (f"{base}/secrets", manifests.env_secret(
                    f"{name}-run", {"command": suite.command}, suite_labels)),
                (f"/apis/batch/v1/namespaces/{namespace}/jobs", manifests.job(
                    name, template, suite_labels, suite.timeout + DEADLINE_SLACK)),
            ):  # fmt: skip
                kube.create(path, body)
                created.append(f"{path}/{body['metadata']['name']}")
        except RuntimeUnavailable as exc:
            out.write(suite.redactor(f"envctl: cannot create the suite's Job: {exc.message}\n"))
            _remove(kube, created)
            return could_not_start(suite, started)
        watch = _Watch(kube, namespace, name, suite, out, markers)
        try:
            code, timed_out, failure = watch.wait(started + suite.timeout)
            if failure is not None:
                out.write(suite.redactor(f"envctl: suite {suite.name!r} {failure}\n"))
                return could_not_start(suite, started)
            if timed_out:
                out.write(
                    f"\nenvctl: suite {suite.name!r} timed out after {suite.timeout:g}s "
                    "and was stopped\n"
                )
            elif watch.artifacts is not None:
                unpack(watch.artifacts, run_dir, suite.junit_path)
        finally:
            _remove(kube, list(reversed(created)))
            watch.join(5.0)  # a deleted pod's log stream ends: the pump with it
    return outcome(
        suite.name, suite.tier, code, timed_out, started, suite.junit_path, suite.log_path
    )


@dataclass
class _Watch:
    """Follows the Job's pod: its log into the suite's, its end, or why it never ran."""

    kube: Kube
    namespace: str
    job: str
    suite: ContainerSuite
    out: TextIO
    markers: Markers
    artifacts: bytes | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _pump_thread: threading.Thread | None = None

    def join(self, timeout: float) -> None:
        if self._pump_thread is not None:
            self._pump_thread.join(timeout)

    def wait(self, deadline: float) -> tuple[int | None, bool, str | None]:
        """(exit code, timed out, why it could not run)."""
        pump: threading.Thread | None = None
        began = time.monotonic()
        try:
            while True:
                pod = self._pod()
                if pod is not None and pump is None and _started(pod):
                    pump = threading.Thread(target=self._pump, args=(pod,), daemon=True)
                    pump.start()
                    self._pump_thread = pump
                terminated = _terminated(pod) if pod is not None else None
                if pod is not None and terminated is not None:
                    if pump is None:  # ended between two polls: its log is complete
                        self._pump(pod)
                    else:
                        pump.join(timeout=30)
                    code = terminated.get("exitCode")
                    return (int(code) if code is not None else None), False, None
                age = time.monotonic() - began
                if pod is not None:
                    found = status.pod_problem(pod, age)
                    if found is not None and found.kind != "exit":
                        return None, False, found.reason
                elif age > status.NO_POD_GRACE:
                    why = self._no_pod()
                    if why is not None:
                        return None, False, why
                if time.monotonic() >= deadline:
                    return None, True, None
                time.sleep(POLL)
        finally:
            self._stop.set()

    def _pod(self) -> dict[str, Any] | None:
        try:
            pods = self.kube.list(
                f"/api/v1/namespaces/{self.namespace}/pods", labelSelector=f"job-name={self.job}"
            )
        except RuntimeUnavailable as exc:
            log.debug("listing the suite's pod: %s", exc)
            return None
        return pods[0] if pods else None

    def _no_pod(self) -> str | None:
        """Why the Job has no pod (a quota or admission refused it), from its events."""
        try:
            events = self.kube.list(
                f"/api/v1/namespaces/{self.namespace}/events",
                fieldSelector=f"involvedObject.name={self.job}",
            )
        except RuntimeUnavailable:
            return None
        warnings = status.latest_warnings(events)
        return f"got no pod from Kubernetes: {warnings[-1]}" if warnings else None

    def _pump(self, pod: dict[str, Any]) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods/{pod['metadata']['name']}/log"
        lines = _Lines(self._emit, self.markers)
        try:
            response = self.kube.stream(path, {"follow": "true"}, timeout=self.suite.timeout + 60)
            try:
                for chunk in response.stream(64 * 1024, decode_content=True):
                    lines.feed(chunk)
                    if self._stop.is_set():
                        break
            finally:
                response.release_conn()
        except pods.stream_errors() as exc:
            log.debug("the suite's log stream ended: %s", exc)
        lines.close()
        self.artifacts = lines.artifacts()

    def _emit(self, raw: str) -> None:
        line = self.suite.redactor(raw)
        if self.out.closed:  # the suite was given up on (timeout): its output ends here
            return
        self.out.write(line + "\n")
        self.out.flush()
        if self.suite.echo is not None:
            self.suite.echo(line)


class _Lines:
    """Log bytes → output lines, and the base64 between the markers kept aside."""

    def __init__(self, emit: Callable[[str], None], markers: Markers) -> None:
        self._emit = emit
        self._markers = markers
        self._pending = b""
        self._held_blank = False  # the wrapper's newline before the begin marker
        self._inside = False
        self._encoded: list[str] = []
        self._complete = False

    def feed(self, chunk: bytes) -> None:
        self._pending += chunk
        *complete, self._pending = self._pending.split(b"\n")
        for raw in complete:
            self._line(raw.decode("utf-8", errors="replace"))

    def close(self) -> None:
        if self._pending:
            self._line(self._pending.decode("utf-8", errors="replace"))
            self._pending = b""
        if self._held_blank and not self._inside:
            self._emit("")
            self._held_blank = False

    def _line(self, text: str) -> None:
        if self._inside:
            if text.startswith(self._markers.end):
                self._inside, self._complete = False, True
            else:
                self._encoded.append(text.strip())
            return
        if text.endswith(self._markers.begin):
            before = text[: -len(self._markers.begin)]
            if before:
                self._emit(before)
            self._held_blank, self._inside = False, True
            return
        if self._held_blank:
            self._emit("")
            self._held_blank = False
        if text == "":
            self._held_blank = True
        else:
            self._emit(text)

    def artifacts(self) -> bytes | None:
        if not self._complete:
            return None
        try:
            return base64.b64decode("".join(self._encoded), validate=False)
        except (binascii.Error, ValueError):
            return None


def unpack(archive: bytes, run_dir: Path, junit: Path) -> list[Path]:
    """Write the regular files of ``archive`` (paths relative to /) that lie under
    ``run_dir`` or are ``junit``; nothing else, whatever the archive says."""
    written = []
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for member in tar.getmembers():
                target = Path("/") / member.name
                if ".." in PurePosixPath(member.name).parts or not member.isfile():
                    continue
                if not (target.is_relative_to(run_dir) or target == junit):
                    continue
                data = tar.extractfile(member)
                if data is None:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data.read())
                written.append(target)
    except (tarfile.TarError, OSError, EOFError) as exc:
        log.warning("the suite's files could not be collected: %s", exc)
    return written


def _started(pod: dict[str, Any]) -> bool:
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        state = container.get("state") or {}
        if state.get("running") or state.get("terminated"):
            return True
    return False


def _terminated(pod: dict[str, Any]) -> dict[str, Any] | None:
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        terminated = (container.get("state") or {}).get("terminated")
        if terminated:
            return dict(terminated)
    return None


def _relative(path: Path) -> str:
    return str(path.resolve()).lstrip("/") or "."


def _remove(kube: Kube, paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(RuntimeUnavailable):
            kube.delete(path)
