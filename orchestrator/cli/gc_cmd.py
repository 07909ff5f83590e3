"""`envctl gc`: reap what dead envctl processes and expired TTLs left behind."""

from __future__ import annotations

import sys

import click

from orchestrator.cli.common import App, output_option, pass_app


@click.command()
@click.option("--dry-run", is_flag=True, help="Only say what would be reaped.")
@output_option
@pass_app
def gc(app: App, dry_run: bool) -> None:
    """Reap environments whose envctl process died or whose ttl passed."""
    from orchestrator.reaper import collect

    reaped = collect(app.engine(), dry_run=dry_run)
    rows = [
        {
            "env": r.env,
            "reason": r.reason,
            "complete": not r.leftovers,
            "leftovers": list(r.leftovers),
        }
        for r in reaped
    ]
    verb = "would reap" if dry_run else "reaped"
    app.emit(
        {"dry_run": dry_run, "reaped": rows},
        lambda _: "\n".join(f"{verb} {r['env']}: {r['reason']}" for r in rows) or "nothing to reap",
    )
    if any(r["leftovers"] for r in rows):
        sys.exit(3)
