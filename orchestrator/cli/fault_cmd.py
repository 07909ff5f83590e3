"""`envctl fault`: list, add and remove faults on a live environment's links.

Talks to the environment's fault proxy over its Toxiproxy-compatible API; fault
attributes are written as in blueprints (``-a timeout=2s -a probability=0.5``) and
checked by the same rules.
"""

from __future__ import annotations

from typing import Any

import click

from orchestrator.cli import blueprint_arg
from orchestrator.cli.common import App, output_option, pass_app
from orchestrator.exceptions import UsageError
from orchestrator.livefaults import FAULT_TYPES


@click.group()
def fault() -> None:
    """Change the faults on a live environment's links."""


@fault.command("ls")
@click.argument("env_id", shell_complete=blueprint_arg.complete_env_id)
@output_option
@pass_app
def ls(app: App, env_id: str) -> None:
    """List ENV_ID's links and the faults on each."""
    proxies = _api(app, env_id, "GET", "/proxies")

    def text(shown: dict[str, Any]) -> str:
        if not shown:
            return "no links"
        lines = []
        for name, p in sorted(shown.items()):
            state = "" if p["enabled"] else "  (disabled)"
            lines.append(f"{name}: {p['listen']} -> {p['upstream']}{state}")
            for t in p["toxics"]:
                attrs = ", ".join(f"{k}={v}" for k, v in t["attributes"].items())
                lines.append(
                    f"  {t['name']}: {t['type']} {t['stream']} p={t['toxicity']} {attrs}".rstrip()
                )
        return "\n".join(lines)

    app.emit(proxies, text)


@fault.command("add")
@click.argument("env_id", shell_complete=blueprint_arg.complete_env_id)
@click.argument("link")
@click.argument("kind", metavar="TYPE", type=click.Choice(FAULT_TYPES))
@click.option("--name", help="Name of the fault (default: TYPE_STREAM).")
@click.option(
    "-a",
    "--attribute",
    "attributes",
    multiple=True,
    metavar="KEY=VALUE",
    help="As in blueprints: probability=0.5, stream=upstream, timeout=2s, mean=50ms …",
)
@output_option
@pass_app
def add(
    app: App, env_id: str, link: str, kind: str, name: str | None, attributes: tuple[str, ...]
) -> None:
    """Add a fault of TYPE to LINK (e.g. orders-payments-provider) of ENV_ID."""
    from orchestrator import livefaults

    toxic = livefaults.toxic(kind, livefaults.parse_attributes(attributes), name)
    created = _api(app, env_id, "POST", f"/proxies/{link}/toxics", toxic.to_json())
    app.emit(created, lambda t: f"added {t['name']} to {link}")


@fault.command("rm")
@click.argument("env_id", shell_complete=blueprint_arg.complete_env_id)
@click.argument("link")
@click.argument("name")
@output_option
@pass_app
def rm(app: App, env_id: str, link: str, name: str) -> None:
    """Remove the fault NAME from LINK of ENV_ID."""
    _api(app, env_id, "DELETE", f"/proxies/{link}/toxics/{name}")
    app.emit({"removed": name, "link": link}, lambda _: f"removed {name} from {link}")


@fault.command("reset")
@click.argument("env_id", shell_complete=blueprint_arg.complete_env_id)
@output_option
@pass_app
def reset(app: App, env_id: str) -> None:
    """Remove every fault and enable every link of ENV_ID (the blueprint's too)."""
    _api(app, env_id, "POST", "/reset")
    app.emit({"reset": env_id}, lambda _: f"{env_id}: all links clean")


def _api(app: App, env_id: str, method: str, path: str, body: Any = None) -> Any:
    from orchestrator.links import PROXY_SERVICE
    from orchestrator.state import StateStore

    record = StateStore(app.settings.state_db).get(env_id)
    details = record.services.get(PROXY_SERVICE)
    if not details or not details.get("port"):
        raise UsageError(f"{env_id!r} has no links", hint="declare `links:` in its blueprint")
    from orchestrator.livefaults import call

    return call(env_id, details.get("host") or "127.0.0.1", details["port"], method, path, body)
