"""`envctl down`: tear down one environment, or all of them."""

from __future__ import annotations

import sys

import click

from orchestrator.cli.blueprint_arg import complete_env_id
from orchestrator.cli.common import App, output_option, pass_app
from orchestrator.exceptions import UsageError


@click.command()
@click.argument("env_id", required=False, shell_complete=complete_env_id)
@click.option("--all", "all_", is_flag=True, help="Every live environment.")
@output_option
@pass_app
def down(app: App, env_id: str | None, all_: bool) -> None:
    """Stop ENV_ID's services and remove everything it created."""
    if bool(env_id) == all_:
        raise UsageError("give one environment id, or --all", hint="see `envctl ls`")
    engine = app.engine()
    ids = [r.id for r in engine.state.environments()] if all_ else [env_id]
    results = []
    for one in ids:
        leftovers = engine.down(one)
        results.append({"env": one, "complete": not leftovers, "leftovers": leftovers})
    app.emit(
        results,
        lambda _: (
            "\n".join(
                f"{r['env']}: " + ("torn down" if r["complete"] else f"left {r['leftovers']}")
                for r in results
            )
            or "no live environments"
        ),
    )
    if any(not r["complete"] for r in results):
        sys.exit(3)
