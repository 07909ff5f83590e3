"""The run lifecycle on the fake runtime: order, parallelism, failures, teardown, records."""

from __future__ import annotations

import sqlite3
import textwrap
import threading
from pathlib import Path

import pytest

from orchestrator.blueprint.loader import LoadedBlueprint, loads
from orchestrator.engine import Engine, Selection
from orchestrator.exceptions import SecretError, ServiceError, StateError, UsageError
from orchestrator.result import RunStatus
from orchestrator.runtime.fake import FakeBehaviour, FakeRuntime, FakeWorld
from orchestrator.settings import Settings
from orchestrator.state import StateStore
from orchestrator.suites import SuiteStatus

BLUEPRINT = """
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: shop, owner: team-a, tier: critical}
services:
  db: {image: "postgres:15.4", ports: [5432]}
  cache: {image: "redis:7.2", ports: [6379]}
  api:
    image: "api:1.0"
    ports: [8000]
    depends_on: [db, cache]
    env: {DB: "${db.host}:${db.port}", TOKEN: "${secret.API_TOKEN}"}
  web: {image: "web:2", ports: [80], depends_on: [api]}
suites:
  - {name: smoke, tier: critical, run: "test -n \\"$ENVCTL_API_URL\\""}
  - {name: slow, tier: extended, run: "true"}
"""


def blueprint(tmp_path: Path, text: str = BLUEPRINT) -> LoadedBlueprint:
    path = tmp_path / "shop.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return loads(path.read_text(), str(path))


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


@pytest.fixture
def engine(settings: Settings, world: FakeWorld) -> Engine:
    settings = Settings(
        state_dir=settings.state_dir,
        work_root=settings.state_dir.parent / "work",
        environ={"ENVCTL_SECRET_API_TOKEN": "tok-0123456789"},
    )
    return Engine(settings, runtime_factory=lambda name, s: FakeRuntime(s, world))


def test_services_start_after_their_dependencies_and_stop_before_them(
    engine: Engine, world: FakeWorld, tmp_path: Path
) -> None:
    result = engine.run(blueprint(tmp_path), runtime="fake")

    assert result.status is RunStatus.passed
    starts = [name for what, name in world.calls if what == "start"]
    stops = [name for what, name in world.calls if what == "stop"]
    assert starts.index("api") > max(starts.index("db"), starts.index("cache"))
    assert starts.index("web") > starts.index("api")
    assert stops.index("web") < stops.index("api") < min(stops.index("db"), stops.index("cache"))
    assert [c for c in world.calls if c[0] == "destroy"] == [("destroy", result.env)]
    assert world.running == {}


def test_independent_services_start_in_parallel(
    engine: Engine, world: FakeWorld, tmp_path: Path
) -> None:
    for name in ("db", "cache"):
        world.behaviours[name] = FakeBehaviour(start_delay=0.3)
    result = engine.run(blueprint(tmp_path), runtime="fake", selection=Selection(suites=["slow"]))
    assert result.status is RunStatus.passed
    assert world.most_starting == 2, "db and cache (no dependencies) were starting together"


def test_a_service_that_fails_to_start_tears_everything_down(
    engine: Engine, world: FakeWorld, tmp_path: Path
) -> None:
    world.behaviours["api"] = FakeBehaviour(start_error="image api:1.0 not found")
    result = engine.run(blueprint(tmp_path), runtime="fake")

    assert result.status is RunStatus.error
    assert isinstance(result.exception, ServiceError)
    assert "image api:1.0 not found" in result.to_dict()["error"]["message"]
    assert world.running == {}
    assert ("start", "web") not in world.calls, "web depends on api: it must never start"
    assert StateStore(engine.settings.state_db).environments() == []
    assert StateStore(engine.settings.state_db).runs()[0]["status"] == "error"


def test_a_service_that_exits_while_starting_fails_fast(
    engine: Engine, world: FakeWorld, tmp_path: Path
) -> None:
    world.behaviours["cache"] = FakeBehaviour(exits_with=3)
    result = engine.run(blueprint(tmp_path), runtime="fake")
    assert result.status is RunStatus.error
    assert "exited with code 3 before it was ready" in result.to_dict()["error"]["message"]
    assert world.running == {}


def test_a_failing_suite_gives_failed_and_still_tears_down(
    engine: Engine, world: FakeWorld, tmp_path: Path
) -> None:
    text = BLUEPRINT.replace('run: "true"', 'run: "echo boom; exit 4"')
    result = engine.run(blueprint(tmp_path, text), runtime="fake")
    assert result.status is RunStatus.failed
    by_name = {s.name: s for s in result.suites}
    assert by_name["smoke"].status is SuiteStatus.passed, "endpoints reach suites as env vars"
    assert by_name["slow"].status is SuiteStatus.failed
    assert by_name["slow"].exit_code == 4
    assert "boom" in by_name["slow"].log.read_text()
    assert world.running == {}


def test_suite_timeout_stops_the_suite(engine: Engine, tmp_path: Path) -> None:
    text = BLUEPRINT.replace('run: "true"', 'run: "sleep 30", timeout: 300ms')
    result = engine.run(
        blueprint(tmp_path, text), runtime="fake", selection=Selection(suites=["slow"])
    )
    assert result.status is RunStatus.failed
    assert result.suites[0].status is SuiteStatus.timeout
    assert "timed out after 0.3s and was stopped" in result.suites[0].log.read_text()


def test_suites_are_selected_by_tier_and_name(engine: Engine, tmp_path: Path) -> None:
    loaded = blueprint(tmp_path)
    by_tier = engine.run(loaded, runtime="fake", selection=Selection(tiers=["critical"]))
    assert [s.name for s in by_tier.suites] == ["smoke"]
    by_name = engine.run(loaded, runtime="fake", selection=Selection(suites=["slow"]))
    assert [s.name for s in by_name.suites] == ["slow"]


def test_an_unknown_suite_is_refused_before_anything_starts(
    engine: Engine, world: FakeWorld, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="unknown suite 'nope'") as info:
        engine.run(blueprint(tmp_path), runtime="fake", selection=Selection(suites=["nope"]))
    assert "smoke" in (info.value.hint or "")
    assert world.calls == []


def test_a_missing_secret_fails_before_anything_starts(
    settings: Settings, world: FakeWorld, tmp_path: Path
) -> None:
    engine = Engine(
        Settings(state_dir=settings.state_dir, work_root=settings.state_dir.parent, environ={}),
        runtime_factory=lambda name, s: FakeRuntime(s, world),
    )
    result = engine.run(blueprint(tmp_path), runtime="fake")
    assert isinstance(result.exception, SecretError)
    assert "ENVCTL_SECRET_API_TOKEN" in (result.exception.hint or "")
    assert "shop.yaml:" in result.exception.message, "says where the secret is used"
    assert not [c for c in world.calls if c[0] == "start"]
    assert StateStore(settings.state_db).environments() == []


def test_the_secret_value_never_reaches_the_recorded_run(engine: Engine, tmp_path: Path) -> None:
    text = BLUEPRINT.replace('run: "true"', 'run: "echo token=$T", env: {T: "${secret.API_TOKEN}"}')
    result = engine.run(blueprint(tmp_path, text), runtime="fake")
    assert result.status is RunStatus.passed
    log = next(s.log for s in result.suites if s.name == "slow").read_text()
    assert "token=***" in log
    for path in [engine.settings.state_db, *Path(result.run_dir).rglob("*")]:
        if path.is_file():
            assert b"tok-0123456789" not in path.read_bytes(), path


def test_every_run_is_recorded_with_its_phases(engine: Engine, tmp_path: Path) -> None:
    result = engine.run(blueprint(tmp_path), runtime="fake")
    rows = StateStore(engine.settings.state_db).runs()
    assert [r["env"] for r in rows] == [result.env]
    assert set(rows[0]["phases"]) >= {"plan", "provision", "suites", "teardown"}
    assert rows[0]["services"]["db"]["declared_version"] == "15.4"


def test_version_drift_is_recorded(engine: Engine, world: FakeWorld, tmp_path: Path) -> None:
    world.behaviours["db"] = FakeBehaviour(version="15.18")
    world.behaviours["cache"] = FakeBehaviour(version="7.2.4")
    data = engine.run(blueprint(tmp_path), runtime="fake").to_dict()
    assert data["version_drift"] == [{"service": "db", "declared": "15.4", "running": "15.18"}]
    assert data["services"]["cache"]["version_drift"] is False


def test_up_detaches_and_down_removes(engine: Engine, world: FakeWorld, tmp_path: Path) -> None:
    session = engine.up(blueprint(tmp_path), runtime="fake")
    [record] = engine.state.environments()
    assert record.id == session.env_id
    assert record.mode == "up" and record.owner_pid is None
    assert set(record.services) == {"db", "cache", "api", "web"}
    assert engine.down(session.env_id) == []
    assert engine.state.environments() == []
    assert world.running == {}


def test_teardown_runs_once(engine: Engine, world: FakeWorld, tmp_path: Path) -> None:
    session = engine.up(blueprint(tmp_path), runtime="fake")
    session.teardown()
    session.teardown()
    assert [c for c in world.calls if c[0] == "destroy"] == [("destroy", session.env_id)]


def test_state_is_safe_under_concurrent_writers(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    taken: list[int] = []
    lock = threading.Lock()

    def reserve(n: int) -> None:
        for _ in range(15):
            port = store.reserve_port(f"env-{n}", iter(range(45000, 45100)))
            with lock:
                taken.append(port)

    threads = [threading.Thread(target=reserve, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 60 and len(set(taken)) == 60
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("SELECT count(*) FROM ports").fetchone()[0] == 60


def test_suites_see_the_host_view_of_addresses(
    engine: Engine, world: FakeWorld, tmp_path: Path
) -> None:
    check = 'test \\"$ENVCTL_DB_HOST\\" = 127.0.0.1 && test \\"$T\\" = 127.0.0.1'
    text = BLUEPRINT.replace('run: "true"', f'run: "{check}", env: {{T: "${{db.host}}"}}')
    loaded = blueprint(tmp_path, text)
    result = engine.run(loaded, runtime="fake", selection=Selection(suites=["slow"]))
    assert result.suites[0].status is SuiteStatus.passed, result.suites[0].log.read_text()
    assert result.services["db"].host == "127.0.0.1"


def test_a_state_store_that_fails_does_not_stop_teardown(
    engine: Engine, world: FakeWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = engine.up(blueprint(tmp_path), runtime="fake")

    def broken(*args: object) -> None:
        raise StateError("database is locked")

    monkeypatch.setattr(StateStore, "set_status", broken)
    monkeypatch.setattr(StateStore, "remove", broken)
    leftovers = session.teardown()
    assert world.running == {}, "every service was stopped all the same"
    assert ("destroy", session.env_id) in world.calls
    assert leftovers == ["state not updated: database is locked"]


def test_only_one_process_tears_an_environment_down(engine: Engine, tmp_path: Path) -> None:
    session = engine.up(blueprint(tmp_path), runtime="fake")
    assert engine.state.claim_teardown(session.env_id) is True
    assert engine.state.claim_teardown(session.env_id) is False
    record = engine.state.get(session.env_id)
    assert engine.destroy(record, wait=0.3) == [
        f"{session.env_id} is still being torn down by another envctl process"
    ]


def test_down_refuses_an_environment_held_on_another_host(engine: Engine, tmp_path: Path) -> None:
    session = engine.up(blueprint(tmp_path), runtime="fake", hold=False)
    with sqlite3.connect(engine.settings.state_db) as db:
        db.execute(
            "UPDATE environments SET mode='run', owner_pid=1, owner_started=1, "
            "owner_host='ci-runner-7' WHERE id=?",
            (session.env_id,),
        )
    with pytest.raises(UsageError, match="held by an envctl process on host 'ci-runner-7'"):
        engine.down(session.env_id)


def test_an_environment_id_drawn_twice_is_drawn_again(
    engine: Engine, world: FakeWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws = iter(["aaaaaa", "aaaaaa", "bbbbbb"])
    monkeypatch.setattr("orchestrator.session.random_source.token_hex", lambda n: next(draws))
    first = engine.up(blueprint(tmp_path), runtime="fake")
    second = engine.up(blueprint(tmp_path), runtime="fake")
    assert (first.env_id, second.env_id) == ("shop-aaaaaa", "shop-bbbbbb")


def test_a_service_the_runtime_cannot_measure_is_charged_what_it_requested(
    tmp_path: Path, engine: Engine
) -> None:
    # The fake runtime takes no readings: a 2-core request still costs 2 cores' time.
    text = BLUEPRINT.replace(
        'db: {image: "postgres:15.4", ports: [5432]}',
        'db: {image: "postgres:15.4", ports: [5432], resources: {cpu: 2}}',
    )
    result = engine.run(blueprint(tmp_path, text))
    assert result.status is RunStatus.passed
    assert result.cost is not None
    cost = result.cost
    seconds = cost["usage"]["db"]["total"]["seconds"]
    assert seconds > 0
    per_hour = cost["prices"]["usd_per_vcpu_hour"]["value"]
    expected = 2 * seconds * per_hour / 3600
    assert cost["by_service"]["db"]["cpu_usd"] == pytest.approx(expected, rel=0.05, abs=1e-8)
    assert cost["by_service"]["cache"]["cpu_usd"] == 0
