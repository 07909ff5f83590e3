"""The checkout services started by a plain Python script: no envctl, the floor to beat.

The same processes envctl's local runtime starts (see orchestrator/runtime/local/), with
the same binaries, flags and unprivileged user, each probed until it serves:

* db: initdb (pwfile, scram-sha-256), ``CREATE DATABASE orders`` in single-user mode,
  then postgres with envctl's ``-c`` settings; probe: psycopg connect + ``SELECT 1``.
* cache: redis-server with a 0600 config file (requirepass); probe: PING.
* payments-provider: ``python payments_stub.py --port P``; probe: GET /healthz.
* orders: ``python orders_app.py --port P`` with DATABASE_URL/REDIS_URL/PAYMENTS_URL;
  probe: GET /healthz (200 once postgres and redis answer). Needs the other three.

Each :class:`Stack` owns a temp dir and the process groups it starts, and removes all
of it on exit, also on failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bench import CHECKOUT_DIR, MeasurementError
from orchestrator.runtime.local import binaries
from orchestrator.runtime.local.postgres import EPHEMERAL_SETTINGS

READY_TIMEOUT = 60.0
TOOL_TIMEOUT = 120.0
STOP_TIMEOUT = 5.0
DB_USER = "app"
DB_NAME = "orders"


@dataclass(frozen=True)
class RunAs:
    uid: int
    gid: int


def unprivileged_user() -> RunAs | None:
    """``nobody`` when we are root (PostgreSQL refuses root), as envctl does."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return RunAs(entry.pw_uid, entry.pw_gid)


def free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1 (all held open until all are chosen)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


# probes: True when ready, False before; never raise for "not yet" --------------------


def postgres_ready(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1").fetchone()
    except psycopg.Error:
        return False
    return True


def redis_ready(port: int, password: str) -> bool:
    import redis

    client = redis.Redis(
        host="127.0.0.1",
        port=port,
        password=password,
        socket_connect_timeout=2,
        socket_timeout=2,
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def http_ready(port: int, path: str = "/healthz") -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]
    stop_signal: signal.Signals
    log: Path


class Stack:
    """One set of the four services: ports, passwords, a temp dir, the processes."""

    def __init__(self, poll_interval: float) -> None:
        self.poll_interval = poll_interval
        self.pg = binaries.postgres("auto")
        self.redis = binaries.redis("auto")
        self.run_as = unprivileged_user()
        self.db_port, self.cache_port, self.payments_port, self.orders_port = free_ports(4)
        self.db_password = secrets.token_urlsafe(24)
        self.cache_password = secrets.token_urlsafe(24)
        self.cancel = threading.Event()
        self._procs: list[_Proc] = []
        self._tools: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()
        self.root = Path(tempfile.mkdtemp(prefix="bench-plain-"))
        if self.run_as is not None:
            self.root.chmod(0o711)  # let the unprivileged server user reach its own dir
        (self.root / "logs").mkdir()

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def database_url(self) -> str:
        return f"postgresql://{DB_USER}:{self.db_password}@127.0.0.1:{self.db_port}/{DB_NAME}"

    @property
    def redis_url(self) -> str:
        return f"redis://:{self.cache_password}@127.0.0.1:{self.cache_port}/0"

    # the four services: each returns once its probe passes ---------------------------

    def db(self) -> None:
        service_dir = self.root / "db"
        service_dir.mkdir()
        self._hand_over(service_dir)
        data = service_dir / "data"
        pwfile = service_dir / ".pwfile"
        pwfile.write_text(self.db_password + "\n", encoding="utf-8")
        pwfile.chmod(0o600)
        self._hand_over(pwfile)
        bindir = self.pg.bindir
        try:
            self._tool(
                "initdb",
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    DB_USER,
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    f"--pwfile={pwfile}",
                ],
                cwd=service_dir,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self._tool(
            "postgres --single",
            [str(bindir / "postgres"), "--single", "-D", str(data), "-j", "postgres"],
            cwd=service_dir,
            stdin=f'CREATE DATABASE "{DB_NAME}";\n',
        )
        argv = [
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(self.db_port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={service_dir}",
        ]
        for key, value in EPHEMERAL_SETTINGS.items():
            argv += ["-c", f"{key}={value}"]
        proc = self._spawn("db", argv, cwd=service_dir, stop_signal=signal.SIGINT, drop=True)
        url = self.database_url
        self._wait(proc, lambda: postgres_ready(url))

    def cache(self) -> None:
        service_dir = self.root / "cache"
        service_dir.mkdir()
        escaped = self.cache_password.replace("\\", "\\\\").replace('"', '\\"')
        conf = service_dir / "redis.conf"
        conf.touch(mode=0o600)
        conf.write_text(
            "\n".join(
                [
                    f"port {self.cache_port}",
                    "bind 127.0.0.1",
                    f"dir {service_dir}",
                    'save ""',
                    "appendonly no",
                    "daemonize no",
                    'logfile ""',
                    f'requirepass "{escaped}"',
                ]
            )
            + "\n",
            encoding="utf-8",
        )
        proc = self._spawn(
            "cache", [str(self.redis.bindir / "redis-server"), str(conf)], cwd=service_dir
        )
        self._wait(proc, lambda: redis_ready(self.cache_port, self.cache_password))

    def payments(self) -> None:
        proc = self._spawn(
            "payments-provider",
            [sys.executable, "payments_stub.py", "--port", str(self.payments_port)],
            cwd=CHECKOUT_DIR,
        )
        self._wait(proc, lambda: http_ready(self.payments_port))

    def orders(self) -> None:
        env = {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "PAYMENTS_URL": f"http://127.0.0.1:{self.payments_port}",
        }
        proc = self._spawn(
            "orders",
            [sys.executable, "orders_app.py", "--port", str(self.orders_port)],
            cwd=CHECKOUT_DIR,
            extra_env=env,
        )
        self._wait(proc, lambda: http_ready(self.orders_port))

    # plumbing -------------------------------------------------------------------------

    def _hand_over(self, path: Path) -> None:
        if self.run_as is not None:
            os.chown(path, self.run_as.uid, self.run_as.gid)

    def _as(self, drop: bool) -> RunAs | None:
        return self.run_as if drop else None

    def _tool(self, what: str, argv: list[str], cwd: Path, stdin: str | None = None) -> None:
        """Run a setup step of PostgreSQL's (as the unprivileged user) to completion.

        In its own process group: initdb runs ``postgres --boot`` underneath, which must
        die with it if we are interrupted."""
        run_as = self.run_as
        with self._lock:
            if self.cancel.is_set():
                raise MeasurementError(f"db: cancelled before {what}")
            try:
                popen = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    user=run_as.uid if run_as else None,
                    group=run_as.gid if run_as else None,
                    extra_groups=[] if run_as else None,
                )
            except OSError as exc:
                raise MeasurementError(f"db: cannot start {what}: {exc}") from exc
            self._tools.append(popen)
        finished = False
        try:
            out, _ = popen.communicate(stdin.encode() if stdin else None, timeout=TOOL_TIMEOUT)
            finished = True
        except subprocess.TimeoutExpired as exc:
            raise MeasurementError(f"db: {what} timed out after {TOOL_TIMEOUT:g}s") from exc
        finally:
            if not finished:
                _signal_group(popen.pid, signal.SIGKILL)
                popen.wait()
            with self._lock:
                self._tools.remove(popen)
        if popen.returncode != 0:
            tail = out.decode("utf-8", "replace").strip()[-800:]
            raise MeasurementError(f"db: {what} exited with {popen.returncode}: {tail}")

    def kill_tools(self) -> None:
        """Abort running setup steps (initdb, single-user postgres) at once."""
        with self._lock:
            self.cancel.set()
            tools = list(self._tools)
        for popen in tools:
            _signal_group(popen.pid, signal.SIGKILL)

    def _spawn(
        self,
        name: str,
        argv: list[str],
        cwd: Path,
        stop_signal: signal.Signals = signal.SIGTERM,
        extra_env: dict[str, str] | None = None,
        drop: bool = False,
    ) -> _Proc:
        log = self.root / "logs" / f"{name}.log"
        with self._lock:  # no process may start once close() has begun
            if self.cancel.is_set():
                raise MeasurementError(f"{name}: cancelled before start")
            with log.open("ab") as out:
                try:
                    run_as = self._as(drop)
                    popen = subprocess.Popen(
                        argv,
                        cwd=cwd,
                        env={**os.environ, **(extra_env or {})},
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # its own process group, killed as one
                        user=run_as.uid if run_as else None,
                        group=run_as.gid if run_as else None,
                        extra_groups=[] if run_as else None,
                    )
                except OSError as exc:
                    raise MeasurementError(f"{name}: cannot start {argv[0]}: {exc}") from exc
            proc = _Proc(name, popen, stop_signal, log)
            self._procs.append(proc)
        return proc

    def _wait(self, proc: _Proc, probe: Callable[[], bool]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.cancel.is_set():
            code = proc.popen.poll()
            if code is not None:
                raise MeasurementError(
                    f"{proc.name} exited with {code} before it was ready: {self._tail(proc)}"
                )
            if probe():
                return
            if time.monotonic() >= deadline:
                raise MeasurementError(
                    f"{proc.name} not ready after {READY_TIMEOUT:g}s: {self._tail(proc)}"
                )
            self.cancel.wait(self.poll_interval)
        raise MeasurementError(f"{proc.name}: cancelled while waiting for readiness")

    @staticmethod
    def _tail(proc: _Proc) -> str:
        try:
            text = proc.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-5:]) or "(empty log)"

    def close(self) -> list[str]:
        """Stop every process group (SIGKILL after STOP_TIMEOUT), remove the temp dir.

        Returns what survived (should be nothing)."""
        self.kill_tools()
        with self._lock:
            procs = list(reversed(self._procs))
        for proc in procs:
            _signal_group(proc.popen.pid, proc.stop_signal)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        leftovers = []
        for proc in procs:
            # Always: the leader may be gone while others in its group are not.
            _signal_group(proc.popen.pid, signal.SIGKILL)
            try:
                proc.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                leftovers.append(f"{proc.name} (pid {proc.popen.pid})")
        for _ in range(10):  # a killed process may still be finishing a write in there
            shutil.rmtree(self.root, ignore_errors=True)
            if not self.root.exists():
                break
            time.sleep(0.1)
        if self.root.exists():
            leftovers.append(f"directory {self.root}")
        return leftovers


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


# the two measurements -------------------------------------------------------------------


@dataclass(frozen=True)
class PlainResult:
    total: float  # start of the first service to the last one ready
    services: dict[str, float]  # each service's own start→ready time
    leftovers: list[str]


def _timed(step: Callable[[], None]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def measure_sequential(poll_interval: float) -> PlainResult:
    """One service after another, each waited for before the next starts."""
    stack = Stack(poll_interval)
    try:
        started = time.perf_counter()
        services = {
            "db": _timed(stack.db),
            "cache": _timed(stack.cache),
            "payments-provider": _timed(stack.payments),
            "orders": _timed(stack.orders),
        }
        total = time.perf_counter() - started
    finally:
        leftovers = stack.close()
    return PlainResult(total, services, leftovers)


def measure_critical_path(poll_interval: float) -> PlainResult:
    """db, cache and payments-provider on three threads at once; orders once all three
    are ready. ``total`` is the wall time of that, measured, not added up."""
    stack = Stack(poll_interval)
    services: dict[str, float] = {}
    errors: list[BaseException] = []

    def bring_up(name: str, step: Callable[[], None]) -> None:
        try:
            services[name] = _timed(step)
        except BaseException as exc:
            errors.append(exc)
            stack.kill_tools()  # the others stop waiting

    try:
        started = time.perf_counter()
        threads = [
            threading.Thread(target=bring_up, args=(name, step), name=f"bench-{name}")
            for name, step in (
                ("db", stack.db),
                ("cache", stack.cache),
                ("payments-provider", stack.payments),
            )
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except BaseException:
            stack.kill_tools()
            for thread in threads:
                thread.join()
            raise
        if errors:
            first = errors[0]
            if isinstance(first, MeasurementError):
                raise first
            raise MeasurementError(f"{type(first).__name__}: {first}") from first
        services["orders"] = _timed(stack.orders)
        total = time.perf_counter() - started
    finally:
        leftovers = stack.close()
    return PlainResult(total, services, leftovers)
