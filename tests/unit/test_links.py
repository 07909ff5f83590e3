"""Links planned on the fake runtime: who talks to the proxy, and what the proxy is told."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from orchestrator.blueprint.loader import LoadedBlueprint, loads
from orchestrator.engine import Engine, Selection
from orchestrator.links import PROXY_SERVICE
from orchestrator.result import RunStatus
from orchestrator.runtime.fake import FakeRuntime, FakeWorld
from orchestrator.settings import Settings

BLUEPRINT = """
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: linked}
services:
  db: {image: "postgres:15", ports: [5432]}
  pay: {ports: [8080], local: {command: "pay"}}
  api:
    ports: [8000]
    depends_on: [db]
    env: {PAY: "${pay.host}:${pay.port}", DB: "${db.host}:${db.port}"}
    local: {command: "api"}
links:
  - from: api
    to: pay
    latency: {p50: 120ms, p99: 450ms}
    faults:
      - {reset_peer: {probability: 0.01}}
      - {slicer: {average_size: 64, delay: 2ms, stream: upstream}}
    schedule:
      - {at: 30s, for: 10s, fault: down}
  - {from: suite, to: db, latency: {mean: 2ms, jitter: 1ms}}
proxy: {seed: 42}
suites:
  - name: env
    run: 'env | grep -E "^(ENVCTL_DB_PORT|ENVCTL_PAY_PORT|ENVCTL_PROXY_URL)=" | sort > "$OUT"'
    env: {OUT: "${run.dir}/env.txt"}
"""


def load(tmp_path: Path) -> LoadedBlueprint:
    path = tmp_path / "linked.yaml"
    path.write_text(textwrap.dedent(BLUEPRINT))
    return loads(path.read_text(), str(path))


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


@pytest.fixture
def engine(settings: Settings, world: FakeWorld) -> Engine:
    settings = Settings(state_dir=settings.state_dir, work_root=settings.state_dir.parent / "w")
    return Engine(settings, runtime_factory=lambda name, s: FakeRuntime(s, world))


def test_consumers_and_suites_reach_linked_services_through_the_proxy(
    engine: Engine, world: FakeWorld, tmp_path: Path
) -> None:
    session = engine.up(load(tmp_path), runtime="fake")
    proxy_config = json.loads((session.env.work_dir / "proxy.json").read_text())
    proxies = {p["name"]: p for p in proxy_config["proxies"]}
    assert set(proxies) == {"api-pay", "suite-db"}

    api_env = session.resolver.service_spec("api").env
    pay_listener = proxies["api-pay"]["listen"]
    assert api_env["PAY"] == pay_listener, "api is pointed at the proxy, not at pay"
    assert proxies["api-pay"]["upstream"] == session.resolver.internal["pay"].address
    assert api_env["DB"] == session.resolver.internal["db"].address, "no link: direct"

    starts = [name for what, name in world.calls if what == "start"]
    assert starts.index(PROXY_SERVICE) < starts.index("api"), "the proxy listens first"
    session.teardown()


def test_blueprint_faults_become_toxics_in_the_proxys_units(engine: Engine, tmp_path: Path) -> None:
    session = engine.up(load(tmp_path), runtime="fake")
    config = json.loads((session.env.work_dir / "proxy.json").read_text())
    assert config["seed"] == 42 and config["schedule_start"] == "api"
    toxics = {t["type"]: t for p in config["proxies"] for t in p["toxics"]}
    assert toxics["latency"]["attributes"] in (
        {"p50": 120.0, "p99": 450.0},
        {"latency": 2.0, "jitter": 1.0},
    )
    assert toxics["reset_peer"]["toxicity"] == 0.01
    assert toxics["slicer"]["stream"] == "upstream"
    assert toxics["slicer"]["attributes"]["delay"] == pytest.approx(2000.0), "µs, as Toxiproxy"
    [drill] = config["schedules"]
    assert (drill["proxy"], drill["at"], drill["for"]) == ("api-pay", 30.0, 10.0)
    assert drill["toxic"]["type"] == "down"
    session.teardown()


def test_suites_get_the_proxy_for_linked_services_and_its_api(
    engine: Engine, tmp_path: Path
) -> None:
    result = engine.run(load(tmp_path), runtime="fake", selection=Selection())
    assert result.status is RunStatus.passed
    assert result.proxy_seed == 42
    lines = (Path(result.run_dir) / "env.txt").read_text().splitlines()
    values = dict(line.split("=", 1) for line in lines)
    assert "ENVCTL_PROXY_URL" in values
    assert values["ENVCTL_DB_PORT"] != str(result.services["db"].port), "db via its link"
    assert values["ENVCTL_PAY_PORT"] == str(result.services["pay"].port), "pay direct"
