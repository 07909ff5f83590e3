"""`envctl ls`: live environments."""

from __future__ import annotations

import time
from typing import Any

import click

from orchestrator.cli.common import App, age, output_option, pass_app


@click.command()
@output_option
@pass_app
def ls(app: App) -> None:
    """List live environments."""
    from orchestrator.ownership import owner_alive
    from orchestrator.state import StateStore

    now = time.time()
    rows: list[dict[str, Any]] = []
    for r in StateStore(app.settings.state_db).environments():
        rows.append(
            {
                "env": r.id,
                "blueprint": r.blueprint,
                "runtime": r.runtime,
                "status": r.status,
                "mode": r.mode,
                "owner_pid": r.owner_pid,
                "owner_alive": owner_alive(r) if r.mode == "run" else None,
                "age_seconds": round(now - r.created_at, 1),
                "expires_at": r.expires_at,
                "services": sorted(r.services),
            }
        )

    def text(_: Any) -> str:
        if not rows:
            return "no live environments"
        out = [
            f"{'ENV':<28} {'BLUEPRINT':<16} {'RUNTIME':<8} {'STATUS':<16} {'AGE':>8}  EXPIRES IN"
        ]
        for row in rows:
            status = row["status"] + (" (orphaned)" if row["owner_alive"] is False else "")
            out.append(
                f"{row['env']:<28} {row['blueprint']:<16} {row['runtime']:<8} {status:<16} "
                f"{age(row['age_seconds']):>8}  {age(row['expires_at'] - now)}"
            )
        return "\n".join(out)

    app.emit(rows, text)
