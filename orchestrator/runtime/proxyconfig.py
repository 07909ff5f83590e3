"""The fault proxy's config as the container runtimes (docker, kubernetes) run it.

The session writes ``proxy.json`` for the local view: listeners on the addresses
``Runtime.address`` reserved, events into the run dir on the host. In a container the
listeners must bind every interface of the proxy's own network namespace (its address
there is not the name others use to reach it), and the events log is a path inside the
container, collected with the logs at teardown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def in_container(config: Mapping[str, Any], events_log: str) -> dict[str, Any]:
    """``config`` with its API and listeners on 0.0.0.0 (same ports), events at ``events_log``."""
    out = dict(config)
    out["api"] = _any_interface(str(config["api"]))
    out["proxies"] = [
        {**proxy, "listen": _any_interface(str(proxy["listen"]))}
        for proxy in config.get("proxies", [])
    ]
    out["events_log"] = events_log
    return out


def read_for_container(work_dir: Path, events_log: str) -> str:
    """The session's ``proxy.json`` in ``work_dir``, rewritten by ``in_container``."""
    config = json.loads((work_dir / "proxy.json").read_text(encoding="utf-8"))
    return json.dumps(in_container(config, events_log), indent=2)


def _any_interface(address: str) -> str:
    return f"0.0.0.0:{address.rsplit(':', 1)[1]}"
