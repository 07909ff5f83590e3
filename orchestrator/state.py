"""Live environments, reserved ports and finished runs, in SQLite under the state dir.

Several envctl processes (parallel CI jobs, a developer's `up` and `ls`) share one file:
WAL mode lets readers proceed while one writes, ``busy_timeout`` makes writers queue
instead of failing, and every write is one short ``BEGIN IMMEDIATE`` transaction.
Rows never hold secret values: services are stored as handles (pids, ports, paths).
"""

from __future__ import annotations

import itertools
import json
import socket
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.exceptions import EnvironmentNotFound, StateError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS environments (
    id TEXT PRIMARY KEY,
    blueprint TEXT NOT NULL,
    blueprint_path TEXT NOT NULL,
    runtime TEXT NOT NULL,
    status TEXT NOT NULL,
    mode TEXT NOT NULL,
    owner_pid INTEGER,
    owner_started REAL,
    owner_host TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    work_dir TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    services TEXT NOT NULL DEFAULT '{}',
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ports (
    port INTEGER PRIMARY KEY,
    env_id TEXT NOT NULL,
    reserved_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    env_id TEXT PRIMARY KEY,
    blueprint TEXT NOT NULL,
    runtime TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    summary TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class EnvRecord:
    """A live environment as persisted; enough for another process to tear it down."""

    id: str
    blueprint: str
    blueprint_path: str
    runtime: str
    status: str
    mode: str  # 'run' (owned by its envctl process) or 'up' (detached, lives until TTL)
    owner_pid: int | None
    owner_started: float | None
    owner_host: str
    created_at: float
    expires_at: float
    work_dir: Path
    run_dir: Path
    services: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def expired(self) -> bool:
        return time.time() > self.expires_at


OPEN_RETRIES = 40  # about 40 s of backing off before a locked new store is an error


class EnvironmentIdTaken(StateError):
    """``add`` of an id that is already live (two runs drew the same random suffix)."""


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        for attempt in itertools.count():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with self._connect() as db:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.executescript(_SCHEMA)
                break
            except sqlite3.OperationalError as exc:
                # Two envctl processes creating a new store at once: switching it to WAL
                # answers "locked" at once, without waiting on the busy timeout.
                if "locked" not in str(exc) or attempt >= OPEN_RETRIES:
                    raise self._unusable(exc) from exc
                time.sleep(0.05 * (attempt + 1))
            except (OSError, sqlite3.Error) as exc:
                raise self._unusable(exc) from exc

    def _unusable(self, exc: Exception) -> StateError:
        return StateError(
            f"cannot open the state database {str(self.path)!r}: {exc}",
            hint="set ENVCTL_STATE_DIR to a writable directory",
        )

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout=30000")
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StateError(f"state database error: {exc}") from exc
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        db = self._connect()
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"state database error: {exc}") from exc
        finally:
            db.close()

    # environments ---------------------------------------------------------------

    def add(self, record: EnvRecord) -> None:
        with self._write() as db:
            if db.execute("SELECT 1 FROM environments WHERE id=?", (record.id,)).fetchone():
                raise EnvironmentIdTaken(f"environment id {record.id!r} is taken")
            db.execute(
                "INSERT INTO environments VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.id,
                    record.blueprint,
                    record.blueprint_path,
                    record.runtime,
                    record.status,
                    record.mode,
                    record.owner_pid,
                    record.owner_started,
                    record.owner_host,
                    record.created_at,
                    record.expires_at,
                    str(record.work_dir),
                    str(record.run_dir),
                    json.dumps(dict(record.services)),
                    time.time(),
                ),
            )

    def set_status(self, env_id: str, status: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE environments SET status=?, updated_at=? WHERE id=?",
                (status, time.time(), env_id),
            )

    def set_service(self, env_id: str, name: str, details: Mapping[str, Any]) -> None:
        """Record one service's handle; read-modify-write inside one transaction."""
        with self._write() as db:
            row = db.execute("SELECT services FROM environments WHERE id=?", (env_id,)).fetchone()
            if row is None:
                return
            services = json.loads(row["services"])
            services[name] = dict(details)
            db.execute(
                "UPDATE environments SET services=?, updated_at=? WHERE id=?",
                (json.dumps(services), time.time(), env_id),
            )

    def claim_teardown(self, env_id: str, stale_after: float = 300.0) -> bool:
        """Mark an environment as being torn down, unless another process already is
        (and has updated it in the last ``stale_after`` seconds). True if we claimed it."""
        with self._write() as db:
            claimed = db.execute(
                "UPDATE environments SET status='tearing_down', updated_at=? "
                "WHERE id=? AND (status != 'tearing_down' OR updated_at < ?)",
                (time.time(), env_id, time.time() - stale_after),
            ).rowcount
        return claimed == 1

    def detach(self, env_id: str, expires_at: float) -> None:
        """Hand an environment over from its envctl process to the TTL (``envctl up``)."""
        with self._write() as db:
            db.execute(
                "UPDATE environments SET mode='up', owner_pid=NULL, owner_started=NULL, "
                "expires_at=?, updated_at=? WHERE id=?",
                (expires_at, time.time(), env_id),
            )

    def remove(self, env_id: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM environments WHERE id=?", (env_id,))
            db.execute("DELETE FROM ports WHERE env_id=?", (env_id,))

    def get(self, env_id: str) -> EnvRecord:
        rows = self._read("SELECT * FROM environments WHERE id=?", (env_id,))
        if not rows:
            known = [r.id for r in self.environments()]
            raise EnvironmentNotFound(
                f"no live environment {env_id!r}",
                hint=f"live environments: {', '.join(known)}"
                if known
                else "none is live (envctl ls)",
            )
        return _record(rows[0])

    def environments(self) -> list[EnvRecord]:
        return [_record(r) for r in self._read("SELECT * FROM environments ORDER BY created_at")]

    # ports ------------------------------------------------------------------------

    def reserve_port(self, env_id: str, candidates: Iterator[int]) -> int:
        """Reserve the first candidate that no live environment holds and that binds."""
        with self._write() as db:
            for port in candidates:
                if db.execute("SELECT 1 FROM ports WHERE port=?", (port,)).fetchone():
                    continue
                if not _bindable(port):
                    continue
                db.execute("INSERT INTO ports VALUES (?,?,?)", (port, env_id, time.time()))
                return port
        raise StateError("no free port found on 127.0.0.1", hint="too many environments?")

    # runs -------------------------------------------------------------------------

    def record_run(self, summary: Mapping[str, Any]) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?)",
                (
                    summary["env"],
                    summary["blueprint"],
                    summary["runtime"],
                    summary["status"],
                    summary["started_at"],
                    summary["finished_at"],
                    json.dumps(summary),
                ),
            )

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._read("SELECT summary FROM runs ORDER BY finished_at DESC LIMIT ?", (limit,))
        return [json.loads(r["summary"]) for r in rows]


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _record(row: sqlite3.Row) -> EnvRecord:
    return EnvRecord(
        id=row["id"],
        blueprint=row["blueprint"],
        blueprint_path=row["blueprint_path"],
        runtime=row["runtime"],
        status=row["status"],
        mode=row["mode"],
        owner_pid=row["owner_pid"],
        owner_started=row["owner_started"],
        owner_host=row["owner_host"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        work_dir=Path(row["work_dir"]),
        run_dir=Path(row["run_dir"]),
        services=json.loads(row["services"]),
    )


def this_host() -> str:
    return socket.gethostname()
