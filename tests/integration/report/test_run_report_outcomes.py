"""`envctl run --report DIR` when the run does not pass: a suite that fails (exit 1) and
a service that cannot start (exit 3). The reports are written all the same, say what
went wrong, and never hold a secret, however the suite's own JUnit spelled it."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.conftest import Cli, leftovers
from tests.integration.report.report_runs import FILES, Run, run_with_report

pytestmark = pytest.mark.local

BLUEPRINTS = Path(__file__).parent / "blueprints"
SECRET = 'p&ss<w0rd"'
SPELLINGS = (SECRET, "p&amp;ss", "w0rd")  # raw, as XML escapes it, and any part of it


def run(cli: Cli, blueprint: str, report: Path) -> Run:
    return run_with_report(
        cli, str(BLUEPRINTS / blueprint), report, env={"ENVCTL_SECRET_PASSWORD": SECRET}
    )


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return Cli(tmp_path_factory.mktemp("outcomes") / "state")


@pytest.fixture(scope="module")
def failing(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run(cli, "failing.yaml", tmp_path_factory.mktemp("failing") / "report")


@pytest.fixture(scope="module")
def broken(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run(cli, "broken.yaml", tmp_path_factory.mktemp("broken") / "report")


def written(run: Run) -> dict[str, str]:
    """Every report of the run: --report DIR's, the run dir's, and what it printed."""
    texts = {f"report/{name}": (run.report / name).read_text() for name in FILES}
    for name in ("report.html", "envctl-junit.xml", "result.json"):
        texts[f"run_dir/{name}"] = (run.run_dir / name).read_text()
    texts["stdout"], texts["stderr"] = run.done.stdout, run.done.stderr
    return texts


def test_a_failing_suite_exits_1_with_every_report(failing: Run) -> None:
    assert failing.done.returncode == 1, failing.done.stderr[-3000:]
    assert failing.data["status"] == "failed"
    for name in FILES:
        assert (failing.report / name).stat().st_size > 0, name
    last = failing.done.stdout.rstrip().splitlines()[-1]
    assert (
        last == f"report  {failing.report / 'report.html'} · junit {failing.report / 'junit.xml'}"
    )
    assert leftovers(failing.data["env"]) == []


def test_its_junit_shows_the_failing_test(failing: Run) -> None:
    root = ET.fromstring((failing.report / "junit.xml").read_text())
    (suite,) = root.findall("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("checks", "2", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"test_home_page", "test_login"}
    failure = cases["test_login"].find("failure")
    assert failure is not None and failure.get("message") == "login as *** refused"
    assert failure.text == "password=***"
    assert (
        (failing.report / "report.md").read_text().startswith("### envctl run failing: **FAILED**")
    )


def test_no_report_holds_the_secret_in_any_spelling(failing: Run) -> None:
    for where, text in written(failing).items():
        for spelling in SPELLINGS:
            assert spelling not in text, (where, spelling)
    # The suite's own file, in the run dir as `<suite>.xml`, was masked in place, and is
    # not the one envctl wrote: envctl's is envctl-junit.xml.
    own = Path(failing.data["suites"][0]["junit"])
    assert own == failing.run_dir / "checks.xml"
    assert "w0rd" not in own.read_text() and "***" in own.read_text()


def test_the_run_dir_keeps_envctls_junit_and_report_renders_it(cli: Cli, failing: Run) -> None:
    kept = (failing.run_dir / "envctl-junit.xml").read_text()
    assert kept == (failing.report / "junit.xml").read_text()
    again = cli("report", failing.data["env"], "--format", "junit")
    assert again.returncode == 0, again.stderr
    assert again.stdout == kept


def test_a_service_that_cannot_start_exits_3_with_every_report(broken: Run) -> None:
    assert broken.done.returncode == 3, broken.done.stderr[-3000:]
    assert broken.data["status"] == "error" and broken.data["suites"] == []
    assert "envctl: error: " in broken.done.stderr and "Traceback" not in broken.done.stderr
    for name in FILES:
        assert (broken.report / name).stat().st_size > 0, name
    root = ET.fromstring((broken.report / "junit.xml").read_text())
    (suite,) = root.findall("testsuite")
    assert (suite.get("name"), suite.get("errors")) == ("envctl", "1")
    (case,) = suite.findall("testcase")
    error = case.find("error")
    assert case.get("name") == "provision" and error is not None
    assert "web" in error.get("message", "") and "cannot start: no config" in (error.text or "")
    md = (broken.report / "report.md").read_text()
    assert md.startswith("### envctl run broken: **ERROR**") and "cannot start: no config" in md
    assert (broken.run_dir / "envctl-junit.xml").read_text() == (
        broken.report / "junit.xml"
    ).read_text()
    assert leftovers(broken.data["env"]) == []


def test_without_report_the_summary_names_the_run_dirs_files(cli: Cli) -> None:
    done = cli("run", str(BLUEPRINTS / "broken.yaml"))
    assert done.returncode == 3, done.stderr[-3000:]
    last = done.stdout.rstrip().splitlines()[-1]
    assert last.startswith("report  ") and last.endswith("/envctl-junit.xml")
    html, junit = last.removeprefix("report  ").split(" · junit ")
    assert Path(html).name == "report.html" and Path(html).parent == Path(junit).parent
    assert Path(html).is_file() and Path(junit).is_file()
