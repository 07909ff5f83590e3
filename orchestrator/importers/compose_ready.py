"""A Compose healthcheck as a blueprint readiness probe, and how long to wait for it.

``curl``/``wget`` (or a Python ``urlopen``) of ``http://localhost:PORT/PATH`` becomes
``ready: {http: /PATH}`` on that port; ``nc -z localhost PORT`` becomes ``tcp: true``;
any other check becomes a ``command`` run on the host. The timeout is how long Compose
itself would wait before calling the service unhealthy (see ``wait_seconds``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from orchestrator.importers.addresses import LOCAL_HOSTS, URL, alternation
from orchestrator.importers.compose_model import Healthcheck
from orchestrator.importers.shell_values import names_in

# Compose's defaults for what a healthcheck leaves out.
DEFAULTS = {"interval": 30.0, "retries": 3}
_HTTP_TOOLS = re.compile(r"\b(curl|wget|urlopen|requests\.get|httpx\.get|http\.client)\b")
_URL = re.compile(URL)
_NC = re.compile(r"\bnc\b[^|;&]*?-z\w*\s+(?:-\w+\s+)*(\S+)\s+(\d+)")
_DEV_TCP = re.compile(r"/dev/tcp/([^/\s]+)/(\d+)")


@dataclass(frozen=True)
class ReadyPlan:
    ready: dict[str, Any]  # the blueprint's `ready:` mapping ({} for the default probe)
    port: int | None = None  # the port the check probes, when it names one
    note: str | None = None


def plan(check: Healthcheck | None, own_names: tuple[str, ...]) -> ReadyPlan:
    if check is None:
        return ReadyPlan({})
    timeout = wait_seconds(check)
    ready: dict[str, Any] = {"timeout": f"{round(timeout)}s"} if timeout else {}
    if check.disabled:
        return ReadyPlan(ready)
    text = check.text
    hosts = (*LOCAL_HOSTS, *own_names)
    for match in _URL.finditer(text):
        probe = _http_probe(match.group(0).rstrip(")]"), hosts)  # `$(curl …)`, `[…]`
        if probe is None or not _HTTP_TOOLS.search(text):
            continue
        scheme, port, path = probe
        if scheme == "http":
            return ReadyPlan({"http": path, **ready}, port)
        break
    for pattern in (_NC, _DEV_TCP):
        found = pattern.search(text)
        if found and found.group(1).lower() in {h.lower() for h in hosts}:
            return ReadyPlan({"tcp": True, **ready}, int(found.group(2)))
    command = _host_command(text, hosts)
    return ReadyPlan(
        {"command": command, **ready},
        None,
        "now a readiness command run on the host, not in the container: check it works there",
    )


def _http_probe(url: str, hosts: tuple[str, ...]) -> tuple[str, int, str] | None:
    """(scheme, port, path with query) of an http(s) URL to one of ``hosts``. Not one
    with a shell value in it: ``ready.http`` takes no ``${env.NAME}``, a command does."""
    if names_in(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or host not in {h.lower() for h in hosts}:
        return None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, port or (443 if scheme == "https" else 80), path


def wait_seconds(check: Healthcheck) -> float | None:
    """How long to wait for readiness, when the file sets any of the timings (else
    envctl's own default applies): start_period plus retries times interval, as Compose
    would take to give up on checks that fail at once, plus each check's own timeout
    when the file sets one."""
    given = (check.interval, check.timeout, check.retries, check.start_period)
    if all(v is None for v in given):
        return None
    interval = DEFAULTS["interval"] if check.interval is None else check.interval
    retries = DEFAULTS["retries"] if check.retries is None else check.retries
    per_check = interval + (check.timeout or 0.0)
    return (check.start_period or 0.0) + retries * per_check


def _host_command(text: str, hosts: tuple[str, ...]) -> str:
    """The check with its own address as ``${self.host}:${self.port}``, and any ``${``
    of its own escaped, since blueprint strings interpolate."""
    escaped = text.replace("${", "$${")
    names = alternation(hosts)
    return re.sub(rf"(?<![\w.-])({names}):\d+\b", "${self.host}:${self.port}", escaped)
