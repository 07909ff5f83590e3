"""Fill PostgreSQL tables fast: keys and indexes off, binary COPY, keys back, ANALYZE.

PostgreSQL's own advice for bulk loads (and what pg_restore does): load into bare tables,
then build indexes and check foreign keys once over the whole data, far cheaper than
row by row. Each table is truncated and loaded in one transaction with ``COPY … FREEZE``
so its rows are written already frozen (no second pass to set hint bits or vacuum).
Tables load in parallel on their own connections, each with a producer thread making the
next batch while the current one is sent: numpy and libpq both release the GIL.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from orchestrator.exceptions import first_line
from orchestrator.seed import pgcopy, pgtypes
from orchestrator.seed.errors import SeedError
from orchestrator.seed.generators import SpecError
from orchestrator.seed.introspect import Constraint, Index
from orchestrator.seed.stats import TargetStats
from orchestrator.seed.tables import TablePlan

log = logging.getLogger(__name__)

BATCH_BYTES = 2 << 20  # per COPY batch: bounds memory whatever the row count
SPLIT_ROWS = 250_000  # tables this large load over every worker's connection at once
PROGRESS_EVERY = 2.0
LOAD_SETTINGS = (
    "SET maintenance_work_mem = '512MB'",
    "SET max_parallel_maintenance_workers = 2",
    "SET synchronous_commit = off",
)


@dataclass
class Progress:
    """Rows sent so far per table, shared by the loader threads."""

    total: int
    done: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, table: str, rows: int) -> None:
        with self.lock:
            self.done[table] = self.done.get(table, 0) + rows

    @property
    def rows(self) -> int:
        with self.lock:
            return sum(self.done.values())


class _Stop:
    """Stops a load: no more batches, and every statement still running is cancelled, so
    Ctrl-C does not wait for an index build on a big table before the teardown."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._event = threading.Event()
        self._open: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()

    def connect(self) -> Any:
        conn = self._connect()
        with self._lock:
            self._open.add(conn)
        if self._event.is_set():
            conn.cancel()
        return conn

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()
        with self._lock:
            running = list(self._open)
        for conn in running:
            with contextlib.suppress(Exception):  # closed already, or the server is gone
                conn.cancel()


@dataclass(frozen=True)
class LoadResult:
    targets: list[TargetStats]
    phases: dict[str, float]


def load(
    connect: Callable[[], Any],
    plans: Sequence[TablePlan],
    service: str,
    *,
    workers: int = 2,
    batch_rows: int | None = None,
    say: Callable[[str], None] | None = None,
) -> LoadResult:
    """Load every planned table; raise ``SeedError`` (at the table's spec) on failure."""
    phases: dict[str, float] = {}
    stop = _Stop(connect)
    connect = stop.connect
    with connect() as conn:
        constraints, indexes = _keys_of(plans)
        t = time.monotonic()
        _drop(conn, constraints, indexes)
        phases["drop_keys"] = time.monotonic() - t

    progress = Progress(sum(p.rows for p in plans))
    spans: dict[str, list[float]] = {}
    parts, split = _parts(plans, workers)
    if split:
        with connect() as conn, conn.transaction():
            for table in plans:
                if table.name in split:
                    conn.execute(f"TRUNCATE {table.info.qualified}")

    def load_part(part: _Part) -> None:
        started = time.monotonic()
        _copy_part(connect, part, service, progress, stop, batch_rows)
        span = spans.setdefault(part.table.name, [started, started])
        span[0], span[1] = min(span[0], started), max(span[1], time.monotonic())

    t = time.monotonic()
    _parallel(
        [functools.partial(load_part, part) for part in parts],
        workers,
        stop,
        lambda: _report(say, progress, t),
    )
    phases["load"] = time.monotonic() - t
    seconds = {name: end - start for name, (start, end) in spans.items()}

    by_table = {p.name: p for p in plans}
    t = time.monotonic()
    statements = [(c.table, _add(c)) for c in constraints if c.kind in "pu"]
    statements += [(i.table, i.definition) for i in indexes]
    _run_all(connect, statements, by_table, service, workers, stop)
    phases["index"] = time.monotonic() - t
    t = time.monotonic()
    _run_all(
        connect,
        [(c.table, _add(c)) for c in constraints if c.kind == "f"],
        by_table,
        service,
        workers,
        stop,
    )
    phases["foreign_keys"] = time.monotonic() - t

    t = time.monotonic()
    with connect() as conn:
        for table in plans:
            _advance_sequences(conn, table)
    # A table loaded over several connections could not be loaded frozen: freeze it now,
    # in the same pass as ANALYZE, so the suites' first reads do not rewrite every page.
    _run_all(
        connect,
        [
            (
                p.name,
                f"{'VACUUM (FREEZE, ANALYZE)' if p.name in split else 'ANALYZE'} "
                f"{p.info.qualified}",
            )
            for p in plans
        ],
        by_table,
        service,
        workers,
        stop,
    )
    phases["analyze"] = time.monotonic() - t
    with connect() as conn:
        sizes = {
            p.name: int(
                conn.execute(
                    "SELECT pg_total_relation_size(%s::regclass)", (p.info.qualified,)
                ).fetchone()[0]
            )
            for p in plans
        }
    targets = [
        TargetStats(p.name, "table", p.rows, sizes[p.name], round(seconds.get(p.name, 0.0), 3))
        for p in plans
    ]
    return LoadResult(targets, phases)


# -- keys and indexes -----------------------------------------------------------------------


def _keys_of(plans: Sequence[TablePlan]) -> tuple[list[Constraint], list[Index]]:
    """Primary/unique keys and indexes of the seeded tables, and every foreign key that
    starts or ends at one (a table that is not seeded may point at one that is)."""
    seen: dict[tuple[str, str], Constraint] = {}
    for table in plans:
        for con in table.info.constraints:
            ends_here = con.kind == "f"
            if con.kind in "pu" or ends_here:
                seen.setdefault((con.table, con.name), con)
    indexes = [i for p in plans for i in p.info.indexes]
    return list(seen.values()), indexes


def _qualified(table: str) -> str:
    # pg_constraint's conrelid::regclass text is already quoted where needed.
    return table


def _add(con: Constraint) -> str:
    return f'ALTER TABLE {_qualified(con.table)} ADD CONSTRAINT "{con.name}" {con.definition}'


def _drop(conn: Any, constraints: list[Constraint], indexes: list[Index]) -> None:
    with conn.transaction():
        for con in sorted(constraints, key=lambda c: c.kind != "f"):  # foreign keys first
            conn.execute(f'ALTER TABLE {_qualified(con.table)} DROP CONSTRAINT "{con.name}"')
        for index in indexes:
            conn.execute(f"DROP INDEX {index.name}")


def _advance_sequences(conn: Any, table: TablePlan) -> None:
    for column in table.columns:
        if column.sequence_backed and table.rows:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, %s), "
                f'(SELECT max("{column.name}") FROM {table.info.qualified}))',
                (table.info.qualified, column.name),
            )


# -- COPY -------------------------------------------------------------------------------------


def _batch_rows(table: TablePlan, requested: int | None) -> int:
    if requested:
        return requested
    sample = np.arange(min(256, max(table.rows, 1)), dtype=np.uint64)
    width = max(1, len(_encode(table, sample)) // max(len(sample), 1))
    return int(min(max(BATCH_BYTES // width, 1024), 1 << 17))


def _encode(table: TablePlan, rows: np.ndarray[Any, np.dtype[np.uint64]]) -> bytes:
    fields = []
    for column in table.columns:
        values = column.generator(rows)
        fields.append((pgtypes.encode(values, column.type), values.nulls))
    return pgcopy.rows(fields)


def _batches(part: _Part, size: int, stop: _Stop) -> Iterator[tuple[int, bytes]]:
    for start in range(part.start, part.stop, size):
        if stop.is_set():
            return
        rows = np.arange(start, min(start + size, part.stop), dtype=np.uint64)
        yield len(rows), _encode(part.table, rows)


def _prefetched(source: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    """Run ``source`` in a thread two batches ahead of the consumer."""
    pipe: queue.Queue[tuple[int, bytes] | BaseException | None] = queue.Queue(maxsize=2)

    def produce() -> None:
        try:
            for item in source:
                pipe.put(item)
        except BaseException as exc:
            pipe.put(exc)
            return
        pipe.put(None)

    thread = threading.Thread(target=produce, name="seed-producer", daemon=True)
    thread.start()
    while True:
        item = pipe.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


@dataclass(frozen=True)
class _Part:
    """Rows [start, stop) of a table, loaded on one connection."""

    table: TablePlan
    start: int
    stop: int
    whole: bool  # the whole table: truncated and loaded frozen in one transaction


def _parts(plans: Sequence[TablePlan], workers: int) -> tuple[list[_Part], set[str]]:
    """Large tables in one part per worker, so the server parses on every core (one
    COPY is one backend, one core); others whole. Largest first, so none is last alone."""
    parts, split = [], set()
    for table in sorted(plans, key=lambda p: -p.rows):
        count = workers if workers > 1 and table.rows >= SPLIT_ROWS else 1
        if count == 1:
            parts.append(_Part(table, 0, table.rows, True))
            continue
        split.add(table.name)
        bounds = [table.rows * i // count for i in range(count + 1)]
        parts += [_Part(table, a, b, False) for a, b in itertools.pairwise(bounds)]
    return parts, split


def _copy_part(
    connect: Callable[[], Any],
    part: _Part,
    service: str,
    progress: Progress,
    stop: _Stop,
    batch_rows: int | None,
) -> None:
    import psycopg

    table = part.table
    names = ", ".join(f'"{c.name}"' for c in table.columns)
    try:
        size = _batch_rows(table, batch_rows)
        with connect() as conn, conn.transaction(), conn.cursor() as cur:
            if part.whole:
                conn.execute(f"TRUNCATE {table.info.qualified}")
            if not table.columns:
                if part.stop > part.start:
                    cur.execute(
                        f"INSERT INTO {table.info.qualified} "
                        f"SELECT FROM generate_series(1, {part.stop - part.start})"
                    )
                return
            # FREEZE: rows written frozen, valid only right after TRUNCATE in this transaction.
            options = "FORMAT BINARY, FREEZE" if part.whole else "FORMAT BINARY"
            with cur.copy(f"COPY {table.info.qualified} ({names}) FROM STDIN ({options})") as copy:
                copy.write(pgcopy.HEADER)
                for count, chunk in _prefetched(_batches(part, size, stop)):
                    copy.write(chunk)
                    progress.add(table.name, count)
                copy.write(pgcopy.TRAILER)
    except SpecError as exc:
        raise SeedError(service, f"table {table.name!r}: {exc}", location=table.location) from None
    except psycopg.Error as exc:
        raise _failed(service, table, "loading", exc) from None


def _failed(service: str, table: TablePlan, what: str, exc: Exception) -> SeedError:
    first = first_line(exc)
    hint = "describe the column in the table's `columns` so its values satisfy the schema"
    if "duplicate key" in first or "unique" in first:
        hint = "give the column `unique: true` (or a sequence) so its values do not repeat"
    elif "foreign key" in first:
        hint = "use `ref: table.column` for the column, so it points at rows that exist"
    return SeedError(
        service, f"{what} table {table.name!r} failed: {first}", location=table.location, hint=hint
    )


# -- running statements in parallel ---------------------------------------------------------


def _run_all(
    connect: Callable[[], Any],
    statements: list[tuple[str, str]],
    plans: dict[str, TablePlan],
    service: str,
    workers: int,
    stop: _Stop,
) -> None:
    import psycopg

    def run(table: str, sql: str) -> None:
        try:
            with connect() as conn:
                for setting in LOAD_SETTINGS:
                    conn.execute(setting)
                if stop.is_set():  # stopped while this one waited for a connection
                    return
                conn.execute(sql)
        except psycopg.Error as exc:
            plan = plans.get(table) or plans.get(table.rsplit(".", 1)[-1].strip('"'))
            if plan is None:
                raise SeedError(service, f"{sql.split(' ADD ', 1)[0]} failed: {exc}") from None
            raise _failed(service, plan, "finishing", exc) from None

    _parallel([functools.partial(run, t, s) for t, s in statements], workers, stop, None)


def _parallel(
    tasks: list[Callable[[], None]],
    workers: int,
    stop: _Stop,
    tick: Callable[[], None] | None,
) -> None:
    """Run ``tasks`` on ``workers`` threads; the first failure stops the rest."""
    if not tasks:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(tasks)))) as pool:
        futures: list[Future[None]] = [pool.submit(task) for task in tasks]
        try:
            _wait_all(futures, tick)
        except BaseException:
            _stop(stop, futures)
            raise


def _wait_all(futures: list[Future[None]], tick: Callable[[], None] | None) -> None:
    while True:
        done, pending = wait(futures, timeout=PROGRESS_EVERY, return_when=FIRST_EXCEPTION)
        error = next((f.exception() for f in done if f.exception()), None)
        if error is not None:
            raise error
        if not pending:
            return
        if tick is not None:
            tick()


def _stop(stop: _Stop, futures: list[Future[None]]) -> None:
    stop.set()
    for f in futures:
        f.cancel()


def _report(say: Callable[[str], None] | None, progress: Progress, started: float) -> None:
    if say is None:
        return
    done, elapsed = progress.rows, time.monotonic() - started
    rate = done / elapsed if elapsed > 0 else 0.0
    say(f"{done:,}/{progress.total:,} rows ({rate:,.0f} rows/s)")
