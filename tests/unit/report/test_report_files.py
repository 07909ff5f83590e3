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
    written = files.write(passed, out, files.FORMATS, {"contract": contract_junit})
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
    assert names[0] == "test_***" and len(names) == 24


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
