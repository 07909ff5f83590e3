"""`envctl up`: start an environment and leave it running for a developer."""

from __future__ import annotations

from typing import Any

import click

from orchestrator.cli import blueprint_arg
from orchestrator.cli.common import App, output_option, pass_app, secrets_file_option
from orchestrator.runtime import registry


@click.command()
@click.argument("blueprint", shell_complete=blueprint_arg.complete_blueprint)
@click.option("--runtime", "-r", default="local", show_default=True, help="Where to run.")
@click.option(
    "--wait",
    is_flag=True,
    help="Stay in the foreground; Ctrl-C (or `envctl down`) tears the environment down. "
    "Without it, envctl returns once all is ready and the environment lives until "
    "`envctl down` or its ttl.",
)
@secrets_file_option
@output_option
@pass_app
def up(app: App, blueprint: str, runtime: str, wait: bool) -> None:
    """Start BLUEPRINT's services, print their endpoints."""
    from orchestrator.report.text import endpoints

    registry.check_public(runtime)
    loaded = blueprint_arg.load(blueprint)

    def ready(session: Any) -> None:
        services = {n: s.to_dict() for n, s in session.services.items()}
        data = {
            "env": session.env_id,
            "blueprint": loaded.name,
            "runtime": session.runtime.name,
            "status": "ready",
            "services": services,
            "env_file": str(session.env_file),
            "phases": {k: round(v, 3) for k, v in session.phases.items()},
            "seeding": session.redactor.redact_data(session.seeding),
            "warnings": session.warnings,
        }
        app.emit(data, endpoints)
        if wait:
            app.say("holding the environment; Ctrl-C tears it down")

    app.engine().up(loaded, runtime, hold=wait, on_ready=ready)
