"""`envctl logs`: a service's output, from a live environment or a finished run."""

from __future__ import annotations

import time
from pathlib import Path

import click

from orchestrator.cli.common import App, pass_app
from orchestrator.exceptions import EnvironmentNotFound, UsageError


@click.command()
@click.argument("env_id")
@click.argument("service", required=False)
@click.option("--tail", "-n", type=int, default=None, help="Only the last N lines.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new output.")
@pass_app
def logs(app: App, env_id: str, service: str | None, tail: int | None, follow: bool) -> None:
    """Print the logs of ENV_ID's services (or of one SERVICE)."""
    from orchestrator.state import StateStore

    try:
        record = StateStore(app.settings.state_db).get(env_id)
        log_dir = record.work_dir / "logs"
        _load_redactions(app, record.work_dir)
    except EnvironmentNotFound:
        log_dir = app.settings.runs_dir / env_id / "logs"  # a finished run keeps its logs
        if not log_dir.is_dir():
            raise
    files = sorted(log_dir.glob("*.log"))
    if service:
        files = [f for f in files if f.stem == service]
        if not files:
            names = ", ".join(sorted(p.stem for p in log_dir.glob("*.log")))
            raise UsageError(f"no logs for service {service!r}", hint=f"services: {names}")
    for path in files:
        _print(app, path, tail, prefix=f"{path.stem} | " if len(files) > 1 else "")
    if follow and len(files) == 1:
        _follow(app, files[0])


def _print(app: App, path: Path, tail: int | None, prefix: str) -> None:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for line in lines[-tail:] if tail else lines:
        click.echo(app.redactor(prefix + line))


def _follow(app: App, path: Path) -> None:
    with path.open(encoding="utf-8", errors="replace") as fh:
        fh.seek(0, 2)
        while path.exists():
            line = fh.readline()
            if line:
                click.echo(app.redactor(line.rstrip("\n")))
            else:
                time.sleep(0.2)


def _load_redactions(app: App, work_dir: Path) -> None:
    from orchestrator.secrets import load_redactions

    load_redactions(app.redactor, work_dir)
