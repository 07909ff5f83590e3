"""What every command shares: settings, the redactor, output format, progress lines."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from orchestrator.progress import Progress
from orchestrator.secrets import RedactingFilter, Redactor
from orchestrator.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class App:
    """Built once in the group callback, handed to commands via click's context."""

    verbose: int = 0
    quiet: bool = False
    output: str = "text"
    redactor: Redactor = field(default_factory=Redactor)
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_environ()
        return self._settings

    def engine(self) -> Any:
        from orchestrator.engine import Engine

        return Engine(self.settings, self.redactor, LineProgress(self))

    def emit(self, data: Any, text: Callable[[Any], str]) -> None:
        """Print the command's result: JSON on stdout, or ``text`` of it.

        Both see the data already redacted, so text layouts are measured on what is shown.
        """
        shown = self.redactor.redact_data(data)
        if self.output == "json":
            click.echo(json.dumps(shown, indent=2))
        else:
            out = text(shown)
            if out:
                click.echo(self.redactor(out))

    def say(self, message: str) -> None:
        """A human note on stderr (never mixed into JSON on stdout)."""
        if not self.quiet:
            click.echo(self.redactor(message), err=True)


class LineProgress(Progress):
    """Engine progress as timestamped lines on stderr (rich live views come later)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.t0 = time.monotonic()

    def step(self, text: str) -> None:
        self.app.say(f"[{time.monotonic() - self.t0:6.1f}s] {text}")

    def suite_output(self, line: str) -> None:
        if self.app.output == "text" and not self.app.quiet:
            click.echo(f"    {line}", err=True)


pass_app = click.make_pass_decorator(App, ensure=True)


def output_choice(choices: Sequence[str], help: str, *, expose: bool = True) -> Callable[[F], F]:
    """``--output/-o`` among ``choices``; recorded on the App first (eager), so that even
    an error in parsing the other options comes out in the chosen format."""

    def remember(ctx: click.Context, _: click.Parameter, value: str) -> str:
        ctx.ensure_object(App).output = value
        return value

    return click.option(
        "--output",
        "-o",
        type=click.Choice(list(choices)),
        default="text",
        show_default=True,
        expose_value=expose,
        is_eager=True,
        callback=remember,
        help=help,
    )


output_option = output_choice(
    ("text", "json"), "Result format; json is a stable contract.", expose=False
)


def secrets_file_option(func: F) -> F:
    def remember(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
        if value:
            app = ctx.ensure_object(App)
            app._settings = dataclasses.replace(app.settings, secrets_file=Path(value))

    return click.option(
        "--secrets-file",
        type=click.Path(dir_okay=False),
        expose_value=False,
        callback=remember,
        help="Dotenv file with values for ${secret.NAME} (or ENVCTL_SECRETS_FILE).",
    )(func)


def configure_logging(app: App) -> None:
    level = logging.WARNING - 10 * min(app.verbose, 2)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("envctl: %(levelname)s: %(message)s"))
    handler.addFilter(RedactingFilter(app.redactor))
    root = logging.getLogger("orchestrator")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def age(seconds: float) -> str:
    from orchestrator.blueprint.units import format_duration

    return format_duration(max(0.0, seconds))
