"""The run as JUnit XML, parsed back with ElementTree: structure, counts, escaping."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from orchestrator.report import junit
from orchestrator.secrets import Redactor
from tests.unit.report.run_samples import HOSTILE_SERVICE, HOSTILE_SUITE, XSS


def parse(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>\n')
    return ET.fromstring(text)


def props(suite: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}


def outcome(case: ET.Element) -> str | None:
    return next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), None)


def test_a_suites_own_junit_is_merged_in_test_by_test(
    passed: dict[str, Any], contract_junit: str
) -> None:
    root = parse(junit.render(passed, {"contract": contract_junit}))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "contract"
    written = ET.fromstring(contract_junit).iter("testcase")
    own = [(c.get("classname"), c.get("name")) for c in written]
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == own
    assert int(suite.get("tests", "")) == len(own) == passed["suites"][0]["tests"]["total"]
    assert all(outcome(c) is None for c in cases)
    assert root.get("tests") == suite.get("tests") and root.get("failures") == "0"


def test_the_runs_facts_are_properties(passed: dict[str, Any]) -> None:
    (suite,) = parse(junit.render(passed)).findall("testsuite")
    found = props(suite)
    assert found["envctl.env"] == passed["env"]
    assert found["envctl.blueprint"] == passed["blueprint"]
    assert found["envctl.runtime"] == passed["runtime"]
    assert found["envctl.status"] == "passed"
    assert float(found["envctl.cost_usd"]) == passed["cost"]["total_usd"]
    assert float(found["envctl.fidelity"]) == passed["fidelity"]["overall"]
    for phase, seconds in passed["phases"].items():
        assert float(found[f"envctl.phase.{phase}"]) == seconds
    assert found["envctl.budget"] == passed["cost"]["budget"]["status"]
    assert found["envctl.suite.junit"] == passed["suites"][0]["junit"]
    assert found["envctl.teardown.complete"] == "true"


def test_without_its_junit_a_suite_is_one_test_case(passed: dict[str, Any]) -> None:
    (suite,) = parse(junit.render(passed)).findall("testsuite")
    (case,) = suite.findall("testcase")
    assert case.get("name") == "contract" and outcome(case) is None
    assert float(case.get("time", "")) == passed["suites"][0]["seconds"]


def test_failures_errors_and_skips_are_counted_from_the_merged_cases(
    failed_demo: dict[str, Any], failing_junit: str
) -> None:
    root = parse(junit.render(failed_demo, {"contract": failing_junit}))
    contract, smoke = root.findall("testsuite")
    assert [contract.get(k) for k in ("tests", "failures", "errors", "skipped")] == [
        "4", "1", "1", "1"
    ]  # fmt: skip
    outcomes = {c.get("name"): outcome(c) for c in contract.findall("testcase")}
    assert outcomes == {
        "test_health_is_ok": None,
        "test_checkout_total": "failure",
        "test_needs_the_db": "error",
        "test_refund": "skipped",
    }
    failure = contract.find("testcase/failure")
    assert failure is not None and XSS + "]]>" in failure.get("message", "")
    # The suite that timed out without JUnit: one failing case saying so, with its log.
    (case,) = smoke.findall("testcase")
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "timeout"
    assert "timed out" in failure.get("message", "")
    assert failed_demo["suites"][1]["log"] in (failure.text or "")
    assert root.get("tests") == "5" and root.get("failures") == "2" and root.get("errors") == "1"


def test_a_failed_suite_whose_tests_all_passed_still_fails(
    failed_demo: dict[str, Any], contract_junit: str
) -> None:
    (contract, _) = parse(junit.render(failed_demo, {"contract": contract_junit})).findall(
        "testsuite"
    )
    cases = contract.findall("testcase")
    own = len(list(ET.fromstring(contract_junit).iter("testcase")))
    assert len(cases) == own + 1 and [outcome(c) for c in cases].count("failure") == 1
    failure = cases[-1].find("failure")
    assert failure is not None and "exited with code 1" in failure.get("message", "")


def test_a_suite_that_could_not_run_is_an_error(failed: dict[str, Any]) -> None:
    failed["suites"][0] |= {"status": "error", "exit_code": 127}
    (suite,) = parse(junit.render(failed)).findall("testsuite")
    (case,) = suite.findall("testcase")
    assert outcome(case) == "error" and suite.get("errors") == "1"


def test_a_real_failed_run_without_junit(failed: dict[str, Any]) -> None:
    (suite,) = parse(junit.render(failed)).findall("testsuite")
    (case,) = suite.findall("testcase")
    failure = case.find("failure")
    assert failure is not None and "exited with code 1" in failure.get("message", "")
    assert failed["suites"][0]["log"] in (failure.text or "")


def test_an_error_before_the_suites_is_an_errored_provision_case(errored: dict[str, Any]) -> None:
    root = parse(junit.render(errored))
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "envctl" and suite.get("errors") == "1"
    (case,) = suite.findall("testcase")
    assert case.get("name") == "provision"
    error = case.find("error")
    assert error is not None
    assert error.get("type") == errored["error"]["type"]
    assert error.get("message") == errored["error"]["message"]
    assert errored["error"]["log_tail"] in (error.text or "")
    assert errored["error"]["hint"] in (error.text or "")
    assert props(suite)["envctl.status"] == "error"


def test_leftovers_fail_a_teardown_case(leftover_run: dict[str, Any]) -> None:
    root = parse(junit.render(leftover_run))
    envctl = root.find("testsuite[@name='envctl']")
    assert envctl is not None
    (case,) = envctl.findall("testcase")
    failure = case.find("failure")
    assert case.get("name") == "teardown" and failure is not None
    for item in leftover_run["teardown"]["leftovers"]:
        assert item in (failure.text or "")
    assert props(envctl)["envctl.teardown.complete"] == "false"


def test_hostile_names_come_back_exactly(hostile: dict[str, Any]) -> None:
    text = junit.render(hostile)
    root = parse(text)
    assert root.get("name") == f"envctl {XSS}"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == HOSTILE_SUITE
    assert props(suite)["envctl.blueprint"] == XSS
    assert "<script>" not in text and "]]><x>" not in text
    assert HOSTILE_SERVICE not in text  # the service is not a test, and never raw


def test_characters_xml_cannot_hold_are_spelled_out(passed: dict[str, Any]) -> None:
    passed["suites"][0] |= {"status": "failed", "exit_code": 1}
    passed["suites"][0]["name"] = "colour\x1b[31m\x00"
    own = (
        '<testsuite><testcase classname="t" name="red\x1b[0m">'
        '<failure message="bell\x07">line\x0c</failure></testcase></testsuite>'
    )
    root = parse(junit.render(passed, {"colour\x1b[31m\x00": own}))
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "colour\\x1b[31m\\x00"
    (case,) = suite.findall("testcase")
    assert case.get("name") == "red\\x1b[0m"
    failure = case.find("failure")
    assert failure is not None and failure.get("message") == "bell\\x07"


def test_a_junit_file_that_is_not_xml_leaves_the_suite_as_one_case(
    passed: dict[str, Any],
) -> None:
    (suite,) = parse(junit.render(passed, {"contract": "<testsuite><oops"})).findall("testsuite")
    assert len(suite.findall("testcase")) == 1
    assert props(suite)["envctl.suite.junit_unreadable"].startswith("not JUnit XML")


def test_a_run_with_nothing_in_it(bare: dict[str, Any]) -> None:
    root = parse(junit.render(bare))
    assert root.findall("testsuite") == [] and root.get("tests") == "0"


def test_same_run_same_bytes(passed: dict[str, Any], contract_junit: str) -> None:
    assert junit.render(passed, {"contract": contract_junit}) == junit.render(
        passed, {"contract": contract_junit}
    )


def test_secrets_parsed_out_of_a_suites_file_are_masked(passed: dict[str, Any]) -> None:
    """The file holds the secret escaped (``p&amp;ss``); parsed, it is the raw value,
    which is what would be written back. Here the file was not masked before."""
    secret = 'p&ss<w0rd"'
    case = ET.Element("testcase", {"classname": "t", "name": f"test_login[{secret}]"})
    failure = ET.SubElement(case, "failure", {"message": f"login as {secret} failed"})
    failure.text = f"password={secret}"
    failure.tail = secret
    own = ET.tostring(case, "unicode")
    assert "p&amp;ss&lt;w0rd&quot;" in own
    redactor = Redactor()
    redactor.add(secret)
    text = junit.render(passed, {"contract": own}, redactor)
    assert "p&amp;ss" not in text and "w0rd" not in text
    (merged,) = parse(text).iter("testcase")
    assert merged.get("name") == "test_login[***]"
    failure = merged.find("failure")
    assert failure is not None and failure.get("message") == "login as *** failed"
    assert failure.text == "password=***"


def test_spans_without_a_status_or_start_are_skipped(passed: dict[str, Any]) -> None:
    """An old or hand-edited result.json still renders, as if they were not there."""
    clean = junit.render(passed)
    passed["timeline"][:0] = [
        "junk",
        {"kind": "suite", "name": "contract", "end": 1.0, "status": "passed"},
        {"kind": "suite", "name": "contract", "start": 0.5, "end": 1.0},
        {"kind": "phase", "name": "provision", "start": "soon", "end": 1.0, "status": "failed"},
    ]
    assert junit.render(passed) == clean
