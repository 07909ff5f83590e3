"""``orchestrator.Environment`` over the in-memory fake runtime: lifecycle and records."""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestrator import Endpoint, Environment
from orchestrator.blueprint.loader import LoadedBlueprint, load
from orchestrator.exceptions import BlueprintError, ServiceError, UsageError
from orchestrator.result import RunStatus, ServiceResult
from orchestrator.runtime.fake import FakeBehaviour, FakeRuntime, FakeWorld
from orchestrator.settings import Settings
from orchestrator.state import StateStore

BLUEPRINT = """
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: shop, owner: team-a}
secrets:
  DB_PASSWORD: {generate: true}
services:
  db:
    image: "postgres:15"
    engine: postgres
    ports: [5432]
    env: {POSTGRES_USER: app, POSTGRES_PASSWORD: "${secret.DB_PASSWORD}", POSTGRES_DB: shop}
  cache: {image: "redis:7", ports: [6379]}
  web: {image: "web:2", ports: [80], depends_on: [db, cache]}
links:
  - {from: suite, to: web}
"""


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


@pytest.fixture
def loaded(tmp_path: Path) -> LoadedBlueprint:
    path = tmp_path / "shop.yaml"
    path.write_text(textwrap.dedent(BLUEPRINT), encoding="utf-8")
    return load(path)


Make = Callable[..., Environment]


@pytest.fixture
def make(settings: Settings, world: FakeWorld, loaded: LoadedBlueprint, tmp_path: Path) -> Make:
    """Environments of the shop blueprint on the fake runtime, in a private state dir."""
    settings = Settings(state_dir=settings.state_dir, work_root=tmp_path / "work")

    def build(**options: Any) -> Environment:
        return Environment(
            loaded,
            "fake",
            settings=settings,
            runtime_factory=lambda name, s: FakeRuntime(s, world),
            **options,
        )

    return build


def _runs(env: Environment) -> list[dict[str, object]]:
    return StateStore(env.engine.settings.state_db).runs()


def test_nothing_starts_until_entered_and_everything_goes_on_exit(
    make: Make, world: FakeWorld
) -> None:
    env = make()
    assert world.calls == [], "loading and constructing start nothing"
    with env:
        assert {name for _, name in world.running} == {"db", "cache", "web", "envctl-proxy"}
        assert list(env.services) == ["db", "cache", "web"], "in blueprint order"
        db = env.endpoint("db")
        assert isinstance(db, Endpoint) and db.host == "127.0.0.1" and db.port
        assert env.url("db").startswith("postgresql://app:") and env.url("db").endswith(
            f"@127.0.0.1:{db.port}/shop"
        )
        assert env.env_file.is_file()
        direct = env.session.services["web"].port
        assert env.endpoint("web").port != direct, "the suites' view: through the suite link"
        env_id = env.env_id
    assert world.running == {}
    assert StateStore(env.engine.settings.state_db).environments() == []
    result = env.result
    assert result.status is RunStatus.passed and result.env == env_id
    assert result.leftovers == []
    recorded = json.loads((Path(result.run_dir) / "result.json").read_text())
    assert recorded["env"] == env_id and recorded["status"] == "passed"
    assert [r["env"] for r in _runs(env)] == [env_id]


def test_the_password_is_in_the_url_but_not_in_its_repr(make: Make) -> None:
    with make() as env:
        db = env.endpoint("db")
        password = db.url.split(":")[2].split("@")[0]
        assert len(password) >= 16
        assert password not in repr(db) and password not in repr(env.services)
        assert "app:…@127.0.0.1" in repr(db)
    recorded = json.loads((env.run_dir / "result.json").read_text())
    assert password not in json.dumps(recorded)
    # The result is what was recorded (and what `envctl run -o json` prints): redacted.
    assert env.result.to_dict() == recorded
    assert env.result.services["db"].url == f"postgresql://app:***@127.0.0.1:{db.port}/shop"
    assert password not in repr(env.result) and env.result.status is RunStatus.passed


def test_a_result_repr_hides_url_passwords_even_unknown_ones() -> None:
    service = ServiceResult(
        "db", "127.0.0.1", 5432, "postgresql://app:literal-pw@127.0.0.1:5432/shop", "15", "15.4",
        0.1, 0.0,
    )  # fmt: skip
    assert "literal-pw" not in repr(service)
    assert "url='postgresql://app:…@127.0.0.1:5432/shop'" in repr(service)
    assert "version='15.4'" in repr(service)


def test_an_exception_in_the_body_tears_down_and_is_recorded(make: Make, world: FakeWorld) -> None:
    env = make()
    with pytest.raises(ZeroDivisionError), env:
        _ = 1 / 0
    assert world.running == {}
    assert env.result.status is RunStatus.error
    error = env.result.to_dict()["error"]
    assert error["type"] == "ZeroDivisionError" and "division by zero" in error["message"]
    assert "bug in envctl" not in error["hint"]
    assert _runs(env)[0]["status"] == "error"


def test_keyboard_interrupt_in_the_body_still_tears_down(make: Make, world: FakeWorld) -> None:
    env = make()
    with pytest.raises(KeyboardInterrupt), env:
        raise KeyboardInterrupt
    assert world.running == {}
    assert env.result.to_dict()["error"]["type"] == "KeyboardInterrupt"
    assert env.result.to_dict()["teardown"]["complete"] is True


def test_a_service_that_cannot_start_raises_and_leaves_nothing(
    make: Make, world: FakeWorld
) -> None:
    world.behaviours["cache"] = FakeBehaviour(start_error="image redis:7 not found")
    env = make()
    with pytest.raises(ServiceError, match="redis:7 not found"), env:
        pytest.fail("the body must not run when the environment could not start")
    assert world.running == {}
    assert StateStore(env.engine.settings.state_db).environments() == []
    assert _runs(env)[0]["status"] == "error", "the failed start is recorded as a run"
    with pytest.raises(UsageError, match="not started") as caught:
        env.url("db")
    assert "could not start" in (caught.value.hint or "")


def test_unknown_names_are_answered_with_the_valid_ones(make: Make) -> None:
    with make() as env:
        with pytest.raises(UsageError, match="no service 'dbb'") as service:
            env.endpoint("dbb")
        assert service.value.hint == "services: db, cache, web"
        with pytest.raises(UsageError, match="no link 'web-db'") as link:
            env.faults("web-db")
        assert link.value.hint == "links: suite-web"


def test_bad_faults_are_refused_before_reaching_the_proxy(make: Make) -> None:
    with make() as env:
        with pytest.raises(UsageError, match="unknown fault type 'lag'") as kind:
            env.add_fault("suite-web", "lag")
        assert "latency" in (kind.value.hint or "")
        with pytest.raises(UsageError, match="bad latency fault"):
            env.add_fault("suite-web", "latency", mean="-1s")


def test_a_blueprint_without_links_has_no_faults(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text(
        "apiVersion: envctl/v1\nkind: Blueprint\nmetadata: {name: plain}\n"
        "services:\n  web: {image: 'web:1', ports: [80]}\n",
        encoding="utf-8",
    )
    world = FakeWorld()
    env = Environment(
        load(path), "fake", settings=settings, runtime_factory=lambda n, s: FakeRuntime(s, world)
    )
    with env, pytest.raises(UsageError, match="no link") as caught:
        env.faults("suite-web")
    assert "declare `links:`" in (caught.value.hint or "")


def test_used_before_start_or_after_close_it_says_so(make: Make) -> None:
    env = make()
    for use in (lambda: env.url("db"), lambda: env.services, lambda: env.result, env.close):
        with pytest.raises(UsageError, match="not started|no result"):
            use()
    with env:
        pass
    with pytest.raises(UsageError, match="was torn down"):
        env.url("db")
    with pytest.raises(UsageError, match="already started"):
        env.start()
    assert env.close() is env.result, "closing again returns the recorded result"


def test_it_runs_from_a_thread_that_is_not_the_main_one(make: Make, world: FakeWorld) -> None:
    seen: list[object] = []

    def body() -> None:
        try:
            with make() as env:
                seen.append(env.url("cache"))
            seen.append(env.result.status)
        except BaseException as exc:
            seen.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert len(seen) == 2 and str(seen[0]).startswith("http://127.0.0.1:"), seen
    assert seen[1] is RunStatus.passed
    assert world.running == {}


def test_labels_reach_the_environment(make: Make) -> None:
    with make(labels={"envctl.pytest-worker": "gw3"}) as env:
        assert env.session.env.labels["envctl.pytest-worker"] == "gw3"
        assert env.session.env.labels["envctl.blueprint"] == "shop"


def test_a_broken_blueprint_fails_to_load_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "apiVersion: envctl/v1\nkind: Blueprint\nmetadata: {name: broken}\n"
        "services:\n  web: {image: 'web:1', portz: [80]}\n",
        encoding="utf-8",
    )
    with pytest.raises(BlueprintError) as caught:
        Environment.from_blueprint(path, state_dir=tmp_path / "state")
    assert f"{path}:5:" in caught.value.render()
    assert not (tmp_path / "state").exists(), "nothing was started, nothing was written"


def test_an_unknown_runtime_lists_the_valid_ones(tmp_path: Path, loaded: LoadedBlueprint) -> None:
    with pytest.raises(UsageError, match="unknown runtime 'dockr'") as caught:
        Environment.from_blueprint(loaded.path, "dockr", state_dir=tmp_path / "state")
    assert "local" in (caught.value.hint or "") and "docker" in (caught.value.hint or "")


def test_settings_come_from_the_environment_with_the_state_dir_overridden(
    tmp_path: Path, loaded: LoadedBlueprint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("ENVCTL_METERING", "off")
    env = Environment.from_blueprint(loaded.path, secrets_file=tmp_path / "s.env")
    assert env.engine.settings.state_dir == tmp_path / "from-env"
    assert env.engine.settings.metering is False
    assert env.engine.settings.secrets_file == tmp_path / "s.env"
    other = Environment.from_blueprint(loaded.path, state_dir=tmp_path / "mine")
    assert other.engine.settings.state_dir == tmp_path / "mine"
