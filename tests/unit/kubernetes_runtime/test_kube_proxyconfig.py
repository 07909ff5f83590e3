"""The fault proxy's config as a container runs it (shared by docker and kubernetes)."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.runtime.proxyconfig import in_container, read_for_container

CONFIG = {
    "api": "envctl-proxy.envctl-x.svc:8474",
    "seed": 7,
    "proxies": [
        {"name": "orders-db", "listen": "envctl-proxy.envctl-x.svc:10001", "upstream": "db:5432"}
    ],
    "events_log": "/host/run/proxy-events.jsonl",
}


def test_listeners_bind_every_interface_and_events_stay_inside() -> None:
    out = in_container(CONFIG, "/var/log/envctl/proxy-events.jsonl")
    assert out["api"] == "0.0.0.0:8474"
    assert out["proxies"][0]["listen"] == "0.0.0.0:10001"
    assert out["proxies"][0]["upstream"] == "db:5432", "upstreams keep their names"
    assert out["events_log"] == "/var/log/envctl/proxy-events.jsonl"
    assert out["seed"] == 7
    assert CONFIG["api"] == "envctl-proxy.envctl-x.svc:8474", "the input is not changed"


def test_the_sessions_file_is_read_and_rewritten(tmp_path: Path) -> None:
    (tmp_path / "proxy.json").write_text(json.dumps(CONFIG))
    assert json.loads(read_for_container(tmp_path, "/e.jsonl"))["api"] == "0.0.0.0:8474"
