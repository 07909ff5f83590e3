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
from orchestrator.secrets import Redactor
from orchestrator.settings import Settings
from tests.unit.report.run_samples import record

SECRET = 'p&ss<w0rd"'


def envctl(settings: Settings, *args: str, redactor: Redactor | None = None) -> Result:
    app = App(_settings=settings, redactor=redactor or Redactor())
    return CliRunner().invoke(cli, list(args), obj=app)


@pytest.fixture
def kept(settings: Settings, passed: dict[str, Any], contract_junit: str) -> dict[str, Any]:
    """The demo run recorded, with its suite's JUnit in its run dir, where it wrote it."""
    data = record(settings, passed)
    junit = Path(data["run_dir"]) / "contract.xml"
    junit.write_text(contract_junit)
    data["suites"][0]["junit"] = str(junit)
    (Path(data["run_dir"]) / "result.json").write_text(json.dumps(data, indent=2))
    return data


def test_each_format_on_stdout_masked(settings: Settings, kept: dict[str, Any]) -> None:
    """What this process knows to be secret is masked in every format: in the run's JSON
    and in the suite's JUnit, raw and as the file escaped it."""
    junit = Path(kept["suites"][0]["junit"])
    junit.write_text(junit.read_text().replace("test_health_is_ok", "test_p&amp;ss&lt;w0rd&quot;"))
    kept["warnings"] = [f"a warning that quotes {SECRET}"]
    (Path(kept["run_dir"]) / "result.json").write_text(json.dumps(kept, indent=2))
    redactor = Redactor()
    redactor.add(SECRET)
    for fmt in files.FORMATS:
        result = envctl(settings, "report", kept["env"], "--format", fmt, redactor=redactor)
        assert result.exit_code == 0, result.output
        for form in (SECRET, "p&amp;ss", "w0rd"):
            assert form not in result.stdout, (fmt, form)
        masked = redactor.redact_data(kept)
        assert isinstance(masked, dict)
        expected = files.render(masked, fmt, files.suite_files(masked, redactor), redactor)
        assert result.stdout == expected
        if fmt != "junit":  # JUnit has no place for warnings; Markdown escapes the mask
            assert "quotes ***" in result.stdout.replace("\\*", "*"), fmt
    (case, *_) = ET.fromstring(
        envctl(settings, "report", kept["env"], "--format", "junit", redactor=redactor).stdout
    ).iter("testcase")
    assert case.get("name") == "test_***"


def test_junit_merges_the_suites_own_file(
    settings: Settings, kept: dict[str, Any], contract_junit: str
) -> None:
    result = envctl(settings, "report", kept["env"], "--format", "junit")
    merged = len(list(ET.fromstring(result.stdout).iter("testcase")))
    assert merged == len(list(ET.fromstring(contract_junit).iter("testcase")))


def test_junit_is_the_one_written_at_run_time_when_it_is_there(
    settings: Settings, kept: dict[str, Any]
) -> None:
    """It was merged while the run's secrets were known; this process knows none."""
    run_dir = Path(kept["run_dir"])
    (run_dir / "envctl-junit.xml").write_text("<testsuites><!-- at run time --></testsuites>\n")
    Path(kept["suites"][0]["junit"]).write_text(f'<testcase name="{SECRET}"/>')  # later
    result = envctl(settings, "report", kept["env"], "--format", "junit")
    assert result.exit_code == 0, result.output
    assert result.stdout == "<testsuites><!-- at run time --></testsuites>\n"
    out = run_dir.parent / "copy.xml"
    envctl(settings, "report", kept["env"], "--out", str(out))
    assert out.read_text() == result.stdout


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


@pytest.mark.parametrize("where", ["a-file/report.html", "a-file/sub/report.html"])
def test_an_out_that_cannot_be_written_is_one_message(
    settings: Settings, kept: dict[str, Any], tmp_path: Path, where: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A file where a directory should be (FileExistsError, NotADirectoryError): no
    traceback, but the path and a hint."""
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(settings.state_dir))
    out = tmp_path / where
    with pytest.raises(SystemExit) as exit_:
        main(["report", kept["env"], "--out", str(out)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"envctl: error: cannot write --out {str(out)!r}: ")
    assert err.endswith("  hint: give --out a file in a directory this user can write\n")
    assert "Traceback" not in err and len(err.splitlines()) == 2
