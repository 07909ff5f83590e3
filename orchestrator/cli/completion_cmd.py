"""`envctl completion` (being built)."""

from __future__ import annotations

import click


@click.command(name="completion")
def completion() -> None:
    """(being built)"""
    raise click.UsageError("not built yet")
