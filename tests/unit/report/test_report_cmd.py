"""`envctl report [RUN]`: a recorded run rendered on stdout or into a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner, Result

from orchestrator.cli.common import App
from orchestrator.cli.main import cli, main
from orchestrator.report import files
from orchestrator.settings import Settings
from tests.unit.report.run_samples import record


def envctl(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=App(_settings=settings))


@pytest.fixture
def kept(settings: Settings, passed: dict[str, Any], contract_junit: str) -> dict[str, Any]:
    """The demo run recorded, with its suite's JUnit in its run dir, where it wrote it."""
    data = record(settings, passed)
    junit = Path(data["run_dir"]) / "contract.xml"
    junit.write_text(contract_junit)
    data["suites"][0]["junit"] = str(junit)
    (Path(data["run_dir"]) / "result.json").write_text(json.dumps(data, indent=2))
    return data


def test_each_format_on_stdout(settings: Settings, kept: dict[str, Any]) -> None:
    for fmt in files.FORMATS:
        result = envctl(settings, "report", kept["env"], "--format", fmt)
        assert result.exit_code == 0, result.output
        assert result.stdout == files.render(kept, fmt, files.suite_files(kept, str))


def test_junit_merges_the_suites_own_file(settings: Settings, kept: dict[str, Any]) -> None:
    result = envctl(settings, "report", kept["env"], "--format", "junit")
    assert len(list(ET.fromstring(result.stdout).iter("testcase"))) == 24


def test_html_by_default_and_the_latest_run(settings: Settings, kept: dict[str, Any]) -> None:
    result = envctl(settings, "report")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!DOCTYPE html>")
    assert f'data-env="{kept["env"]}"' in result.stdout


def test_out_writes_a_file_in_the_format_its_name_asks_for(
    settings: Settings, kept: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "new" / "summary.md"
    result = envctl(settings, "report", kept["env"], "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert out.read_text() == files.render(kept, "markdown", {})
    assert f"wrote markdown report of {kept['env']} to {out}" in result.stderr
    forced = tmp_path / "summary.txt"
    envctl(settings, "report", kept["env"], "--out", str(forced), "--format", "json")
    assert json.loads(forced.read_text()) == kept


def test_an_unknown_run_is_one_message_with_recent_ids(
    settings: Settings, kept: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(settings.state_dir))
    with pytest.raises(SystemExit) as exit_:
        main(["report", "checkout-ffff"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "envctl: error: no recorded run 'checkout-ffff' (neither an env id nor a result.json)\n"
        f"  hint: recent runs: {kept['env']}\n"
    )


def test_a_bad_format_is_a_usage_error(settings: Settings, kept: dict[str, Any]) -> None:
    result = envctl(settings, "report", kept["env"], "--format", "pdf")
    assert result.exit_code == 2 and "'pdf' is not one of" in result.stderr
