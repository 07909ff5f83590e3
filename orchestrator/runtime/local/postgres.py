"""Start a PostgreSQL server as a plain process: initdb, create the database, run.

Configured the way the official image is (``POSTGRES_USER``/``_PASSWORD``/``_DB``), and
tuned for throwaway data: no fsync, no full-page writes. PostgreSQL refuses to run as
root, so as root we run it as ``nobody`` in a directory handed over to that user.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from orchestrator.engines.postgres import credentials
from orchestrator.exceptions import ServiceError
from orchestrator.runtime.local.binaries import Binaries
from orchestrator.runtime.local.processes import RunAs

log = logging.getLogger(__name__)

SETUP_TIMEOUT = 120
TEMPLATE_FORMAT = "2"  # bump when the initdb flags change
SPARE_SUFFIX = ".spare"
SPARE_STALE = 600.0  # seconds: a spare copy still partial after this was abandoned

# Settings that make a disposable database fast; durability is not wanted here.
EPHEMERAL_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def prepare(
    name: str,
    bins: Binaries,
    service_dir: Path,
    port: int,
    env: Mapping[str, str],
    process_env: Mapping[str, str],
    run_as: RunAs | None,
    cache_dir: Path | None = None,
    seeded: Path | None = None,
) -> list[str]:
    """Prepare a data directory and return the server's command line.

    ``initdb`` is most of a local PostgreSQL's start time, and its output depends only on
    the binaries, the superuser's name and the auth method. So the first environment
    keeps a copy under ``cache_dir`` and later ones clone it; the per-environment
    password and database are then set in single-user mode, before the server listens.
    ``seeded`` is a kept data directory with the data already in (``seeded_path``).
    """
    user, password, database = credentials(env)
    data = service_dir / "data"
    _hand_over(service_dir, run_as)
    template = _template(cache_dir, bins, user, bool(password), run_as) if cache_dir else None
    if seeded is not None:
        if not take_spare(seeded, data):
            _clone(name, seeded, data)
        (data / "postmaster.pid").unlink(missing_ok=True)
    elif template is not None and (template / "PG_VERSION").is_file():
        _clone(name, template, data)
    else:
        _initdb(name, bins, data, user, bool(password), process_env, run_as)
        if template is not None:
            _keep_template(data, template)
    statements = []
    if password:
        statements.append(f"ALTER ROLE {_ident(user)} PASSWORD {_literal(password)}")
    if database not in ("postgres", "template1") and seeded is None:
        statements.append(f"CREATE DATABASE {_ident(database)}")
    if statements:
        # With -j a statement ends at ";" plus an empty line; input goes over stdin, so the
        # password is never on a command line.
        _run(
            name,
            [
                str(bins.bindir / "postgres"),
                "--single",
                "-D",
                str(data),
                "-j",
                *_settings_args(),
                "postgres",
            ],
            process_env,
            service_dir,
            run_as,
            stdin="".join(f"{s};\n\n" for s in statements),
        )
    argv = [
        str(bins.bindir / "postgres"),
        "-D",
        str(data),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
        # TCP only: a socket path under a deep temp dir can pass the 107-byte limit.
        "-c",
        "unix_socket_directories=",
    ]
    return argv + _settings_args()


def _settings_args() -> list[str]:
    return [arg for key, value in EPHEMERAL_SETTINGS.items() for arg in ("-c", f"{key}={value}")]


def _initdb(
    name: str,
    bins: Binaries,
    data: Path,
    user: str,
    with_password: bool,
    process_env: Mapping[str, str],
    run_as: RunAs | None,
) -> None:
    service_dir = data.parent
    argv = [
        str(bins.bindir / "initdb"),
        "-D",
        str(data),
        "-U",
        user,
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
        # 1 MiB WAL segments instead of 16: a fresh cluster is 16 MiB smaller to clone.
        "--wal-segsize=1",
    ]
    pwfile = service_dir / ".pwfile"
    if with_password:
        # initdb wants a password to enable scram; the real one is set per environment.
        pwfile.touch(mode=0o600)
        pwfile.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
        _hand_over(pwfile, run_as)
        argv += ["--auth-host=scram-sha-256", "--auth-local=trust", f"--pwfile={pwfile}"]
    else:
        argv += ["--auth=trust"]
    try:
        _run(name, argv, process_env, service_dir, run_as)
    finally:
        pwfile.unlink(missing_ok=True)


def _template(
    cache_dir: Path, bins: Binaries, user: str, with_password: bool, run_as: RunAs | None
) -> Path:
    binary = (bins.bindir / "postgres").stat()
    key = "|".join(
        [
            TEMPLATE_FORMAT,
            str(bins.bindir),
            str(binary.st_mtime_ns),
            str(binary.st_size),
            user,
            "scram" if with_password else "trust",
            str(run_as.uid if run_as else os.geteuid()),
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir / "postgres" / digest


def seeded_path(
    cache_dir: Path, bins: Binaries, env: Mapping[str, str], run_as: RunAs | None, key: str
) -> Path:
    """Where the seeded data dir for data key ``key`` is kept, for these binaries."""
    user, password, _ = credentials(env)
    template = _template(cache_dir, bins, user, bool(password), run_as)
    return cache_dir / "seeded" / f"{key}-{template.name}"


def snapshot(
    name: str,
    bins: Binaries,
    port: int,
    env: Mapping[str, str],
    process_env: Mapping[str, str],
    run_as: RunAs | None,
    target: Path,
    manifest: str,
    keep: int = 5,
) -> bool:
    """Keep a consistent copy of the running server's data dir at ``target``.

    ``pg_basebackup`` copies it over the replication protocol while the server runs (no
    restart, no torn pages); a clone replays the backup's little WAL when it first starts
    (in the single-user step that sets its password). The password goes through
    PGPASSWORD, never the command line.
    Atomic, like templates; False (and nothing kept) when any step fails.
    """
    user, password, _ = credentials(env)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.parent / f".partial-{secrets.token_hex(4)}"
    child_env = {**process_env, **({"PGPASSWORD": password} if password else {})}
    argv = [
        str(bins.bindir / "pg_basebackup"),
        "-h", "127.0.0.1", "-p", str(port), "-U", user,
        "-D", str(partial), "-X", "stream", "--checkpoint=fast", "--no-sync", "-w",
    ]  # fmt: skip
    kept = False
    try:
        _run(name, argv, child_env, target.parent, None)
        if run_as is not None:
            subprocess.run(
                ["chown", "-R", f"{run_as.uid}:{run_as.gid}", str(partial)],
                check=True,
                capture_output=True,
            )
        (partial.parent / f"{partial.name}.json").write_text(manifest, encoding="utf-8")
        (partial.parent / f"{partial.name}.json").rename(target.parent / f"{target.name}.json")
        partial.rename(target)
        kept = True
    except (OSError, subprocess.CalledProcessError, ServiceError) as exc:
        # Another environment kept it first, no space, no pg_basebackup: next run tries.
        log.warning("%s: seeded data not kept: %s", name, getattr(exc, "message", exc))
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        (partial.parent / f"{partial.name}.json").unlink(missing_ok=True)
    try:
        _prune(target.parent, keep)
    except OSError as exc:
        log.warning("%s: could not prune the seeded data cache: %s", name, exc)
    return kept


def spare_of(kept: Path) -> Path:
    """A ready copy of a kept data dir, for the next environment to take by renaming."""
    return kept.parent / f"{kept.name}{SPARE_SUFFIX}"


def take_spare(kept: Path, data: Path) -> bool:
    """Move the spare copy into place (instant); False when there is none to take."""
    try:
        spare_of(kept).rename(data)
    except OSError:  # none, another environment took it, or another filesystem
        return False
    return True


def replenish(kept: Path, process_env: Mapping[str, str]) -> None:
    """Make the next spare copy in a detached process, after this environment is gone.

    Copying a seeded data dir takes a few hundred ms per 100 MB on filesystems without
    reflinks; done here, off every environment's critical path, a later one only renames
    it. Two at once race harmlessly: the second ``mv`` fails and cleans up."""
    if not (kept / "PG_VERSION").is_file() or spare_of(kept).exists():
        return
    for making in kept.parent.glob(f".spare-{kept.name}-*"):
        if time.time() - _mtime(making) < SPARE_STALE:
            return  # one is being made
        shutil.rmtree(making, ignore_errors=True)  # its copier was killed
    partial = kept.parent / f".spare-{kept.name}-{secrets.token_hex(4)}"
    # In the background of a shell that exits at once: the copier is init's child, not
    # envctl's, so its CPU never lands in envctl's children's rusage (the suites' figure).
    script = '(cp -a -- "$1" "$2" && mv -T -- "$2" "$3"; rm -rf -- "$2") &'
    try:
        subprocess.run(
            ["sh", "-c", script, "sh", str(kept), str(partial), str(spare_of(kept))],
            env=dict(process_env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("no spare copy of %s: %s", kept.name, exc)


def _mtime(path: Path) -> float:
    """0 for an entry another environment just removed (prunes and copiers race)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _prune(directory: Path, keep: int) -> None:
    """Keep the ``keep`` most recently used seeded data dirs (clones touch theirs)."""
    kept = sorted(
        (
            p
            for p in directory.iterdir()
            if p.is_dir() and not p.name.startswith(".") and not p.name.endswith(SPARE_SUFFIX)
        ),
        key=_mtime,
        reverse=True,
    )
    for old in kept[keep:]:
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(spare_of(old), ignore_errors=True)
        (directory / f"{old.name}.json").unlink(missing_ok=True)


def _clone(name: str, template: Path, data: Path) -> None:
    # cp keeps owners and modes (PostgreSQL insists on a 0700 data dir it owns) and
    # shares blocks where the filesystem can.
    done = subprocess.run(
        ["cp", "-a", "--reflink=auto", str(template), str(data)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise ServiceError(name, f"cannot copy the cached data dir: {done.stderr.decode()}")


def _keep_template(data: Path, template: Path) -> None:
    """Copy a fresh data dir into the cache; atomic, so racing environments are fine."""
    template.parent.mkdir(parents=True, exist_ok=True)
    partial = template.parent / f".partial-{secrets.token_hex(4)}"
    try:
        subprocess.run(["cp", "-a", str(data), str(partial)], check=True, capture_output=True)
        partial.rename(template)
    except (OSError, subprocess.CalledProcessError):
        pass  # another environment stored it first, or no space: next run tries again
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _hand_over(path: Path, run_as: RunAs | None) -> None:
    if run_as is not None:
        os.chown(path, run_as.uid, run_as.gid)


def _run(
    name: str,
    argv: list[str],
    env: Mapping[str, str],
    cwd: Path,
    run_as: RunAs | None,
    stdin: str | None = None,
) -> None:
    """Run a setup step in its own process group: initdb forks `postgres --boot`, and
    an interrupted or stuck step must not leave that child behind."""
    try:
        proc = subprocess.Popen(
            argv,
            env=dict(env),
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
        raise ServiceError(name, f"{Path(argv[0]).name} failed: {exc}") from exc
    try:
        output, _ = proc.communicate(stdin.encode() if stdin else None, timeout=SETUP_TIMEOUT)
    except BaseException as exc:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise ServiceError(
                name, f"{Path(argv[0]).name} did not finish in {SETUP_TIMEOUT}s"
            ) from None
        raise
    if proc.returncode != 0:
        raise ServiceError(
            name,
            f"{Path(argv[0]).name} exited with code {proc.returncode}",
            log_tail="\n".join(output.decode("utf-8", errors="replace").strip().splitlines()[-20:]),
        )
