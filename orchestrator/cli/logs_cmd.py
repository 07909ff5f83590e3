"""`envctl logs`: a service's output, from a live environment or a finished run."""

from __future__ import annotations

import time
from pathlib import Path

import click

from orchestrator.cli.common import App, output_option, pass_app
from orchestrator.exceptions import EnvironmentNotFound, UsageError


@click.command()
@click.argument("env_id")
@click.argument("service", required=False)
@click.option("--tail", "-n", type=int, default=None, help="Only the last N lines.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new output (text only).")
@output_option
@pass_app
def logs(app: App, env_id: str, service: str | None, tail: int | None, follow: bool) -> None:
    """Print the logs of ENV_ID's services (or of one SERVICE)."""
    from orchestrator.runtime import registry
    from orchestrator.secrets import load_redactions
    from orchestrator.state import StateStore

    try:
        record = StateStore(app.settings.state_db).get(env_id)
    except EnvironmentNotFound:
        kept = app.settings.runs_dir / env_id / "logs"  # a finished run keeps its logs
        if not kept.is_dir():
            raise
        found = {p.stem: p for p in kept.glob("*.log")}
    else:
        load_redactions(app.redactor, record.work_dir)
        runtime = registry.create(record.runtime, app.settings)
        paths = {name: runtime.log_path(record, name) for name in record.services}
        found = {name: p for name, p in paths.items() if p is not None and p.exists()}
    if service:
        if service not in found:
            raise UsageError(
                f"no logs for service {service!r}",
                hint=f"services with logs: {', '.join(sorted(found)) or '(none)'}",
            )
        found = {service: found[service]}
    files = [found[name] for name in sorted(found)]
    if app.output == "json":
        app.emit({name: _lines(found[name], tail) for name in sorted(found)}, str)
        return
    for name, path in sorted(found.items()):
        prefix = f"{name} | " if len(files) > 1 else ""
        for line in _lines(path, tail):
            click.echo(app.redactor(prefix + line))
    if follow and len(files) == 1:
        _follow(app, files[0])


def _lines(path: Path, tail: int | None) -> list[str]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines[-tail:] if tail else lines


def _follow(app: App, path: Path) -> None:
    with path.open(encoding="utf-8", errors="replace") as fh:
        fh.seek(0, 2)
        while path.exists():
            line = fh.readline()
            if line:
                click.echo(app.redactor(line.rstrip("\n")))
            else:
                time.sleep(0.2)
