"""`envctl status`: one environment in detail."""

from __future__ import annotations

from typing import Any

import click

from orchestrator.cli.common import App, output_option, pass_app


@click.command()
@click.argument("env_id")
@output_option
@pass_app
def status(app: App, env_id: str) -> None:
    """Show ENV_ID's state, services and endpoints."""
    from orchestrator.engine import owner_alive
    from orchestrator.runtime.local.processes import is_same_process
    from orchestrator.state import StateStore

    r = StateStore(app.settings.state_db).get(env_id)
    services: dict[str, dict[str, Any]] = {}
    for name, details in r.services.items():
        pid = details.get("pid")
        running: bool | None = is_same_process(pid, details.get("started")) if pid else None
        services[name] = {
            "host": "127.0.0.1" if details.get("port") else None,
            "port": details.get("port"),
            "pid": pid,
            "running": running,
            "log": details.get("log"),
        }
    data = {
        "env": r.id,
        "blueprint": r.blueprint,
        "blueprint_file": r.blueprint_path,
        "runtime": r.runtime,
        "status": r.status,
        "mode": r.mode,
        "owner_pid": r.owner_pid,
        "owner_alive": owner_alive(r) if r.mode == "run" else None,
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "run_dir": str(r.run_dir),
        "env_file": str(r.work_dir / "endpoints.env"),
        "services": services,
    }

    def text(_: Any) -> str:
        lines = [f"{r.id}  {r.status}  ({r.runtime}, blueprint {r.blueprint})"]
        for name, s in services.items():
            state = {True: "running", False: "NOT RUNNING", None: "-"}[s["running"]]
            lines.append(f"  {name:<20} {s['host']}:{s['port']}  {state}")
        lines.append(f"endpoints as env vars: {data['env_file']}")
        return "\n".join(lines)

    app.emit(data, text)
