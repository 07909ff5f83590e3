"""`envctl status`: one environment in detail."""

from __future__ import annotations

from typing import Any

import click

from orchestrator.cli.blueprint_arg import complete_env_id
from orchestrator.cli.common import App, output_option, pass_app


@click.command()
@click.argument("env_id", shell_complete=complete_env_id)
@output_option
@pass_app
def status(app: App, env_id: str) -> None:
    """Show ENV_ID's state, services and endpoints."""
    from orchestrator.ownership import owner_alive
    from orchestrator.runtime import registry
    from orchestrator.runtime.base import Endpoint, ServiceHandle
    from orchestrator.state import StateStore

    r = StateStore(app.settings.state_db).get(env_id)
    runtime = registry.create(r.runtime, app.settings)
    services: dict[str, dict[str, Any]] = {}
    for name, details in r.services.items():
        endpoint = Endpoint(details.get("host") or "", details.get("port"))
        reason = runtime.exit_reason(ServiceHandle(name, endpoint, details))
        services[name] = {
            "host": endpoint.host or None,
            "port": endpoint.port,
            "running": reason is None,
            "exit_reason": reason,
        }
    data = {
        "env": r.id,
        "blueprint": r.blueprint,
        "blueprint_file": r.blueprint_path,
        "runtime": r.runtime,
        "status": r.status,
        "mode": r.mode,
        "owner_pid": r.owner_pid,
        "owner_host": r.owner_host,
        "owner_alive": owner_alive(r) if r.mode == "run" else None,
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "run_dir": str(r.run_dir),
        "env_file": str(r.work_dir / "endpoints.env"),
        "services": services,
    }

    def text(shown: dict[str, Any]) -> str:
        lines = [f"{r.id}  {r.status}  ({r.runtime}, blueprint {r.blueprint})"]
        for name, s in shown["services"].items():
            state = "running" if s["running"] else f"NOT RUNNING ({s['exit_reason']})"
            lines.append(f"  {name:<20} {s['host']}:{s['port']}  {state}")
        lines.append(f"endpoints as env vars: {shown['env_file']}")
        return "\n".join(lines)

    app.emit(data, text)
