"""Start a PostgreSQL server as a plain process: initdb, create the database, run.

Configured the way the official image is (``POSTGRES_USER``/``_PASSWORD``/``_DB``), and
tuned for throwaway data: no fsync, no full-page writes. PostgreSQL refuses to run as
root, so as root we run it as ``nobody`` in a directory handed over to that user.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from orchestrator.engines.postgres import credentials
from orchestrator.exceptions import ServiceError
from orchestrator.runtime.local.binaries import Binaries
from orchestrator.runtime.local.processes import RunAs

SETUP_TIMEOUT = 120

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
) -> list[str]:
    """Initialise a data directory and return the server's command line."""
    user, password, database = credentials(env)
    data = service_dir / "data"
    _hand_over(service_dir, run_as)
    initdb = [
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
    ]
    if password:
        pwfile = service_dir / ".pwfile"
        pwfile.write_text(password + "\n", encoding="utf-8")
        pwfile.chmod(0o600)
        _hand_over(pwfile, run_as)
        initdb += ["--auth-host=scram-sha-256", "--auth-local=trust", f"--pwfile={pwfile}"]
    else:
        initdb += ["--auth=trust"]
    try:
        _run(name, initdb, process_env, service_dir, run_as)
    finally:
        (service_dir / ".pwfile").unlink(missing_ok=True)
    if database not in ("postgres", "template1"):
        # Single-user mode creates the database before the server listens, so readiness
        # means "the database the blueprint asked for exists".
        quoted = '"' + database.replace('"', '""') + '"'
        _run(
            name,
            [str(bins.bindir / "postgres"), "--single", "-D", str(data), "-j", "postgres"],
            process_env,
            service_dir,
            run_as,
            stdin=f"CREATE DATABASE {quoted};\n",
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
    for key, value in EPHEMERAL_SETTINGS.items():
        argv += ["-c", f"{key}={value}"]
    return argv


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
