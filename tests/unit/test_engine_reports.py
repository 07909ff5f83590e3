"""Every recorded run keeps report.html and envctl-junit.xml next to its result.json:
`envctl run`, the Python API and the pytest plugin alike, and a run that ends in a bug;
a report that cannot be written never changes the run's outcome."""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from orchestrator.blueprint.loader import LoadedBlueprint, loads
from orchestrator.engine import Engine
from orchestrator.report import files
from orchestrator.result import RunStatus
from orchestrator.runtime.fake import FakeBehaviour, FakeRuntime, FakeWorld
from orchestrator.session import Session
from orchestrator.settings import Settings
from orchestrator.suites import SuiteStatus

SECRET = 'tok&en<0123456789"'
BLUEPRINT = """
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: shop}
services:
  api:
    image: "api:1.0"
    ports: [8000]
    env: {TOKEN: "${secret.API_TOKEN}"}
suites:
  - name: unit
    junit: unit.xml
    run: >-
      python -c "from xml.etree import ElementTree as ET;
      case = ET.Element('testcase', name='test_token', classname='t');
      ET.SubElement(case, 'failure', message='token ' + open('token').read());
      ET.ElementTree(case).write('unit.xml')"; exit 1
"""


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


@pytest.fixture
def engine(settings: Settings, world: FakeWorld) -> Engine:
    settings = Settings(
        state_dir=settings.state_dir,
        work_root=settings.state_dir.parent / "work",
        environ={"ENVCTL_SECRET_API_TOKEN": SECRET},
    )
    return Engine(settings, runtime_factory=lambda name, s: FakeRuntime(s, world))


@pytest.fixture
def shop(tmp_path: Path) -> LoadedBlueprint:
    """A suite that writes its own JUnit, quoting the secret as XML escapes it."""
    path = tmp_path / "shop.yaml"
    path.write_text(textwrap.dedent(BLUEPRINT), encoding="utf-8")
    (tmp_path / "token").write_text(SECRET)
    return loads(path.read_text(), str(path))


def reports(run_dir: str | Path) -> tuple[str, ET.Element]:
    run_dir = Path(run_dir)
    assert (run_dir / "result.json").is_file()
    return (run_dir / "report.html").read_text(), ET.parse(run_dir / "envctl-junit.xml").getroot()


def test_a_run_keeps_its_page_and_junit_masked(engine: Engine, shop: LoadedBlueprint) -> None:
    result = engine.run(shop, runtime="fake")
    assert result.status is RunStatus.failed
    # The suite wrote `tok&amp;en&lt;…`; the session masked its file in place.
    assert "0123456789" not in (shop.directory / "unit.xml").read_text()
    html, junit = reports(result.run_dir)
    assert f'data-env="{result.env}"' in html and 'data-status="failed"' in html
    (case,) = junit.iter("testcase")
    failure = case.find("failure")
    assert failure is not None and failure.get("message") == "token ***"
    text = (Path(result.run_dir) / "envctl-junit.xml").read_text()
    assert "0123456789" not in text and "0123456789" not in html


def test_the_python_api_gets_them_too(engine: Engine, shop: LoadedBlueprint) -> None:
    """Engine.open/close, as `envctl.environment()` and the pytest plugin use it."""
    session = engine.open(shop, runtime="fake")
    result = engine.close(session, RunStatus.passed)
    html, junit = reports(result.run_dir)
    assert 'data-status="passed"' in html
    assert junit.get("tests") == "0" and junit.findall("testsuite") == []


def test_an_errored_run_gets_them(engine: Engine, world: FakeWorld, shop: LoadedBlueprint) -> None:
    world.behaviours["api"] = FakeBehaviour(start_error="image api:1.0 not found")
    result = engine.run(shop, runtime="fake")
    assert result.status is RunStatus.error
    _, junit = reports(result.run_dir)
    (envctl,) = junit.findall("testsuite")
    assert envctl.get("name") == "envctl" and envctl.get("errors") == "1"


def test_a_run_that_ends_in_a_bug_gets_them(
    engine: Engine, shop: LoadedBlueprint, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(self: Session, *args: object) -> None:
        raise KeyError("a bug in envctl")

    monkeypatch.setattr(Session, "run_suites", bug)
    with pytest.raises(KeyError):
        engine.run(shop, runtime="fake")
    (run_dir,) = engine.settings.runs_dir.iterdir()
    html, _ = reports(run_dir)
    assert 'data-status="error"' in html


def test_a_report_that_fails_never_changes_the_outcome(
    engine: Engine, shop: LoadedBlueprint, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(files, "render", broken)
    with caplog.at_level(logging.ERROR, logger="orchestrator.engine"):
        result = engine.run(shop, runtime="fake")
    assert result.status is RunStatus.failed
    assert result.suites[0].status is SuiteStatus.failed
    recorded = json.loads((Path(result.run_dir) / "result.json").read_text())
    assert recorded["status"] == "failed"
    assert not (Path(result.run_dir) / "report.html").exists()
    assert f"could not write the reports of run {result.env}: RuntimeError: renderer bug" in (
        caplog.text
    )
