"""`envctl logs`: a service's output, from a live environment or a finished run."""

from __future__ import annotations

import time
from pathlib import Path

import click

from orchestrator.cli.blueprint_arg import complete_env_id, complete_service
from orchestrator.cli.common import App, output_option, pass_app
from orchestrator.exceptions import EnvironmentNotFound, UsageError


@click.command()
@click.argument("env_id", shell_complete=complete_env_id)
@click.argument("service", required=False, shell_complete=complete_service)
@click.option("--tail", "-n", type=int, default=None, help="Only the last N lines.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new output (text only).")
@output_option
@pass_app
def logs(app: App, env_id: str, service: str | None, tail: int | None, follow: bool) -> None:
    """Print the logs of ENV_ID's services (or of one SERVICE)."""
    from orchestrator.runtime import registry
    from orchestrator.secrets import load_redactions
    from orchestrator.state import StateStore

    texts: dict[str, str] = {}  # output a runtime keeps itself (Docker), not in a file
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
        for name, path in paths.items():
            text = runtime.logs_text(record, name) if path is None else None
            if text is not None:
                texts[name] = text
    names = sorted({*found, *texts})
    if service:
        if service not in names:
            raise UsageError(
                f"no logs for service {service!r}",
                hint=f"services with logs: {', '.join(names) or '(none)'}",
            )
        names = [service]

    def lines(name: str) -> list[str]:
        if name in texts:
            all_lines = texts[name].splitlines()
            return all_lines[-tail:] if tail else all_lines
        return _lines(found[name], tail)

    if app.output == "json":
        app.emit({name: lines(name) for name in names}, str)
        return
    for name in names:
        prefix = f"{name} | " if len(names) > 1 else ""
        for line in lines(name):
            click.echo(app.redactor(prefix + line))
    if follow and len(names) == 1 and names[0] in found:
        _follow(app, found[names[0]])


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
