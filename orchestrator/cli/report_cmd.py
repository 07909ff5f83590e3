"""`envctl report` (being built)."""

from __future__ import annotations

import click


@click.command(name="report")
def report() -> None:
    """(being built)"""
    raise click.UsageError("not built yet")
