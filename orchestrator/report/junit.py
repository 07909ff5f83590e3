"""A run as JUnit XML: one ``<testsuite>`` per envctl suite, for CI test views.

A suite that wrote JUnit of its own (``suites[].junit``) contributes its test cases, so
CI lists every test, not one line per suite; any other suite is one test case that fails
(or errors) with the suite's exit code and log path. What envctl itself did — the run's
environment, phases, cost, fidelity — goes into each suite's ``<properties>``, the one
place every JUnit consumer keeps. An envctl error, or a teardown that left something
behind, adds a suite ``envctl`` whose test case fails, so a CI view that shows only test
results still goes red.

XML is built with ``ElementTree`` (it escapes markup in text and attributes) after
characters XML 1.0 cannot carry at all (ANSI colour escapes in a failure message, NULs)
are spelled out, so the document parses whatever names and messages come in.

The suites' files come in redacted, and every text and attribute parsed out of them is
redacted again: a secret the file held as ``p&amp;ss`` is ``p&ss`` once parsed, and the
raw value is what this module would write back.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from orchestrator.report import run_facts
from orchestrator.report.run_facts import Counts

ENVCTL_SUITE = "envctl"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_OUTCOMES = ("failure", "error", "skipped")


def render(
    data: dict[str, Any],
    suite_files: Mapping[str, str] | None = None,
    redact: Callable[[str], str] | None = None,
) -> str:
    """``data`` (a run's JSON) as a JUnit document. ``suite_files`` maps a suite's name to
    the text of the JUnit file it wrote (read by the caller: this function does no I/O);
    ``redact`` masks what is parsed out of them."""
    files = suite_files or {}
    props = _run_properties(data)
    root = ET.Element("testsuites", {"name": _clean(f"envctl {data.get('blueprint', '')}")})
    total = Counts()
    for suite in data.get("suites") or []:
        text = files.get(str(suite.get("name")))
        cases, problem = _cases_from(text, redact) if text is not None else ([], None)
        element, counts = _suite(data, suite, props, cases, problem)
        root.append(element)
        total += counts
    envctl = _envctl_suite(data, props)
    if envctl is not None:
        element, counts = envctl
        root.append(element)
        total += counts
    _counts(root, total, float(data.get("duration_seconds") or 0.0))  # the whole run
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"


# --- one envctl suite ----------------------------------------------------------------------


def _suite(
    data: dict[str, Any],
    suite: dict[str, Any],
    props: list[tuple[str, str]],
    cases: list[ET.Element],
    problem: str | None,
) -> tuple[ET.Element, Counts]:
    name = str(suite.get("name", ""))
    element = ET.Element("testsuite", {"name": _clean(name)})
    suite_props = [
        ("envctl.suite.tier", suite.get("tier")),
        ("envctl.suite.status", suite.get("status")),
        ("envctl.suite.exit_code", suite.get("exit_code")),
        ("envctl.suite.log", suite.get("log")),
        ("envctl.suite.junit", suite.get("junit")),
    ]
    if problem:
        suite_props.append(("envctl.suite.junit_unreadable", problem))
    element.append(_properties([*props, *_pairs(suite_props)]))
    status = suite.get("status")
    if not cases:
        cases = [_suite_case(data, suite)]
    elif status != "passed" and not any(_outcome(c) in ("failure", "error") for c in cases):
        # pytest passed every test yet the suite failed (a timeout, a crash after the
        # tests, a coverage gate): without this case CI would show it green.
        cases.append(_suite_case(data, suite))
    counts = Counts()
    for case in cases:
        element.append(case)
        outcome = _outcome(case)
        counts += Counts(1, outcome == "failure", outcome == "error", outcome == "skipped")
    _counts(element, counts, float(suite.get("seconds") or 0.0))
    start = _suite_start(data, name)
    if start:
        element.set("timestamp", start)
    return element, counts


def _suite_case(data: dict[str, Any], suite: dict[str, Any]) -> ET.Element:
    """The suite as one test case: its exit code and log say what happened."""
    name, status = str(suite.get("name", "")), str(suite.get("status", ""))
    case = ET.Element(
        "testcase",
        {
            "classname": _clean(f"envctl.{data.get('blueprint', '')}"),
            "name": _clean(name),
            "time": _time(suite.get("seconds")),
        },
    )
    log = f"log: {suite.get('log')}" if suite.get("log") else ""
    if status in ("failed", "timeout"):
        if status == "timeout":
            message = f"suite {name!r} timed out after {run_facts.seconds(suite.get('seconds'))}"
        else:
            message = f"suite {name!r} exited with code {suite.get('exit_code')}"
        _outcome_element(case, "failure", status, message, log)
    elif status == "error":
        message = f"suite {name!r} could not run (exit code {suite.get('exit_code')})"
        _outcome_element(case, "error", "error", message, log)
    return case


def _cases_from(
    text: str, redact: Callable[[str], str] | None
) -> tuple[list[ET.Element], str | None]:
    """The test cases of a suite's own JUnit file, wherever they nest (pytest writes
    testsuites > testsuite > testcase; others write a bare testsuite), redacted."""
    try:
        parsed = ET.fromstring(_clean(text))
    except ET.ParseError as exc:
        return [], f"not JUnit XML: {exc}"
    cases = [copy.deepcopy(case) for case in parsed.iter("testcase")]
    if redact is not None:
        for element in (e for case in cases for e in case.iter()):
            element.text = redact(element.text) if element.text else element.text
            element.tail = redact(element.tail) if element.tail else element.tail
            for name, value in element.attrib.items():
                element.set(name, redact(value))
    return cases, None


def _outcome(case: ET.Element) -> str | None:
    for child in case:
        if child.tag in _OUTCOMES:
            return child.tag
    return None


# --- envctl's own suite: an error, leftovers -----------------------------------------------


def _envctl_suite(
    data: dict[str, Any], props: list[tuple[str, str]]
) -> tuple[ET.Element, Counts] | None:
    error, left = data.get("error"), run_facts.leftovers(data)
    if not error and not left:
        return None
    element = ET.Element("testsuite", {"name": ENVCTL_SUITE})
    element.append(_properties(props))
    counts = Counts()
    if error:
        # Named after the phase that failed; before suites that is nearly always
        # provisioning (a service that did not start), which is what CI then shows.
        phase = run_facts.failed_phase(data) or "provision"
        case = ET.SubElement(
            element,
            "testcase",
            {"classname": ENVCTL_SUITE, "name": _clean(phase), "time": _phase_time(data, phase)},
        )
        detail = [str(error.get("message", ""))]
        if error.get("hint"):
            detail.append(f"hint: {error['hint']}")
        if error.get("log_tail"):
            detail += [f"last log lines of {error.get('service')!r}:", str(error["log_tail"])]
        _outcome_element(
            case, "error", str(error.get("type", "error")), str(error.get("message", "")), detail
        )
        counts += Counts(1, 0, 1, 0)
    if left:
        case = ET.SubElement(
            element,
            "testcase",
            {
                "classname": ENVCTL_SUITE,
                "name": "teardown",
                "time": _phase_time(data, "teardown"),
            },
        )
        message = f"teardown left {len(left)} resource(s) behind"
        _outcome_element(case, "failure", "leftovers", message, left)
        counts += Counts(1, 1, 0, 0)
    _counts(element, counts, float(data.get("duration_seconds") or 0.0))
    element.set("timestamp", str(data.get("started_at", "")))
    return element, counts


# --- properties ----------------------------------------------------------------------------


def _run_properties(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The run's facts as (name, value), the same on every suite of the document."""
    pairs: list[tuple[str, object]] = [
        ("envctl.env", data.get("env")),
        ("envctl.blueprint", data.get("blueprint")),
        ("envctl.blueprint_file", data.get("blueprint_file")),
        ("envctl.owner", data.get("owner")),
        ("envctl.tier", data.get("tier")),
        ("envctl.runtime", data.get("runtime")),
        ("envctl.status", data.get("status")),
        ("envctl.started_at", data.get("started_at")),
        ("envctl.duration_seconds", data.get("duration_seconds")),
        ("envctl.run_dir", data.get("run_dir")),
    ]
    pairs += [(f"envctl.phase.{k}", v) for k, v in (data.get("phases") or {}).items()]
    pairs.append(("envctl.cost_usd", run_facts.cost_total(data)))
    pairs.append(("envctl.budget", run_facts.budget(data).get("status")))
    pairs.append(("envctl.fidelity", run_facts.fidelity(data)))
    pairs += [(f"envctl.fidelity.{k}", v) for k, v in run_facts.dimensions(data)]
    pairs.append(("envctl.teardown.complete", not run_facts.leftovers(data)))
    return _pairs(pairs)


def _pairs(pairs: list[tuple[str, object]]) -> list[tuple[str, str]]:
    """Pairs with a value, as text (true/false for booleans, as JSON has them)."""
    out = []
    for name, value in pairs:
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out.append((name, text))
    return out


def _properties(pairs: list[tuple[str, str]]) -> ET.Element:
    element = ET.Element("properties")
    for name, value in pairs:
        ET.SubElement(element, "property", {"name": _clean(name), "value": _clean(value)})
    return element


# --- small helpers -------------------------------------------------------------------------


def _outcome_element(
    case: ET.Element, tag: str, kind: str, message: str, detail: str | list[str]
) -> None:
    element = ET.SubElement(case, tag, {"type": _clean(kind), "message": _clean(message)})
    text = "\n".join(detail) if isinstance(detail, list) else detail
    if text:
        element.text = _clean(text)


def _counts(element: ET.Element, counts: Counts, seconds: float) -> None:
    element.set("tests", str(counts.total))
    element.set("failures", str(counts.failures))
    element.set("errors", str(counts.errors))
    element.set("skipped", str(counts.skipped))
    element.set("time", _time(seconds))


def _suite_start(data: dict[str, Any], name: str) -> str | None:
    """When a suite started, as an ISO timestamp: the run's start plus its timeline offset."""
    try:
        began = datetime.fromisoformat(str(data.get("started_at")))
    except ValueError:
        return None
    for span in run_facts.spans(data):
        if span["kind"] == "suite" and span["name"] == name:
            return (began + timedelta(seconds=float(span["start"]))).isoformat()
    return None


def _phase_time(data: dict[str, Any], phase: str) -> str:
    return _time((data.get("phases") or {}).get(phase))


def _time(value: object) -> str:
    return f"{float(value):.3f}" if isinstance(value, int | float) else "0.000"


def _clean(text: str) -> str:
    r"""``text`` with what XML 1.0 cannot hold (control characters, lone surrogates)
    written out as ``\x1b``, so an ANSI-coloured message still reads."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
