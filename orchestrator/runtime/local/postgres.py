"""Start a PostgreSQL server as a plain process: initdb, create the database, run.

Configured the way the official image is (``POSTGRES_USER``/``_PASSWORD``/``_DB``), and
tuned for throwaway data: no fsync, no full-page writes. PostgreSQL refuses to run as
root, so as root we run it as ``nobody`` in a directory handed over to that user.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from orchestrator.engines.postgres import credentials
from orchestrator.exceptions import ServiceError
from orchestrator.runtime.local.binaries import Binaries
from orchestrator.runtime.local.processes import RunAs

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
        "-c",
        f"unix_socket_directories={service_dir}",
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
    try:
        done = subprocess.run(
            argv,
            env=dict(env),
            cwd=cwd,
            input=stdin.encode() if stdin else None,
            stdin=None if stdin else subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
            check=False,
            user=run_as.uid if run_as else None,
            group=run_as.gid if run_as else None,
            extra_groups=[] if run_as else None,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(name, f"{Path(argv[0]).name} failed: {exc}") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode("utf-8", errors="replace")
        raise ServiceError(
            name,
            f"{Path(argv[0]).name} exited with code {done.returncode}",
            log_tail="\n".join(output.strip().splitlines()[-20:]),
        )
