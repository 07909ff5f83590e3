"""`envctl audit` (static and live) and `envctl audit history`, and the audit's renderings.

The live path runs against a monkeypatched ``orchestrator.audit.live.observe``: a real
live audit needs a running environment, which the integration tests provide.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from orchestrator.audit import live, render
from orchestrator.audit.declared import from_blueprint
from orchestrator.audit.model import AuditResult, Difference, Dimension, DimensionScore
from orchestrator.audit.score import audit
from orchestrator.blueprint.loader import LoadedBlueprint, load
from orchestrator.cli.common import App
from orchestrator.cli.main import cli, main
from orchestrator.exceptions import EnvironmentNotFound, StateError
from orchestrator.profile import ProductionProfile
from orchestrator.profile import load as load_profile
from orchestrator.settings import Settings
from orchestrator.state import StateStore

PRODUCTION = """\
apiVersion: envctl/v1
kind: ProductionProfile
metadata: {name: shop-production}
services:
  db:
    image: "postgres:15.4"
    replicas: 1
    tables:
      orders: {rows: 1000000}
  api:
    image: "shop-api:2.3.1"
    replicas: 1
edges:
  - {from: api, to: db, latency: {p50: 40ms, p95: 80ms, p99: 100ms}}
"""

BLUEPRINT = """\
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: shop}
profile: production.yaml
services:
  db: {image: "postgres:15.4", engine: postgres, ports: [5432]}
  api: {image: "shop-api:2.3.1", ports: [8000]}
links:
  - {from: api, to: db, latency: {p50: 40ms, p95: 80ms, p99: 100ms}}
data:
  - service: db
    tables:
      orders: {scale: 1}
"""

DRIFTED = BLUEPRINT.replace("postgres:15.4", "postgres:13.4").replace("scale: 1", "scale: 0.01")


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no ./blueprints/ of the repository to resolve names in
    (tmp_path / "production.yaml").write_text(PRODUCTION)
    (tmp_path / "shop.yaml").write_text(BLUEPRINT)
    (tmp_path / "drifted.yaml").write_text(DRIFTED)
    return tmp_path


def envctl(state_dir: Path, *args: str) -> Result:
    app = App(_settings=Settings(state_dir=state_dir))
    return CliRunner().invoke(cli, list(args), obj=app)


def exit_of(argv: list[str], state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> int | str | None:
    """The real entry point, for what it does with errors: message, no traceback, code."""
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(state_dir))
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    return exit_.value.code


# static audits ----------------------------------------------------------------------------


def test_a_blueprint_is_audited_against_its_profile(shop: Path) -> None:
    result = envctl(shop / "state", "audit", "shop.yaml")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "fidelity 100.0/100 · static audit of shop.yaml against production.yaml"
    shape = next(line for line in lines if line.startswith("data_shape"))
    assert shape.split()[1] == "-"  # neither side has column statistics
    assert shape.endswith("nothing to compare")


def test_json_carries_every_dimension_and_the_threshold(shop: Path) -> None:
    result = envctl(shop / "state", "audit", "drifted.yaml", "-o", "json", "--fail-under", "10")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "static"
    assert data["fail_under"] == 10
    assert set(data["dimensions"]) == {d.value for d in Dimension}
    [version] = data["dimensions"]["versions"]["differences"]
    assert (version["production"], version["environment"], version["score"]) == ("15.4", "13.4", 0)
    assert data["dimensions"]["data_volume"]["score"] == 0.0


@pytest.mark.parametrize(
    ("blueprint", "threshold", "code"),
    [("shop.yaml", "90", 0), ("drifted.yaml", "90", 5), ("drifted.yaml", "0", 0)],
)
def test_fail_under_exits_5_below_the_threshold(
    shop: Path, blueprint: str, threshold: str, code: int
) -> None:
    result = envctl(shop / "state", "audit", blueprint, "--fail-under", threshold)
    assert result.exit_code == code, result.output
    if code:
        assert "is below --fail-under 90" in result.stderr


def test_a_threshold_outside_0_to_100_is_bad_input(shop: Path) -> None:
    result = envctl(shop / "state", "audit", "shop.yaml", "--fail-under", "120")
    assert result.exit_code == 2
    assert "--fail-under" in result.stderr


def test_profile_overrides_the_blueprints_own(shop: Path) -> None:
    other = shop / "other.yaml"
    other.write_text(PRODUCTION.replace("shop-api:2.3.1", "shop-api:3.0.0"))
    result = envctl(shop / "state", "audit", "shop.yaml", "--profile", str(other), "-o", "json")
    data = json.loads(result.stdout)
    assert data["profile"] == "other.yaml"
    assert data["dimensions"]["versions"]["score"] == pytest.approx(50.0)


def test_without_a_profile_audit_says_how_to_give_one(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = BLUEPRINT.replace("profile: production.yaml\n", "").replace("scale: 1", "rows: 10")
    (shop / "bare.yaml").write_text(bare)
    assert exit_of(["audit", "bare.yaml"], shop / "state", monkeypatch) == 2
    err = capsys.readouterr().err
    assert "no production profile to audit 'shop' against" in err
    assert "hint: give --profile FILE, or set `profile:" in err
    assert "Traceback" not in err


def test_a_missing_blueprint_file_and_a_bad_profile_are_bad_input(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_of(["audit", "missing.yaml"], shop / "state", monkeypatch) == 2
    assert "not found" in capsys.readouterr().err
    (shop / "broken.yaml").write_text("apiVersion: envctl/v1\nkind: Blueprint\n")
    assert exit_of(["audit", "shop.yaml", "--profile", "broken.yaml"], shop, monkeypatch) == 2
    assert "broken.yaml:" in capsys.readouterr().err


def test_errors_come_out_as_json_under_o_json(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["audit", "shop.yaml", "-o", "json", "--profile", "nope.yaml"]
    assert exit_of(argv, shop / "state", monkeypatch) == 2
    assert json.loads(capsys.readouterr().out)["error"]["type"] == "BlueprintError"


def test_markdown_is_a_step_summary(shop: Path) -> None:
    result = envctl(shop / "state", "audit", "drifted.yaml", "-o", "markdown")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("### envctl fidelity: ")
    assert "| data\\_volume | 0.0 | 0.20 | 1 |" in text
    assert "#### data\\_volume: 0.0" in text


def test_the_help_shows_both_forms_and_target_help_its_options(shop: Path) -> None:
    group = envctl(shop / "state", "audit", "--help")
    assert group.exit_code == 0
    assert "envctl audit history NAME" in group.stdout
    assert "Exit codes: 0 at or above --fail-under" in group.stdout
    target = envctl(shop / "state", "audit", "shop.yaml", "--help")
    assert "Usage: cli audit [OPTIONS] TARGET" in target.stdout
    assert "--fail-under N" in target.stdout


# live audits ------------------------------------------------------------------------------


@pytest.fixture
def observed(shop: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``live.observe`` answering for one environment, 'shop-1a2b', with drifted rows."""
    asked: list[str] = []
    loaded = load(shop / "shop.yaml")

    def observe(settings: Settings, env_id: str) -> tuple[LoadedBlueprint, ProductionProfile]:
        asked.append(env_id)
        if env_id != "shop-1a2b":
            raise EnvironmentNotFound(f"no live environment {env_id!r}", hint="live: shop-1a2b")
        profile = from_blueprint(load(shop / "drifted.yaml"))
        return loaded, profile

    monkeypatch.setattr(live, "observe", observe)
    return asked


def test_a_live_environment_is_audited_by_its_id(shop: Path, observed: list[str]) -> None:
    result = envctl(shop / "state", "audit", "shop-1a2b", "-o", "json", "--fail-under", "90")
    assert result.exit_code == 5, result.output
    data = json.loads(result.stdout)
    assert (data["kind"], data["subject"], data["profile"]) == (
        "live",
        "shop-1a2b",
        "production.yaml",
    )
    assert observed == ["shop-1a2b"]


def test_an_unknown_target_is_neither_a_blueprint_nor_an_environment(
    shop: Path,
    observed: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert exit_of(["audit", "shop-0000"], shop / "state", monkeypatch) == 2
    err = capsys.readouterr().err
    assert "'shop-0000' is neither a blueprint file nor a live environment" in err
    assert "hint: give a blueprint file for a static audit; live: shop-1a2b" in err


def test_an_environment_that_cannot_be_read_is_exit_3(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def observe(settings: Settings, env_id: str) -> tuple[LoadedBlueprint, ProductionProfile]:
        raise StateError("state database error: disk I/O error")

    monkeypatch.setattr(live, "observe", observe)
    assert exit_of(["audit", "shop-1a2b"], shop / "state", monkeypatch) == 3
    assert "disk I/O error" in capsys.readouterr().err


# history ----------------------------------------------------------------------------------

NOW = datetime.now(UTC)


def summary(env: str, ago: timedelta, blueprint: str = "shop", **extra: Any) -> dict[str, Any]:
    started = NOW - ago
    return {
        "env": env,
        "blueprint": blueprint,
        "runtime": "local",
        "status": "passed",
        "started_at": started.isoformat(),
        "finished_at": (started + timedelta(minutes=2)).isoformat(),
        **extra,
    }


@pytest.fixture
def recorded(shop: Path) -> Path:
    production, _ = load_profile(shop / "production.yaml")

    def fidelity(blueprint: str) -> dict[str, Any]:
        declared = from_blueprint(load(shop / blueprint))
        result = audit(
            production, declared, subject="e", kind="live", profile_name="production.yaml"
        )
        return result.to_dict()

    state = shop / "state"
    store = StateStore(Settings(state_dir=state).state_db)
    store.record_run(summary("shop-old", timedelta(days=40), fidelity=fidelity("shop.yaml")))
    store.record_run(summary("shop-good", timedelta(days=3), fidelity=fidelity("shop.yaml")))
    store.record_run(summary("shop-drift", timedelta(days=1), fidelity=fidelity("drifted.yaml")))
    store.record_run(summary("shop-noaudit", timedelta(hours=5)))
    store.record_run(
        summary("other-1", timedelta(hours=2), "other", fidelity=fidelity("shop.yaml"))
    )
    return state


def test_history_lists_the_audited_runs_of_one_blueprint_oldest_first(recorded: Path) -> None:
    result = envctl(recorded, "audit", "history", "shop", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["env"] for r in data["runs"]] == ["shop-good", "shop-drift"]  # the last 30 days
    good, drift = data["runs"]
    assert good["overall"] == 100.0
    assert drift["overall"] < good["overall"]
    assert drift["dimensions"]["versions"] == pytest.approx(50.0)
    assert drift["dimensions"]["data_shape"] is None
    assert set(drift["dimensions"]) == {d.value for d in Dimension}


def test_history_text_shows_date_env_overall_and_each_dimension(recorded: Path) -> None:
    result = envctl(recorded, "audit", "history", "shop", "--since", "60d")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("fidelity of shop since ")
    assert lines[0].endswith(": 3 runs")
    assert lines[1].split() == [
        "DATE", "ENV", "OVERALL", "VERSIONS", "TOPOLOGY", "RESOURCES",
        "DATA_VOLUME", "DATA_SHAPE", "LATENCY",
    ]  # fmt: skip
    assert [line.split()[2] for line in lines[2:]] == ["shop-old", "shop-good", "shop-drift"]
    assert lines[4].split()[3:6] == [f"{float(lines[4].split()[3]):.1f}", "50.0", "100.0"]


def test_history_markdown_is_a_table(recorded: Path) -> None:
    result = envctl(recorded, "audit", "history", "shop", "-o", "markdown")
    assert "| date | env | overall | versions |" in result.stdout
    assert result.stdout.count("| shop-") == 2


def test_an_empty_history_says_so_and_creates_no_state(shop: Path) -> None:
    result = envctl(shop / "state", "audit", "history", "shop")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("no audited runs of blueprint 'shop' since ")
    assert not (shop / "state").exists()
    empty = json.loads(envctl(shop / "state", "audit", "history", "shop", "-o", "json").stdout)
    assert empty["runs"] == []


def test_a_blueprint_file_stands_for_its_name_in_history(recorded: Path, shop: Path) -> None:
    data = json.loads(envctl(recorded, "audit", "history", "shop.yaml", "-o", "json").stdout)
    assert data["blueprint"] == "shop"
    assert len(data["runs"]) == 2


def test_a_bad_since_is_bad_input(
    recorded: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_of(["audit", "history", "shop", "--since", "soon"], recorded, monkeypatch) == 2
    assert "--since 'soon' is neither a duration nor a date" in capsys.readouterr().err


# rendering --------------------------------------------------------------------------------


def sample() -> AuditResult:
    versions = DimensionScore(
        Dimension.versions,
        40.0,
        [
            Difference(Dimension.versions, "cache", "7.2", "7.0", 0.8, "minor version"),
            Difference(Dimension.versions, "db", "15", "13", 0.0, "major version 13 …"),
            Difference(Dimension.versions, "api", None, "1", 1.0, "not scored: no version"),
        ],
    )
    latency = DimensionScore(
        Dimension.latency,
        10.0,
        [Difference(Dimension.latency, "a -> b p99", 0.1, 0.0, 0.0, "p99 | 0 ms")],
    )
    shape = DimensionScore(
        Dimension.data_shape,
        None,
        [Difference(Dimension.data_shape, "*", "3 columns", None, 1.0, "not scored: no stats")],
    )
    topology = DimensionScore(Dimension.topology, 100.0)
    dims = [versions, topology, shape, latency]
    return AuditResult("bp.yaml", "static", "prod.yaml", 30.0, dims)


def test_text_puts_the_worst_dimension_and_difference_first() -> None:
    text = render.render_text(sample())
    lines = text.splitlines()
    assert lines[0] == "fidelity 30.0/100 · static audit of bp.yaml against prod.yaml"
    table = {line.split()[0]: line for line in lines[3:7]}
    assert table["versions"].split()[1:4] == ["40.0", "0.25", "3"]
    assert table["topology"].endswith("none")
    assert table["data_shape"].endswith("not scored: no stats")
    groups = [line for line in lines if line and not line.startswith(" ")][6:]
    assert groups == ["latency 10.0", "versions 40.0"]
    at = lines.index("versions 40.0")
    assert [line.split()[1] for line in lines[at + 1 : at + 4]] == ["db", "cache", "api"]


def test_markdown_escapes_what_would_break_a_table() -> None:
    text = render.render_markdown(sample())
    assert "| 0.00 | a -\\> b p99 | p99 \\| 0 ms |" in text
    assert "| data\\_shape | - | 0.15 | not scored: no stats |" in text
    assert "| **overall** | **30.0** | | |" in text
    assert text.index("#### latency") < text.index("#### versions")
