"""Live fault control on a running environment: `envctl fault` against the real proxy."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import Cli, leftovers

pytestmark = pytest.mark.local

BLUEPRINT = "tests/integration/local/blueprints/linked.yaml"


def _env_file(cli: Cli, env_id: str) -> dict[str, str]:
    text = Path(cli.json("status", env_id)["env_file"]).read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _get(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        return int(response.status)


def test_faults_are_listed_added_and_removed_while_the_environment_runs(cli: Cli) -> None:
    up = cli("up", BLUEPRINT, "-o", "json")
    assert up.returncode == 0, up.stderr
    env_id = json.loads(up.stdout)["env"]
    endpoints = _env_file(cli, env_id)
    listener = int(endpoints["ENVCTL_WEB_PORT"])
    assert listener != cli.json("status", env_id)["services"]["web"]["port"], "via the proxy"
    assert _get(listener) == 200

    links = cli.json("fault", "ls", env_id)
    assert set(links) == {"suite-web"}
    assert [t["type"] for t in links["suite-web"]["toxics"]] == ["latency"]

    added = cli("fault", "add", env_id, "suite-web", "down", "--name", "outage")
    assert added.returncode == 0, added.stderr
    with pytest.raises(OSError):  # refused while the link is down
        socket.create_connection(("127.0.0.1", listener), timeout=2).recv(1)
    assert cli("fault", "rm", env_id, "suite-web", "outage").returncode == 0
    assert _get(listener) == 200

    bad = cli("fault", "add", env_id, "suite-web", "latency", "-a", "mean=-1s")
    assert bad.returncode == 2 and "bad latency fault" in bad.stderr
    unknown = cli("fault", "rm", env_id, "suite-web", "nope")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr

    assert cli("fault", "reset", env_id).returncode == 0
    assert cli.json("fault", "ls", env_id)["suite-web"]["toxics"] == []
    assert cli("down", env_id).returncode == 0
    assert leftovers(env_id) == []


def test_a_toxiproxy_client_drives_the_environments_proxy(cli: Cli) -> None:
    """Teams' existing Toxiproxy clients work against envctl unchanged."""
    from toxiproxy import Toxiproxy

    up = cli("up", BLUEPRINT, "-o", "json")
    env_id = json.loads(up.stdout)["env"]
    api = _env_file(cli, env_id)["ENVCTL_PROXY_URL"].removeprefix("http://")
    host, port = api.split(":")
    client = Toxiproxy()
    client.update_api_consumer(host, int(port))
    proxy = client.get_proxy("suite-web")
    proxy.add_toxic(name="slow", type="latency", attributes={"latency": 200})
    assert "slow" in proxy.toxics()
    proxy.destroy_toxic("slow")
    assert "slow" not in proxy.toxics()
    assert cli("down", env_id).returncode == 0
