"""`envctl init` (being built)."""

from __future__ import annotations

import click


@click.command(name="init")
def init() -> None:
    """(being built)"""
    raise click.UsageError("not built yet")
