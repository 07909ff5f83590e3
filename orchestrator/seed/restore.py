"""Restore a prepared production sample into PostgreSQL, then strip its PII.

A sample dump carries production's real shapes — skew, odd values, the rows that broke
last quarter — which generated data cannot. ``psql`` (plain SQL) or ``pg_restore``
(``pg_dump -Fc``, ``-Fd``, ``-Ft``) loads it, because only they understand every dump;
``transforms.py`` then rewrites the listed columns in one transaction, and the tables
are analysed so that the suites run against real plans.

The password never reaches a command line (where ``ps`` shows it) nor a message: the
tools get it through ``PGPASSWORD`` and a conninfo without it, and their output is
redacted before it is logged or raised.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from orchestrator.exceptions import RuntimeUnavailable
from orchestrator.seed.errors import SeedError
from orchestrator.seed.stats import TargetStats

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

log = logging.getLogger(__name__)

RESTORE_TIMEOUT = 30 * 60.0  # seconds for psql / pg_restore
MAGIC = b"PGDMP"  # pg_dump's custom format
_JOBS = "2"  # pg_restore workers: data and indexes of two tables at once
_ERROR = re.compile(r"\b(ERROR|FATAL|PANIC):|\berror:")


def restore(
    url: str,
    dump: Path,
    transforms: Mapping[str, str],
    seed: int,
    *,
    service: str = "db",
    bindir: Path | None = None,
) -> list[TargetStats]:
    """Load ``dump`` into the database at ``url``, apply ``transforms`` ('table.column'
    → hash | null | fake:<kind>) under ``seed``, and ANALYZE the tables.

    Raises ``SeedError`` for a missing file or tool, a failing restore (with the tool's
    first error line) and a transform the restored schema cannot take.
    """
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from orchestrator.seed import transforms as pii

    started = time.perf_counter()
    pii.check(transforms, service)
    archive = _archive_kind(dump, service)
    tools = _bindir(bindir, service)
    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    secrets = [str(password)] if password else []
    secrets += [quote(s, safe="") for s in secrets if quote(s, safe="") != s]
    target = f"{params.get('host', '')}:{params.get('port', '')}/{params.get('dbname', '')}"

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            rows_before, bytes_before = _measure(conn)
    except psycopg.Error as exc:
        raise SeedError(
            service,
            f"cannot connect to {target} to restore {dump.name}: {_first(str(exc), secrets)}",
            hint="is the service ready, and the URL's user and database right?",
        ) from None

    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if password:
        env["PGPASSWORD"] = str(password)
    conninfo = make_conninfo("", **params)
    if archive == "plain":
        tool = tools / "psql"
        argv = [str(tool), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(dump), "-d", conninfo]
    else:
        tool = tools / "pg_restore"
        jobs = ["-j", _JOBS] if archive in ("custom", "directory") else []
        argv = [str(tool), "--no-owner", "--no-privileges", "--exit-on-error", *jobs]
        argv += ["-d", conninfo, str(dump)]
    log.info("restoring %s (%s format) into %s", dump.name, archive, target)
    _run(argv, env, dump, service, secrets)
    loaded = time.perf_counter()

    try:
        with psycopg.connect(url, autocommit=True) as conn:
            pii.apply(conn, transforms, seed, service=service)
            tables = _tables(conn, analyze=True)
            if tables:
                conn.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(tables)))
            rows_after, bytes_after = _measure(conn)
    except psycopg.Error as exc:
        raise SeedError(
            service,
            f"after restoring {dump.name}: {_first(str(exc), secrets)}",
            hint="the dump loaded; the transforms or ANALYZE failed",
        ) from None

    seconds = time.perf_counter() - started
    log.info(
        "restored %s: %d rows in %.2fs (load %.2fs, transforms and analyze %.2fs)",
        dump.name,
        rows_after - rows_before,
        seconds,
        loaded - started,
        seconds - (loaded - started),
    )
    return [
        TargetStats(
            name=f"restore {dump.name}",
            kind="restore",
            rows=rows_after - rows_before,
            bytes=bytes_after - bytes_before,
            seconds=seconds,
        )
    ]


def _archive_kind(dump: Path, service: str) -> str:
    """plain, custom, directory or tar: by content, since file names lie."""
    if dump.is_dir():
        if (dump / "toc.dat").is_file():
            return "directory"
        raise SeedError(
            service,
            f"dump {str(dump)!r} is a directory without toc.dat",
            hint="give a plain SQL dump or a pg_dump -Fc file",
        )
    try:
        with dump.open("rb") as f:
            head = f.read(512)
    except OSError as exc:
        raise SeedError(
            service,
            f"cannot read dump {str(dump)!r}: {exc.strerror or exc}",
            hint="the restore file is blueprint-relative; check the path",
        ) from None
    if head.startswith(MAGIC):
        return "custom"
    if head[257:262] == b"ustar":
        return "tar"
    if head.startswith(b"\x1f\x8b"):
        raise SeedError(
            service,
            f"dump {dump.name} is gzip-compressed",
            hint=f"decompress it (gunzip {dump.name}), or dump with pg_dump -Fc, "
            "which compresses by itself",
        )
    return "plain"


def _bindir(bindir: Path | None, service: str) -> Path:
    if bindir is None:
        from orchestrator.runtime.local import binaries

        try:
            bindir = binaries.postgres("auto").bindir
        except RuntimeUnavailable as exc:
            raise SeedError(service, f"cannot restore: {exc.message}", hint=exc.hint) from exc
    for tool in ("psql", "pg_restore"):
        if not (bindir / tool).is_file():
            raise SeedError(
                service,
                f"no {tool} in {str(bindir)!r}",
                hint="install Debian's `postgresql-client` (or `postgresql`) package, or "
                "`pip install 'envctl[local]'` for the pgserver wheel",
            )
    return bindir


def _run(
    argv: list[str], env: Mapping[str, str], dump: Path, service: str, secrets: list[str]
) -> None:
    """Run psql or pg_restore in its own process group (pg_restore -j forks workers),
    killed on every way out; its output goes to a file, so a chatty dump cannot fill
    a pipe or the memory."""
    name = Path(argv[0]).name
    with tempfile.TemporaryFile() as output:
        try:
            proc = subprocess.Popen(
                argv,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # psql prints the dump's SELECTs (set_config …)
                stderr=output,
                start_new_session=True,
            )
        except OSError as exc:
            raise SeedError(service, f"cannot run {name}: {exc}") from None
        try:
            code = proc.wait(timeout=RESTORE_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise SeedError(
                service,
                f"{name} did not restore {dump.name} within {RESTORE_TIMEOUT / 60:.0f} min",
                hint="restore a smaller sample, or seed generated tables instead",
            ) from None
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        output.seek(0)
        text = output.read().decode("utf-8", errors="replace")
    if code != 0:
        log.debug("%s output:\n%s", name, _redact(text, secrets)[-4000:])
        line = _first(text, secrets) or f"exit code {code}"
        raise SeedError(
            service, f"{name} failed to restore {dump.name}: {line}", hint=_hint(line, dump)
        )
    if text.strip():
        log.debug("%s output:\n%s", name, _redact(text, secrets)[-4000:])


def _hint(line: str, dump: Path) -> str:
    if re.search(r'role "[^"]*" does not exist', line):
        return (
            "the dump names roles this database lacks: make it with "
            "pg_dump --no-owner --no-privileges, or as -Fc (restored without owners)"
        )
    if "already exists" in line:
        return "restore into an empty database: drop the schema file, or dump data only (-a)"
    return f"fix {dump.name} at the error above, or dump it again with pg_dump -Fp or -Fc"


def _first(text: str, secrets: list[str]) -> str:
    """The first error line of a tool's (or the server's) output, else its last line."""
    lines = [line.strip() for line in _redact(text, secrets).splitlines() if line.strip()]
    return next((line for line in lines if _ERROR.search(line)), lines[-1] if lines else "")


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _tables(conn: psycopg.Connection[Any], *, analyze: bool = False) -> list[sql.Identifier]:
    """The user tables holding rows (partitions, not their parents); to analyze, the
    top-level tables instead (ANALYZE of a partitioned table covers its partitions)."""
    from psycopg import sql

    which = "c.relkind IN ('r', 'p') AND NOT c.relispartition" if analyze else "c.relkind = 'r'"
    rows = conn.execute(
        sql.SQL(
            """
            SELECT n.nspname, c.relname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE {} AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
            ORDER BY 1, 2
            """
        ).format(sql.SQL(which))
    ).fetchall()
    return [sql.Identifier(schema, name) for schema, name in rows]


def _measure(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """Rows in all user tables (exact) and the database's size in bytes."""
    from psycopg import sql

    rows = 0
    for table in _tables(conn):
        found = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
        rows += int(found[0]) if found else 0
    size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return rows, int(size[0]) if size else 0
