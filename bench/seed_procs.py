"""The processes of the seed section: envctl for any blueprint file, the PostgreSQL the
pgbench and seeder samples load into, and a bounded runner for pgbench and the seeder.

``Server`` is a context manager that tears its environment down on every exit path;
``timed`` stops its process (SIGTERM to its own process group, SIGKILL after 5 s) on a
timeout, Ctrl-C or any other exception. All traffic is to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from bench import REPO, MeasurementError
from bench.envctl_cli import UP_TIMEOUT, Envctl, tagged
from bench.proxy_procs import stop_process

SEED_DIR = Path(__file__).resolve().parent / "seed"
SERVER_BLUEPRINT = SEED_DIR / "server.yaml"  # one postgres, no data
ACCOUNTS_TABLE = "seed_accounts"
PGBENCH_TABLES = ("pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history")


@dataclass(frozen=True)
class UpDone:
    seconds: float  # launch → exit
    env_id: str
    data: dict[str, Any]  # `up -o json`
    stderr: str  # envctl's progress lines


class SeedEnvctl(Envctl):
    """bench.envctl_cli.Envctl for any blueprint file (it ups the checkout one)."""

    def up_file(self, blueprint: Path) -> UpDone:
        seconds, done = self._run(["up", str(blueprint), "-o", "json"], UP_TIMEOUT)
        try:
            data = json.loads(done.stdout)
        except ValueError:
            data = None
        env_id = data.get("env") if isinstance(data, dict) else None
        if isinstance(env_id, str):
            self.env_ids.append(env_id)
        if done.returncode != 0 or not isinstance(data, dict) or data.get("status") != "ready":
            tail = " | ".join(done.stderr.strip().splitlines()[-6:])
            raise MeasurementError(
                f"envctl up {blueprint.name} exited with {done.returncode}: {tail or '(none)'}"
            )
        assert isinstance(env_id, str)
        return UpDone(seconds, env_id, data, done.stderr)

    def cpu_seconds(self, env_id: str) -> float:
        """CPU time of an environment's live processes so far, with what they reaped (a
        postmaster's backends). They are not our children, so a ``CpuMark`` counts them
        as foreign; the rounds subtract them."""
        total = 0.0
        for proc in tagged(env_id, self.work_root / f"envctl-{env_id}"):
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
        return total


def timed(
    argv: list[str], env: dict[str, str], timeout: float, what: str
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``argv`` from REPO in a process group of its own; (wall seconds, output).
    On a timeout, Ctrl-C or any other exit path it is stopped (SIGTERM, then SIGKILL)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException as exc:
        stop_process(proc)
        proc.communicate()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise MeasurementError(f"{what} timed out after {timeout:g}s") from exc
        raise
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = " | ".join(err.strip().splitlines()[-6:])
        raise MeasurementError(f"{what} exited with {proc.returncode}: {tail or '(no stderr)'}")
    return seconds, subprocess.CompletedProcess(argv, proc.returncode, out, err)


def libpq_env(url: str) -> dict[str, str]:
    """The URL as libpq's PG* variables, so no password shows in pgbench's argv."""
    from psycopg.conninfo import conninfo_to_dict

    names = {
        "host": "PGHOST",
        "port": "PGPORT",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "dbname": "PGDATABASE",
    }
    parts = conninfo_to_dict(url)
    return {names[k]: str(v) for k, v in parts.items() if k in names and v is not None}


def _url_from(env_file: Path, service: str = "db") -> str:
    from orchestrator.childenv import read_env_file

    key = f"ENVCTL_{service.upper()}_URL"
    try:
        url = read_env_file(env_file).get(key)
    except OSError as exc:
        raise MeasurementError(f"cannot read the env file {env_file}: {exc}") from exc
    if url is None:
        raise MeasurementError(f"{env_file} has no {key}")
    return url


class Server:
    """``envctl up server.yaml``: the PostgreSQL that pgbench and the seeder load into.
    A context manager: ``envctl down`` on every exit path."""

    def __init__(self, envctl: SeedEnvctl) -> None:
        self.envctl = envctl
        self.env_id: str | None = None
        self.url = ""
        self.version = ""
        self.notes: list[str] = []

    def __enter__(self) -> Server:
        done = self.envctl.up_file(SERVER_BLUEPRINT)
        self.env_id = done.env_id
        try:
            self.url = _url_from(Path(str(done.data.get("env_file"))))
            self.version = str((done.data.get("services") or {}).get("db", {}).get("version"))
            self.sql("SELECT 1")
        except BaseException:
            self._down()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._down()

    def _down(self) -> None:
        if self.env_id is None:
            return
        env_id, self.env_id = self.env_id, None
        try:
            _, leftovers = self.envctl.down(env_id)
        except MeasurementError as exc:
            self.notes.append(f"seed server: {exc}")
            return
        if leftovers:
            self.notes.append(f"seed server {env_id} left behind: {', '.join(leftovers)}")

    def cpu_seconds(self) -> float:
        return self.envctl.cpu_seconds(self.env_id) if self.env_id else 0.0

    def sql(self, statement: str) -> Any:
        """One statement on a fresh connection; the first column of the first row."""
        import psycopg

        try:
            with psycopg.connect(
                self.url, autocommit=True, connect_timeout=10, options="-c statement_timeout=60s"
            ) as conn:
                cur = conn.execute(statement.encode())
                row = cur.fetchone() if cur.description else None
        except psycopg.Error as exc:
            raise MeasurementError(f"seed server: {statement[:60]!r} failed: {exc}") from exc
        return row[0] if row else None

    def clean(self) -> None:
        """No table of ours left, and a checkpoint so none is due during the next sample."""
        self.sql(f"DROP TABLE IF EXISTS {ACCOUNTS_TABLE}, {', '.join(PGBENCH_TABLES)}")
        self.sql("CHECKPOINT")

    def count(self, table: str, want: int) -> None:
        got = self.sql(f"SELECT count(*) FROM {table}")
        if got != want:
            raise MeasurementError(f"{table} has {got} rows, expected {want}")
