"""Start a Redis server as a plain process, configured through a private file.

The password goes in a 0600 config file rather than on the command line, where any
user could read it in ``ps``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from orchestrator.engines.redis import password
from orchestrator.runtime.local.binaries import Binaries


def prepare(bins: Binaries, service_dir: Path, port: int, env: Mapping[str, str]) -> list[str]:
    lines = [
        f"port {port}",
        "bind 127.0.0.1",
        f"dir {service_dir}",
        'save ""',
        "appendonly no",
        "daemonize no",
        'logfile ""',
        # Redis rewrites its process title over its environment block by default, which
        # would erase the ENVCTL_ENV_ID tag that orphan reaping finds processes by.
        "set-proc-title no",
    ]
    secret = password(env)
    if secret:
        lines.append(f'requirepass "{_escape(secret)}"')
    conf = service_dir / "redis.conf"
    conf.touch(mode=0o600)
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [str(bins.bindir / "redis-server"), str(conf)]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
