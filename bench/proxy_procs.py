"""The processes of the proxy benchmarks: upstream servers, `envctl proxy serve`, socat.

Each is a context manager that stops its process on every exit path: SIGTERM to its own
process group (started with ``start_new_session``), SIGKILL after a grace period. The
proxy runs as a subprocess (``python -m orchestrator proxy serve --config FILE``) and is
driven only through its Toxiproxy-compatible HTTP API, never imported.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import psutil

from bench import REPO, MeasurementError
from bench.proxy_net import HOST, free_port

START_TIMEOUT = 30.0
STOP_GRACE = 5.0
API_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def stop_process(proc: subprocess.Popen[Any], grace: float = STOP_GRACE) -> str | None:
    """SIGTERM the process group of ``proc`` (our own child), SIGKILL after ``grace``.
    Returns a note if it had to be killed, None if it stopped on its own terms."""
    if proc.poll() is not None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(grace)
        return f"pid {proc.pid} ignored SIGTERM for {grace:g}s and was killed"
    return None


def _die_with_parent() -> None:
    """preexec_fn: the kernel SIGTERMs the child if the benchmark dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _tail(path: Path, limit: int = 1500) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[-limit:].strip()


class Upstream:
    """``python -m bench.proxy_upstream``: a byte-counting sink and an echo server."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.sink = self.echo = 0

    def __enter__(self) -> Upstream:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.proxy_upstream"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the helper prints its ports at once
        try:
            ports = json.loads(line)
            self.sink, self.echo = int(ports["sink"]), int(ports["echo"])
        except (ValueError, KeyError, TypeError) as exc:
            stop_process(self.proc)
            raise MeasurementError(f"upstream helper did not report its ports: {line!r}") from exc
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None:
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()  # the helper exits on EOF …
            try:
                self.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                stop_process(self.proc)  # … or is made to
            if self.proc.stdout is not None:
                self.proc.stdout.close()


@dataclass(frozen=True)
class ApiReply:
    status: int
    body: Any


class ProxyServe:
    """`envctl proxy serve` with one config: proxy ``echo`` → the echo server and proxy
    ``stream`` → the sink, no toxics, on free ports of 127.0.0.1."""

    ECHO = "echo"
    STREAM = "stream"

    def __init__(self, workdir: Path, upstream: Upstream) -> None:
        self.workdir = workdir
        self.api_port = free_port()
        self.ports = {self.ECHO: free_port(), self.STREAM: free_port()}
        self.config = {
            "api": f"{HOST}:{self.api_port}",
            "seed": 1,
            "proxies": [
                {
                    "name": name,
                    "listen": f"{HOST}:{self.ports[name]}",
                    "upstream": f"{HOST}:{port}",
                    "enabled": True,
                    "toxics": [],
                }
                for name, port in ((self.ECHO, upstream.echo), (self.STREAM, upstream.sink))
            ],
            "schedules": [],
        }
        self.config_path = workdir / "proxy.json"
        self.log_path = workdir / "proxy.log"
        self.command = [
            sys.executable, "-m", "orchestrator", "proxy", "serve",
            "--config", str(self.config_path),
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None
        self.version = ""
        self.notes: list[str] = []
        self._log: IO[bytes] | None = None

    def __enter__(self) -> ProxyServe:
        self.config_path.write_text(json.dumps(self.config, indent=2), encoding="utf-8")
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.command,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 (started from the main thread only)
        )
        try:
            self.ps = psutil.Process(self.proc.pid)
            self._wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise MeasurementError(
                    f"`{' '.join(self.command[1:])}` exited {self.proc.returncode} at start:\n"
                    f"{_tail(self.log_path)}"
                )
            try:
                reply = self.api("GET", "/version")
                if reply.status == 200 and all(self._listening(p) for p in self.ports.values()):
                    body = reply.body
                    self.version = body.get("version", "") if isinstance(body, dict) else body
                    return
                last = f"GET /version → {reply.status}"
            except MeasurementError as exc:
                last = str(exc)
            time.sleep(0.05)
        raise MeasurementError(
            f"proxy not ready in {START_TIMEOUT:g}s ({last}):\n{_tail(self.log_path)}"
        )

    def _listening(self, port: int) -> bool:
        assert self.ps is not None
        try:
            return any(
                c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
                for c in self.ps.net_connections(kind="tcp")
            )
        except psutil.Error:
            return False

    def api(self, method: str, path: str, body: Any = None) -> ApiReply:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://{HOST}:{self.api_port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=API_TIMEOUT) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        except (urllib.error.URLError, OSError) as exc:
            raise MeasurementError(f"proxy API {method} {path}: {exc}") from exc
        text = raw.decode("utf-8", errors="replace")
        try:
            parsed: Any = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return ApiReply(status, parsed)

    def add_latency(self, name: str, attributes: dict[str, float]) -> dict[str, Any]:
        toxic = {
            "name": name,
            "type": "latency",
            "stream": "downstream",
            "toxicity": 1.0,
            "attributes": attributes,
        }
        reply = self.api("POST", f"/proxies/{self.ECHO}/toxics", toxic)
        if reply.status != 200:
            raise MeasurementError(
                f"POST /proxies/{self.ECHO}/toxics {toxic} → {reply.status} {reply.body}"
            )
        return reply.body if isinstance(reply.body, dict) else {}

    def remove_toxic(self, name: str) -> None:
        reply = self.api("DELETE", f"/proxies/{self.ECHO}/toxics/{name}")
        if reply.status != 204:
            raise MeasurementError(
                f"DELETE /proxies/{self.ECHO}/toxics/{name} → {reply.status} {reply.body}"
            )

    def toxics(self) -> list[Any]:
        reply = self.api("GET", f"/proxies/{self.ECHO}/toxics")
        return reply.body if reply.status == 200 and isinstance(reply.body, list) else []

    def delay_totals(self, toxic: str) -> tuple[float, int] | None:
        """(seconds of delay ``toxic`` has applied, delays applied on the echo proxy) from
        envctl's ``GET /envctl/metrics`` (not Toxiproxy's API: None if absent)."""
        reply = self.api("GET", "/envctl/metrics")
        try:
            echo = reply.body[self.ECHO]
            seconds = echo["toxics"].get(toxic, {}).get("injected_delay_seconds", 0.0)
            return float(seconds), int(echo["injected_delay_ms"]["count"])
        except (TypeError, KeyError, AttributeError, ValueError):
            return None

    def cpu_seconds(self) -> float:
        assert self.ps is not None
        try:
            t = self.ps.cpu_times()
        except psutil.Error as exc:
            raise MeasurementError(f"cannot read the proxy's CPU time: {exc}") from exc
        return float(t.user + t.system + t.children_user + t.children_system)

    def rss_mb(self) -> float:
        assert self.ps is not None
        try:
            return float(self.ps.memory_info().rss) / 1e6
        except psutil.Error as exc:
            raise MeasurementError(f"cannot read the proxy's memory: {exc}") from exc

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self) -> str:
        return _tail(self.log_path)

    def close(self) -> None:
        if self.proc is not None:
            already = self.proc.poll() is not None  # reported where it was noticed
            note = stop_process(self.proc)
            if note:
                self.notes.append(f"proxy: {note}")
            elif not already and self.proc.returncode not in (0, -signal.SIGTERM):
                self.notes.append(
                    f"proxy exited {self.proc.returncode} on SIGTERM: {self.log_tail()[-300:]}"
                )
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def socat_version() -> str:
    exe = shutil.which("socat")
    if exe is None:
        return ""
    try:
        out = subprocess.run(
            [exe, "-V"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for line in out.splitlines():
        if line.startswith("socat version"):
            return line.split()[2]
    return "?"


@dataclass
class SocatRun:
    port: int
    cpu_seconds: float | None = None  # the socat process's whole life, from wait4's rusage


@contextlib.contextmanager
def socat(target_port: int) -> Iterator[SocatRun]:
    """One ``socat TCP-LISTEN:P,reuseaddr,bind=127.0.0.1 TCP:127.0.0.1:TARGET`` for one
    connection (no ``fork``: it relays that connection itself, then exits). On a clean
    exit its CPU time is read from the kernel's rusage as it is reaped."""
    exe = shutil.which("socat")
    if exe is None:
        raise MeasurementError("socat not found (apt-get install -y socat)")
    run = SocatRun(free_port())
    proc = subprocess.Popen(
        [exe, f"TCP-LISTEN:{run.port},reuseaddr,bind={HOST}", f"TCP:{HOST}:{target_port}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 (started from the main thread only)
    )
    try:
        _wait_listening(proc, run.port)
        yield run
        run.cpu_seconds = _reap_with_rusage(proc)
    finally:
        stop_process(proc, grace=1.0)
        if proc.stderr is not None:
            proc.stderr.close()


def _wait_listening(proc: subprocess.Popen[bytes], port: int) -> None:
    """Wait until ``proc`` listens on ``port``, without connecting (socat without fork
    would spend its one accept on the probe)."""
    ps = psutil.Process(proc.pid)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise MeasurementError(f"socat exited {proc.returncode}: {err.strip()}")
        with contextlib.suppress(psutil.Error):
            for conn in ps.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                    return
        time.sleep(0.005)
    raise MeasurementError(f"socat did not listen on {port} within {START_TIMEOUT:g}s")


def _reap_with_rusage(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> float | None:
    """Reap our socat child ourselves (``wait4``) to get its user+system CPU seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        time.sleep(0.005)
    return None


class CpuMark:
    """How busy the machine was with work other than ours since this mark, as a share of
    all CPUs: system-wide busy time minus the CPU time of this process and all its
    descendants (live ones read from /proc, reaped ones from our children's times)."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.busy0, self.steal0 = self._system()
        self.own0 = self._own()

    @staticmethod
    def _system() -> tuple[float, float]:
        t = psutil.cpu_times()
        total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
        steal = getattr(t, "steal", 0.0)
        return total - t.idle - getattr(t, "iowait", 0.0) - steal, steal

    @staticmethod
    def _own() -> float:
        me = psutil.Process()
        total = 0.0
        for proc in (me, *me.children(recursive=True)):
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                # a live child's own children are counted here once it has reaped them
                total += t.user + t.system + t.children_user + t.children_system
        return total

    def since(self) -> dict[str, float]:
        wall = (time.monotonic() - self.t0) * (psutil.cpu_count() or 1)
        busy, steal = self._system()
        foreign = (busy - self.busy0) - (self._own() - self.own0)
        return {
            "foreign_cpu_share": round(max(0.0, foreign) / wall, 3) if wall else 0.0,
            "steal_cpu_share": round((steal - self.steal0) / wall, 3) if wall else 0.0,
        }
