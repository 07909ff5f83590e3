"""What every command shares: settings, the redactor, output format, the progress renderer."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from orchestrator.progress import Progress
from orchestrator.secrets import RedactingFilter, Redactor
from orchestrator.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


PROGRESS_MODES = ("auto", "live", "plain")


@dataclass
class App:
    """Built once in the group callback, handed to commands via click's context."""

    verbose: int = 0
    quiet: bool = False
    output: str = "text"
    progress_mode: str = "auto"  # --progress: auto = live on a terminal, else plain
    redactor: Redactor = field(default_factory=Redactor)
    _settings: Settings | None = None
    _progress: Progress | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_environ()
        return self._settings

    @property
    def progress(self) -> Progress:
        """The renderer of this command's progress, chosen once (see ``choose_progress``)."""
        if self._progress is None:
            self._progress = choose_progress(self)
        return self._progress

    def close_progress(self) -> None:
        """Before a result or an error is printed: a live view ends (its table stays)."""
        if self._progress is not None:
            self._progress.close()

    def engine(self) -> Any:
        from orchestrator.engine import Engine

        return Engine(self.settings, self.redactor, self.progress)

    def emit(self, data: Any, text: Callable[[Any], str]) -> None:
        """Print the command's result: JSON on stdout, or ``text`` of it.

        Both see the data already redacted, so text layouts are measured on what is shown.
        """
        self.close_progress()
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


def choose_progress(app: App) -> Progress:
    """A live view on a terminal (unless ``--quiet``, or ``TERM=dumb``), plain lines
    elsewhere: CI logs and pipes read lines. ``--progress live|plain`` decides instead."""
    from orchestrator.cli.progress_lines import LineProgress

    mode = app.progress_mode
    if app.quiet:
        mode = "plain"  # which prints nothing: -q is results and errors only
    elif mode == "auto":
        terminal = sys.stderr.isatty() and os.environ.get("TERM", "") != "dumb"
        mode = "live" if terminal else "plain"
    if mode == "live":
        from orchestrator.cli.progress_view import LiveProgress

        return LiveProgress(app, force_terminal=app.progress_mode == "live")
    return LineProgress(app)


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


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """To whatever ``sys.stderr`` is at the time: a live view redirects it while it runs,
    so that log lines print above its table instead of through it."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(app: App) -> None:
    level = logging.WARNING - 10 * min(app.verbose, 2)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("envctl: %(levelname)s: %(message)s"))
    handler.addFilter(RedactingFilter(app.redactor))
    root = logging.getLogger("orchestrator")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def age(seconds: float) -> str:
    from orchestrator.blueprint.units import format_duration

    return format_duration(max(0.0, seconds))
