"""`envctl audit`: how far a blueprint, or a live environment, is from production.

``envctl audit TARGET`` scores a blueprint file (static: what it declares) or a live
environment id (what it has) against a production profile. A CI step can gate on
fidelity: exit 0 at or above ``--fail-under`` (or without one), 5 below it — the code
``envctl run --fail-under`` uses too, apart from 1, which means suites failed — 2 bad
input, 3 an environment error.
``envctl audit history NAME`` shows the scores recorded on a blueprint's runs.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from orchestrator.cli.common import App, output_choice, pass_app
from orchestrator.exceptions import EnvironmentNotFound, ExitCode, UsageError

if TYPE_CHECKING:
    from orchestrator.audit.model import AuditResult
    from orchestrator.blueprint.loader import LoadedBlueprint
    from orchestrator.profile import ProductionProfile

FORMATS = ("text", "json", "markdown")
BELOW_THRESHOLD = ExitCode.FIDELITY_BELOW_THRESHOLD  # as `envctl run --fail-under`
DEFAULT = "target"  # the hidden command `envctl audit TARGET` runs
HISTORY_RUNS = 10_000  # recorded runs read, newest first: months of CI for one machine


class _AuditGroup(click.Group):
    """A group whose first argument is a target unless it names a subcommand, so that
    ``envctl audit bp.yaml`` and ``envctl audit history checkout`` both read naturally."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        first = args[0] if args else DEFAULT
        # `envctl audit target` audits a file called 'target', not the hidden command.
        if first == DEFAULT or (first not in self.commands and first not in ctx.help_option_names):
            args = [DEFAULT, *args]
        return super().parse_args(ctx, args)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        # Usage and error lines then read `envctl audit [OPTIONS] TARGET`.
        return ("" if name == DEFAULT else name), command, rest


class _TargetContext(click.Context):
    @property
    def command_path(self) -> str:
        return super().command_path.rstrip()  # the hidden command's name is ''


class _TargetCommand(click.Command):
    context_class = _TargetContext


_format_option = output_choice(
    FORMATS, "text for terminals, markdown for $GITHUB_STEP_SUMMARY, json is a stable contract."
)


@click.group(cls=_AuditGroup, subcommand_metavar="TARGET | history NAME")
def audit() -> None:
    """Score a blueprint (static) or a live environment against production.

    \b
    envctl audit BLUEPRINT_FILE [--profile FILE] [--fail-under N]
    envctl audit ENV_ID         [--profile FILE] [--fail-under N]
    envctl audit history NAME   [--since 30d]

    TARGET's options: envctl audit TARGET --help.

    \b
    Exit codes: 0 at or above --fail-under · 5 below it · 2 bad input
                3 environment error
    """


@audit.command(name=DEFAULT, cls=_TargetCommand, hidden=True)
@click.argument("target")
@click.option(
    "--profile",
    "profile_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Production profile (default: the blueprint's `profile:`).",
)
@click.option(
    "--fail-under",
    type=click.FloatRange(0, 100),
    metavar="N",
    help="Exit 5 when the overall score (0-100) is below N.",
)
@_format_option
@pass_app
def check(
    app: App, target: str, profile_file: Path | None, fail_under: float | None, output: str
) -> None:
    """Score TARGET, a blueprint file or a live environment id, against production."""
    from orchestrator import profile
    from orchestrator.audit import score

    kind, loaded, environment, subject = _environment(app, target)
    path = profile_file or _blueprint_profile(loaded)
    production, _ = profile.load(path)
    result = score.audit(
        production,
        environment,
        subject=subject,
        kind=kind,
        profile_name=_shown(path),
        intentional=loaded.model.intentional,
    )
    _print(app, output, {**result.to_dict(), "fail_under": fail_under}, result)
    if fail_under is not None and result.overall < fail_under:
        click.echo(
            f"envctl: fidelity {result.overall:.1f} is below --fail-under {fail_under:g}",
            err=True,
        )
        sys.exit(int(BELOW_THRESHOLD))


def _environment(app: App, target: str) -> tuple[str, LoadedBlueprint, ProductionProfile, str]:
    """(kind, blueprint, the environment's profile, subject) of a file or an env id."""
    from orchestrator.cli import blueprint_arg

    if _names_a_blueprint(target):
        from orchestrator.audit import declared

        path = blueprint_arg.resolve(target)
        loaded = blueprint_arg.load(str(path))
        return "static", loaded, declared.from_blueprint(loaded), str(path)
    from orchestrator.audit import live

    try:
        loaded, observed = live.observe(app.settings, target)
    except EnvironmentNotFound as exc:
        raise UsageError(
            f"{target!r} is neither a blueprint file nor a live environment",
            hint=f"give a blueprint file for a static audit; {exc.hint}",
        ) from None
    return "live", loaded, observed, target


def _names_a_blueprint(target: str) -> bool:
    """A path, a file name, or a blueprint under ./blueprints/; anything else is an id."""
    path = Path(target)
    if path.exists() or path.suffix in (".yaml", ".yml", ".json") or len(path.parts) > 1:
        return True
    return any(p.is_file() for p in (Path("blueprints") / f"{target}.yaml", Path(f"{target}.yaml")))


def _blueprint_profile(loaded: LoadedBlueprint) -> Path:
    if loaded.model.profile is None:
        raise UsageError(
            f"no production profile to audit {loaded.name!r} against",
            hint="give --profile FILE, or set `profile: path/to/production.yaml` in the blueprint",
        )
    return loaded.directory / loaded.model.profile


def _shown(path: Path) -> str:
    """A path as short as it is clear: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _print(app: App, output: str, data: dict[str, Any], result: AuditResult) -> None:
    from orchestrator.audit import render

    if output == "json":
        app.emit(data, str)
    else:
        renderer = render.render_markdown if output == "markdown" else render.render_text
        click.echo(app.redactor(renderer(result)))


# history ----------------------------------------------------------------------------------


@audit.command()
@click.argument("name")
@click.option(
    "--since",
    default="30d",
    show_default=True,
    metavar="WHEN",
    help="How far back: 30d, 12h, or a date (UTC).",
)
@_format_option
@pass_app
def history(app: App, name: str, since: str, output: str) -> None:
    """The fidelity score of blueprint NAME over time, from its recorded runs."""
    from orchestrator.cli.cost_cmd import parse_when

    start = parse_when(since, datetime.now(UTC), "--since")
    runs = _audited_runs(app, _blueprint_name(name), start)
    data = {"blueprint": _blueprint_name(name), "since": start.isoformat(), "runs": runs}
    if output == "json":
        app.emit(data, str)
        return
    render = _history_markdown if output == "markdown" else _history_text
    click.echo(app.redactor(render(data)))


def _blueprint_name(arg: str) -> str:
    """NAME is the blueprint's ``metadata.name``; a blueprint file stands for its name."""
    if Path(arg).suffix in (".yaml", ".yml") and Path(arg).is_file():
        from orchestrator.cli import blueprint_arg

        name: str = blueprint_arg.load(arg).name
        return name
    return arg


def _audited_runs(app: App, blueprint: str, since: datetime) -> list[dict[str, Any]]:
    from orchestrator.audit.model import Dimension
    from orchestrator.state import StateStore

    if not app.settings.state_db.exists():  # reading history must not create the state dir
        return []
    out = []
    for run in StateStore(app.settings.state_db).runs(HISTORY_RUNS):
        fidelity = run.get("fidelity")
        if run.get("blueprint") != blueprint or not fidelity:
            continue
        started = _when(run.get("started_at"))
        if started is None or started < since:
            continue
        out.append(
            {
                "env": run.get("env"),
                "started_at": started.isoformat(),
                "status": run.get("status"),
                "profile": fidelity.get("profile"),
                "overall": fidelity.get("overall"),
                "dimensions": {
                    d: (fidelity.get("dimensions", {}).get(d) or {}).get("score") for d in Dimension
                },
            }
        )
    return sorted(out, key=lambda r: r["started_at"])  # oldest first: reads as a trend


def _when(text: object) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _empty(data: dict[str, Any]) -> str:
    return (
        f"no audited runs of blueprint {data['blueprint']!r} since {data['since'][:10]}: "
        "`envctl run` records a fidelity score when the blueprint names a `profile:` "
        "(or with --audit FILE)"
    )


def _history_text(data: dict[str, Any]) -> str:
    if not data["runs"]:
        return _empty(data)
    names = _dimensions()
    head = f"{'DATE':<17} {'ENV':<28} {'OVERALL':>7}"
    lines = [
        f"fidelity of {data['blueprint']} since {data['since'][:10]}: {len(data['runs'])} runs",
        head + "".join(f" {d.upper():>11}" for d in names),
    ]
    for r in data["runs"]:
        scores = "".join(f" {_num(r['dimensions'][d]):>11}" for d in names)
        lines.append(
            f"{r['started_at'][:16].replace('T', ' '):<17} {r['env']:<28} "
            f"{_num(r['overall']):>7}{scores}"
        )
    return "\n".join(lines)


def _history_markdown(data: dict[str, Any]) -> str:
    from orchestrator.audit.render import escape_md as _md

    if not data["runs"]:
        return _md(_empty(data))
    names = _dimensions()

    lines = [
        f"### envctl fidelity of {_md(data['blueprint'])} since {data['since'][:10]}",
        "",
        "| date | env | overall | " + " | ".join(_md(d) for d in names) + " |",
        "| --- | --- | ---: |" + " ---: |" * len(names),
    ]
    for r in data["runs"]:
        cells = " | ".join(_num(r["dimensions"][d]) for d in names)
        lines.append(
            f"| {r['started_at'][:16].replace('T', ' ')} | {_md(str(r['env']))} "
            f"| {_num(r['overall'])} | {cells} |"
        )
    return "\n".join(lines)


def _dimensions() -> list[str]:
    from orchestrator.audit.model import Dimension

    return [d.value for d in Dimension]


def _num(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "-"
