"""`envctl profile`: production profiles, captured from the real sources."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

import click

from orchestrator.cli.common import App, output_option, pass_app
from orchestrator.exceptions import UsageError

ENV_PREFIX = "env:"


@click.group()
def profile() -> None:
    """Production profiles: what production looks like, without its data."""


@profile.command()
@click.option("--name", required=True, help="The profile's name, e.g. checkout-production.")
@click.option(
    "--postgres",
    "postgres",
    multiple=True,
    metavar="SERVICE=URL",
    help="A PostgreSQL to read (read-only); URL may be env:VARNAME to keep it out of history.",
)
@click.option(
    "--redis",
    "redis",
    multiple=True,
    metavar="SERVICE=URL",
    help="A Redis to read; env:VARNAME too.",
)
@click.option(
    "--edge",
    "edges",
    multiple=True,
    metavar="FROM:TO=SAMPLES_FILE",
    help="Measured latencies of an edge: one per line, a JSON list, or a Prometheus histogram.",
)
@click.option("--image", "images", multiple=True, metavar="SERVICE=IMAGE", help="What runs.")
@click.option(
    "--schema",
    "schemas",
    multiple=True,
    default=("public",),
    show_default=True,
    metavar="NAME",
    help="PostgreSQL schemas to capture.",
)
@click.option("--out", type=click.Path(dir_okay=False), help="Write to FILE (default: stdout).")
@output_option
@pass_app
def capture(
    app: App,
    name: str,
    postgres: tuple[str, ...],
    redis: tuple[str, ...],
    edges: tuple[str, ...],
    images: tuple[str, ...],
    schemas: tuple[str, ...],
    out: str | None,
) -> None:
    """Capture a profile: versions, row counts and pg_stats, Redis keys per pattern,
    edge latencies. Statistics only, never rows; production is only ever read."""
    from orchestrator.audit import capture as captures

    environ = app.settings.environ
    sources = captures.CaptureSources(
        name=name,
        postgres=_urls(app, "--postgres", postgres, environ),
        redis=_urls(app, "--redis", redis, environ),
        edges=[_edge(value) for value in edges],
        images=_pairs("--image", images, "SERVICE=IMAGE"),
        schemas=schemas,
    )
    for url in (*sources.postgres.values(), *sources.redis.values()):
        _register_password(app, url)
    if not (sources.postgres or sources.redis or sources.edges or sources.images):
        raise UsageError(
            "nothing to capture",
            hint="give at least one --postgres, --redis, --edge or --image",
        )
    captured = captures.capture(sources)
    if app.output == "json":
        data = captured.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        text = json.dumps(data, indent=2) + "\n"
    else:
        text = captures.dump(captured)
    _write(app, text, out)
    services = captured.services.values()
    counts = (
        _plural(len(captured.services), "service"),
        _plural(sum(len(s.tables) for s in services), "table"),
        _plural(sum(len(s.keyspaces) for s in services), "key pattern"),
        _plural(len(captured.edges), "edge"),
    )
    app.say("captured " + ", ".join(counts))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _pairs(option: str, values: tuple[str, ...], form: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, equals, rest = value.partition("=")
        if not (key.strip() and equals and rest.strip()):
            raise UsageError(f"{option} {value!r} is not {form}", hint=f"e.g. {option} db=...")
        if key.strip() in out:
            raise UsageError(f"{option} names {key.strip()!r} twice", hint="one value per service")
        out[key.strip()] = rest.strip()
    return out


def _urls(
    app: App, option: str, values: tuple[str, ...], environ: Mapping[str, str]
) -> dict[str, str]:
    """SERVICE=URL, where URL may be ``env:VARNAME``: a password in a variable stays out
    of the shell history and of ``ps``."""
    urls = _pairs(option, values, "SERVICE=URL")
    for service, url in urls.items():
        if url.startswith(ENV_PREFIX):
            variable = url.removeprefix(ENV_PREFIX)
            if not environ.get(variable):
                raise UsageError(
                    f"{option} {service}={url}: ${variable} is not set",
                    hint=f"export {variable}=... (the service's URL) first",
                )
            urls[service] = environ[variable]
        elif _password(url):
            app.say(
                f"note: {option} {service}: a password on the command line stays in the "
                f"shell history; pass {service}=env:VARNAME instead"
            )
    return urls


def _edge(value: str) -> tuple[str, str, Path]:
    ends, equals, path = value.partition("=")
    source, colon, target = ends.partition(":")
    if not (source.strip() and colon and target.strip() and equals and path.strip()):
        raise UsageError(
            f"--edge {value!r} is not FROM:TO=SAMPLES_FILE",
            hint="e.g. --edge orders:payments-provider=latency.txt",
        )
    return source.strip(), target.strip(), Path(path.strip())


def _register_password(app: App, url: str) -> None:
    """Whatever a driver might say, the CLI's output masks the URL's password."""
    password = _password(url)
    if password:
        app.redactor.add(unquote(password))
        app.redactor.add(password)


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:  # not a URL (a libpq key=value string): the capture says so
        return None


def _write(app: App, text: str, out: str | None) -> None:
    text = app.redactor(text)
    if not out:
        click.echo(text, nl=False)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write {out!r}: {exc.strerror or exc}", hint="check the --out path"
        ) from None
    app.say(f"wrote {out}")
