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

from orchestrator.importers.compose_model import Healthcheck

# Compose's defaults for what a healthcheck leaves out.
DEFAULTS = {"interval": 30.0, "retries": 3}
LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "[::1]", "::1")
_HTTP_TOOLS = re.compile(r"\b(curl|wget|urlopen|requests\.get|httpx\.get|http\.client)\b")
_URL = re.compile(r"\b(https?)://(\[[^\]]+\]|[^/\s:'\"\)]+)(?::(\d+))?(/[^\s'\"\)\]\\]*)?")
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
        scheme, host, port, path = match.groups()
        if host.lower() not in hosts or not _HTTP_TOOLS.search(text):
            continue
        number = int(port) if port else (443 if scheme == "https" else 80)
        if scheme == "http":
            return ReadyPlan({"http": path or "/", **ready}, number)
        break
    for pattern in (_NC, _DEV_TCP):
        found = pattern.search(text)
        if found and found.group(1).lower() in hosts:
            return ReadyPlan({"tcp": True, **ready}, int(found.group(2)))
    command = _host_command(text, hosts)
    return ReadyPlan(
        {"command": command, **ready},
        None,
        "now a readiness command run on the host, not in the container: check it works there",
    )


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
    names = "|".join(re.escape(h) for h in sorted(hosts, key=len, reverse=True))
    return re.sub(rf"(?<![\w.-])({names}):\d+\b", "${self.host}:${self.port}", escaped)
