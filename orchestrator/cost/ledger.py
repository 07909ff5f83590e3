"""The run ledger: one row per finished run, appended, never changed, for cost reports.

It is a SQLite file of its own (``<state dir>/ledger.db``), apart from the state store:
the state store holds what is live and is pruned, the ledger is history that finance
exports, and either can be deleted without touching the other. Parallel CI jobs on one
host append at the same moment, so the file is in WAL mode (readers never block the
writer), every append is one ``BEGIN IMMEDIATE`` transaction (the write lock is taken
up front, so two writers cannot deadlock upgrading their locks), ``busy_timeout`` makes
a writer wait its turn, and the rare ``database is locked`` past that is retried.

Timestamps are stored as UTC ISO text with microseconds, so text order is time order
and ``rows(since=…)`` is an indexed string comparison.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import random
import re
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.cost.budget import as_utc
from orchestrator.exceptions import StateError, UsageError

log = logging.getLogger(__name__)
T = TypeVar("T")

FILENAME = "ledger.db"
SCHEMA_VERSION = 1
EXPORT_FORMATS = ("csv", "json")
RESOURCES = ("cpu", "memory", "storage", "network", "runner")  # the columns of a Charge
_ATTEMPTS = 8  # appends retried this often after busy_timeout gave up
_BUSY_MS = 10_000
_GIT_TIMEOUT = 3.0
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    env TEXT NOT NULL,
    blueprint TEXT NOT NULL,
    owner TEXT,
    tier TEXT NOT NULL,
    runtime TEXT NOT NULL,
    git_commit TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status TEXT NOT NULL,
    cost_usd REAL NOT NULL,
    cost TEXT NOT NULL,
    phases TEXT NOT NULL,
    suites TEXT NOT NULL,
    failures INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);
"""
_COLUMNS = (
    "env",
    "blueprint",
    "owner",
    "tier",
    "runtime",
    "git_commit",
    "started_at",
    "finished_at",
    "status",
    "cost_usd",
    "cost",
    "phases",
    "suites",
    "failures",
)
_JSON_COLUMNS = ("cost", "phases", "suites")
_SUITE_FIELDS = ("name", "tier", "status", "exit_code", "seconds", "tests")


def default_path(state_dir: Path) -> Path:
    """Where the ledger lives: ``<state dir>/ledger.db``."""
    return state_dir / FILENAME


@dataclass(frozen=True)
class LedgerRow:
    """One finished run, as the ledger keeps it. Times are UTC ISO strings."""

    env: str
    blueprint: str
    owner: str | None
    tier: str
    runtime: str
    git_commit: str | None
    started_at: str
    finished_at: str
    status: str  # passed | failed | error
    cost_usd: float
    cost: dict[str, Any] = field(default_factory=dict)  # RunCost.to_dict()
    phases: dict[str, Any] = field(default_factory=dict)  # phase → seconds
    suites: list[dict[str, Any]] = field(default_factory=list)
    failures: int = 0  # failing tests found

    @property
    def started(self) -> datetime:
        return as_utc(datetime.fromisoformat(self.started_at))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LedgerRow:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def row_from_summary(summary: Mapping[str, Any], git_commit: str | None) -> LedgerRow:
    """The ledger row of a run from its JSON summary (``RunResult.to_dict()``).

    ``summary["cost"]`` (``RunCost.to_dict()``) is optional: a run that was not metered
    costs 0. Suites keep their verdict and counts, not their log paths (run dirs go away).
    A failed suite without a JUnit report counts as one failing test: something failed.
    """
    try:
        cost = dict(summary.get("cost") or {})
        suites = [
            {k: s.get(k) for k in _SUITE_FIELDS if k in s} for s in summary.get("suites") or []
        ]
        return LedgerRow(
            env=str(summary["env"]),
            blueprint=str(summary["blueprint"]),
            owner=summary.get("owner"),
            tier=str(summary.get("tier") or "standard"),
            runtime=str(summary["runtime"]),
            git_commit=git_commit,
            started_at=_utc_text(str(summary["started_at"])),
            finished_at=_utc_text(str(summary["finished_at"])),
            status=str(summary["status"]),
            cost_usd=float(cost.get("total_usd") or 0.0),
            cost=cost,
            phases=dict(summary.get("phases") or {}),
            suites=suites,
            failures=sum(_failures(s) for s in suites),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(
            f"cannot record the run in the ledger: its summary is incomplete ({exc!r})",
            hint="this is a bug in envctl; the run's JSON summary is in its run dir",
        ) from exc


def _failures(suite: Mapping[str, Any]) -> int:
    tests = suite.get("tests")
    if isinstance(tests, Mapping):
        return int(tests.get("failures") or 0) + int(tests.get("errors") or 0)
    return 0 if suite.get("status") == "passed" else 1


def _utc_text(text: str) -> str:
    return as_utc(datetime.fromisoformat(text)).isoformat(timespec="microseconds")


def _utc_param(when: datetime) -> str:
    return as_utc(when).isoformat(timespec="microseconds")


class Ledger:
    """The ledger file. Safe to use from many processes at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._retry(self._init)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(
                f"cannot open the run ledger {str(path)!r}: {exc}",
                hint="set ENVCTL_STATE_DIR to a writable directory",
            ) from exc

    def _init(self) -> None:
        with closing(self._connect()) as db:
            # Changing the journal mode needs a moment alone with the file; several
            # processes creating it at once get "locked" here, hence the retries.
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
            )

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
        return db

    def _retry(self, action: Callable[[], T]) -> T:
        for attempt in range(_ATTEMPTS):
            try:
                return action()
            except sqlite3.OperationalError as exc:
                text = str(exc)
                if ("locked" not in text and "busy" not in text) or attempt == _ATTEMPTS - 1:
                    raise
                delay = min(2.0, 0.05 * 2**attempt) * (0.5 + random.random())
                log.debug("ledger busy (%s); retrying in %.2fs", exc, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def append(self, row: LedgerRow) -> None:
        """Add ``row``; one transaction, so a row is there whole or not at all."""
        values = [
            json.dumps(getattr(row, c), sort_keys=True) if c in _JSON_COLUMNS else getattr(row, c)
            for c in _COLUMNS
        ]
        values[_COLUMNS.index("started_at")] = _utc_text(row.started_at)
        values[_COLUMNS.index("finished_at")] = _utc_text(row.finished_at)
        sql = f"INSERT INTO runs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"

        def insert() -> None:
            with self._write() as db:
                db.execute(sql, values)

        try:
            self._retry(insert)
        except sqlite3.Error as exc:
            raise StateError(
                f"cannot append to the run ledger {str(self.path)!r}: {exc}",
                hint="another process may hold it locked; the run's summary is in its run dir",
            ) from exc
        log.debug("ledger: recorded %s (%s, $%.6f)", row.env, row.status, row.cost_usd)

    def rows(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        blueprint: str | None = None,
    ) -> list[LedgerRow]:
        """Runs that started in ``[since, until)``, oldest first."""
        where, params = [], []
        if since is not None:
            where.append("started_at >= ?")
            params.append(_utc_param(since))
        if until is not None:
            where.append("started_at < ?")
            params.append(_utc_param(until))
        if blueprint is not None:
            where.append("blueprint = ?")
            params.append(blueprint)
        sql = f"SELECT {', '.join(_COLUMNS)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at, seq"
        try:
            with closing(self._connect()) as db:
                found = db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"cannot read the run ledger {str(self.path)!r}: {exc}") from exc
        return [
            LedgerRow(**{c: json.loads(r[c]) if c in _JSON_COLUMNS else r[c] for c in _COLUMNS})
            for r in found
        ]

    def export(self, fmt: str, since: datetime | None = None) -> str:
        """Every run since ``since`` as CSV (flat, for spreadsheets) or JSON (whole)."""
        if fmt not in EXPORT_FORMATS:
            raise UsageError(
                f"cannot export the ledger as {fmt!r}", hint=f"valid: {', '.join(EXPORT_FORMATS)}"
            )
        rows = self.rows(since=since)
        if fmt == "json":
            return json.dumps([r.to_dict() for r in rows], indent=2)
        return to_csv(rows)


CSV_COLUMNS = (
    "env",
    "blueprint",
    "owner",
    "tier",
    "runtime",
    "git_commit",
    "started_at",
    "finished_at",
    "duration_seconds",
    "status",
    "suites",
    "suites_failed",
    "failures",
    "cost_usd",
    *(f"{r}_usd" for r in RESOURCES),
)


def to_csv(rows: list[LedgerRow]) -> str:
    """One line per run with flat columns: what a finance tool imports."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        total = r.cost.get("total") or {}
        duration = (
            datetime.fromisoformat(r.finished_at) - datetime.fromisoformat(r.started_at)
        ).total_seconds()
        writer.writerow(
            {
                "env": r.env,
                "blueprint": r.blueprint,
                "owner": r.owner or "",
                "tier": r.tier,
                "runtime": r.runtime,
                "git_commit": r.git_commit or "",
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "duration_seconds": f"{duration:.3f}",
                "status": r.status,
                "suites": len(r.suites),
                "suites_failed": sum(1 for s in r.suites if s.get("status") != "passed"),
                "failures": r.failures,
                "cost_usd": repr(float(r.cost_usd)),
                **{f"{k}_usd": repr(float(total.get(f"{k}_usd") or 0.0)) for k in RESOURCES},
            }
        )
    return out.getvalue()


def git_commit(cwd: Path) -> str | None:
    """The commit checked out where the blueprint lives, or None (no repo, no git)."""
    where = cwd if cwd.is_dir() else cwd.parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.debug("no git commit for %s: %s", where, exc)
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and _COMMIT.match(commit) else None
