"""`envctl gc`: reap what dead envctl processes and expired TTLs left behind."""

from __future__ import annotations

import sys

import click

from orchestrator.cli.common import App, output_option, pass_app
from orchestrator.runtime import registry


@click.command()
@click.option("--dry-run", is_flag=True, help="Only say what would be reaped.")
@click.option(
    "--runtime",
    "-r",
    "runtimes",
    multiple=True,
    metavar="NAME",
    help="Only this runtime's environments (repeatable; default: every runtime).",
)
@output_option
@pass_app
def gc(app: App, dry_run: bool, runtimes: tuple[str, ...]) -> None:
    """Reap environments whose envctl process died or whose ttl passed."""
    from orchestrator.reaper import collect

    for name in runtimes:
        registry.check_public(name)
    reaped = collect(app.engine(), dry_run=dry_run, runtimes_wanted=runtimes or None)
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
