"""`envctl import` (being built)."""

from __future__ import annotations

import click


@click.command(name="import")
def import_() -> None:
    """(being built)"""
    raise click.UsageError("not built yet")
