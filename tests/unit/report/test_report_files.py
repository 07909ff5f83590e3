"""Writing a run's reports: the formats, the suites' JUnit read back, the step summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from orchestrator.report import files, junit, markdown, run_html
from orchestrator.secrets import Redactor


def test_every_format_into_a_directory(
    passed: dict[str, Any], contract_junit: str, tmp_path: Path
) -> None:
    out = tmp_path / "a" / "b"  # made as needed
    written = files.write(passed, out, files.FILE_NAMES, {"contract": contract_junit})
    assert {p.name for p in written.values()} == {
        "report.json",
        "junit.xml",
        "report.md",
        "report.html",
    }
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written.values())
    assert json.loads((out / "report.json").read_text()) == passed
    assert (out / "report.json").read_text() == json.dumps(passed, indent=2) + "\n"
    assert (out / "junit.xml").read_text() == junit.render(passed, {"contract": contract_junit})
    assert (out / "report.md").read_text() == markdown.render(passed)
    assert (out / "report.html").read_text() == run_html.render(passed)


def test_an_unknown_format_is_a_bug_not_an_empty_file(passed: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="pdf"):
        files.render(passed, "pdf", {})


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("r.html", "html"), ("R.HTM", "html"), ("j.xml", "junit"), ("s.md", "markdown"),
     ("r.json", "json"), ("report", "html"), ("r.txt", "html")],
)  # fmt: skip
def test_the_format_a_file_name_asks_for(name: str, fmt: str) -> None:
    assert files.format_for(Path(name)) == fmt
    assert files.format_for(None) == "html"


def test_suites_junit_is_read_redacted_and_missing_ones_skipped(
    passed: dict[str, Any], contract_junit: str, tmp_path: Path
) -> None:
    secret = "s3cr3t-Pa55word"
    written = tmp_path / "contract.xml"
    written.write_text(contract_junit.replace("test_health_is_ok", f"test_{secret}"))
    passed["suites"][0]["junit"] = str(written)
    passed["suites"].append({**passed["suites"][0], "name": "gone", "junit": str(tmp_path / "x")})
    passed["suites"].append({**passed["suites"][0], "name": "none", "junit": None})
    redactor = Redactor()
    redactor.add(secret)
    found = files.suite_files(passed, redactor)
    assert list(found) == ["contract"]
    assert secret not in found["contract"] and "test_***" in found["contract"]
    names = [c.get("name") for c in ET.fromstring(found["contract"]).iter("testcase")]
    assert names[0] == "test_***"
    assert len(names) == len(list(ET.fromstring(contract_junit).iter("testcase")))


def test_the_step_summary_is_appended_to(passed: dict[str, Any], tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("## an earlier step\n")
    first = markdown.render(passed)
    files.append_step_summary(summary, first)
    files.append_step_summary(summary, first)
    text = summary.read_text()
    assert text == "## an earlier step\n\n" + first + "\n" + first
    assert text.count("### envctl run checkout: **PASSED**") == 2


def test_a_new_step_summary_starts_without_a_blank_line(
    passed: dict[str, Any], tmp_path: Path
) -> None:
    summary = tmp_path / "new.md"
    files.append_step_summary(summary, markdown.render(passed))
    assert summary.read_text() == markdown.render(passed)


def test_the_run_dir_gets_the_page_and_envctl_junit_xml(
    passed: dict[str, Any], contract_junit: str, tmp_path: Path
) -> None:
    """Not junit.xml: a blueprint that says `junit: ${run.dir}/junit.xml` keeps its file,
    and it is the one merged."""
    passed["run_dir"] = str(tmp_path)
    theirs = tmp_path / "junit.xml"
    theirs.write_text(contract_junit)
    passed["suites"][0]["junit"] = str(theirs)
    written = files.write_run_dir(passed, Redactor())
    assert written == {"html": tmp_path / "report.html", "junit": tmp_path / "envctl-junit.xml"}
    assert theirs.read_text() == contract_junit
    assert written["junit"].read_text() == junit.render(passed, {"contract": contract_junit})
    assert files.in_run_dir(passed) == written
    assert files.recorded_junit(passed) == written["junit"].read_text()
    written["junit"].unlink()
    assert files.recorded_junit(passed) is None and list(files.in_run_dir(passed)) == ["html"]


def test_a_file_a_suite_wrote_its_junit_to_is_never_overwritten(
    passed: dict[str, Any], contract_junit: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`junit: envctl-report/junit.xml` with `--report envctl-report`: the suite's stays."""
    theirs = tmp_path / "junit.xml"
    theirs.write_text(contract_junit)
    passed["suites"][0]["junit"] = str(theirs)
    written = files.write(passed, tmp_path, files.FILE_NAMES, {"contract": contract_junit})
    assert "junit" not in written and set(written) == {"html", "markdown", "json"}
    assert theirs.read_text() == contract_junit
    assert "suite contract wrote its JUnit there" in caplog.text


def test_the_junit_merged_into_the_run_dir_is_masked_in_every_spelling(
    passed: dict[str, Any], tmp_path: Path
) -> None:
    """A suite's file escapes the secret; neither the escaped nor the raw form comes out."""
    secret = "p&ss<w0rd'"
    theirs = tmp_path / "contract.xml"
    theirs.write_text(
        '<testsuite><testcase classname="t" name="test_login">'
        '<failure message="as p&amp;ss&lt;w0rd&apos;">p&amp;ss&lt;w0rd&#39;</failure>'
        "</testcase></testsuite>"
    )
    passed["run_dir"], passed["suites"][0]["junit"] = str(tmp_path), str(theirs)
    redactor = Redactor()
    redactor.add(secret)
    text = files.write_run_dir(passed, redactor)["junit"].read_text()
    assert "w0rd" not in text
    (case,) = ET.fromstring(text).iter("testcase")
    failure = case.find("failure")
    assert failure is not None and (failure.get("message"), failure.text) == ("as ***", "***")
