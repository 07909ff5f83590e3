"""`envctl proxy`: the userspace TCP fault proxy and its Toxiproxy-compatible API."""

from __future__ import annotations

import gc
import json
from typing import Any

import click

from orchestrator.cli.common import App, pass_app
from orchestrator.exceptions import RuntimeUnavailable


@click.group()
def proxy() -> None:
    """Userspace TCP fault proxy (latency, bandwidth, resets …) with Toxiproxy's API."""


@proxy.command()
@click.option(
    "--config",
    "config_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="JSON file: api address, seed, proxies, schedules, events_log.",
)
@pass_app
def serve(app: App, config_file: str) -> None:
    """Run the proxies of --config and the HTTP API until SIGTERM or Ctrl-C.

    Once listening, prints one JSON line on stdout: the API URL and each proxy's address.
    """
    from orchestrator.proxy.config import load_config

    config = load_config(config_file)
    try:
        from orchestrator.proxy.serve import serve as run
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "aiohttp":
            raise
        raise RuntimeUnavailable(
            f"the proxy needs {exc.name!r}, which is not installed",
            hint="reinstall envctl (aiohttp is one of its dependencies)",
        ) from exc

    def ready(info: dict[str, Any]) -> None:
        # Everything allocated so far (aiohttp, the config, the listeners) lives as long as
        # the process: out of the collector's sight, a full collection costs ~4 ms instead
        # of ~20 ms, and a pause that long is a latency fault nobody asked for.
        gc.collect()
        gc.freeze()
        click.echo(json.dumps({"event": "ready", **info}))
        app.say(f"proxy API on {info['api']}; SIGTERM or Ctrl-C stops it")

    import asyncio  # here, not at the top: it costs every other command (and Tab) 30 ms

    from orchestrator.proxy.server import loop_factory

    # uvloop when installed (the `local` extra): a faster relay; timing uses timerfd either way.
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(run(config, ready=ready))
