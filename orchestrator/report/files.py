"""Where a run's reports go: its run dir, ``envctl run --report DIR``, the CI step summary.

The renderers next to this module are pure; this is the one place that reads what they
need from disk (the JUnit files suites wrote) and writes what they produce.

In the run dir envctl's JUnit is ``envctl-junit.xml``, not ``junit.xml``: a suite's own
JUnit defaults to ``<run dir>/<suite>.xml`` and blueprints often name
``${run.dir}/junit.xml``, and envctl must not overwrite the file it merges. ``--report
DIR`` is envctl's own directory, so there it is the ``junit.xml`` CI jobs expect; a
suite that writes its JUnit there anyway keeps it (envctl's is then left out, with a
warning).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Redact = Callable[[str], str]

FORMATS = ("html", "junit", "markdown", "json")
FILE_NAMES = {
    "json": "report.json",
    "junit": "junit.xml",
    "markdown": "report.md",
    "html": "report.html",
}
# What every run keeps next to its result.json and logs (Engine._record writes them).
IN_RUN_DIR = {"html": "report.html", "junit": "envctl-junit.xml"}
SUFFIXES = {".html": "html", ".htm": "html", ".xml": "junit", ".md": "markdown", ".json": "json"}


def _unchanged(text: str) -> str:
    return text


def render(
    data: dict[str, Any],
    fmt: str,
    suite_files: Mapping[str, str],
    redact: Redact = _unchanged,
) -> str:
    """``data`` (a run's redacted JSON) in one of ``FORMATS``; ``redact`` masks what the
    JUnit merges from the suites' files."""
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"  # what `envctl run -o json` prints
    if fmt == "junit":
        from orchestrator.report import junit

        return junit.render(data, suite_files, redact)
    if fmt == "markdown":
        from orchestrator.report import markdown

        return markdown.render(data)
    if fmt == "html":
        from orchestrator.report import run_html

        return run_html.render(data)
    raise ValueError(f"unknown report format {fmt!r}")


def format_for(path: Path | None, default: str = "html") -> str:
    """The format a file name asks for (``--out report.md``); ``default`` otherwise."""
    return SUFFIXES.get(path.suffix.lower(), default) if path is not None else default


def suite_files(data: dict[str, Any], redact: Redact) -> dict[str, str]:
    """The JUnit each suite wrote, by suite name, redacted: a test may have printed a
    secret into a failure message. A file that is gone or unreadable is left out (the
    suite then shows as one test case)."""
    out = {}
    for suite in data.get("suites") or []:
        path = suite.get("junit")
        if not path:
            continue
        try:
            out[str(suite["name"])] = redact(Path(path).read_text("utf-8", errors="replace"))
        except OSError as exc:
            log.info("suite %s: no JUnit to merge from %s: %s", suite.get("name"), path, exc)
    return out


def write(
    data: dict[str, Any],
    directory: Path,
    names: Mapping[str, str],
    junit_of_suites: Mapping[str, str],
    redact: Redact = _unchanged,
) -> dict[str, Path]:
    """Each format of ``names`` into ``directory`` under its file name; returns what was
    written. A file a suite wrote its JUnit to is never overwritten."""
    directory.mkdir(parents=True, exist_ok=True)
    theirs = {Path(s["junit"]).resolve(): s.get("name") for s in _suites_with_junit(data)}
    written = {}
    for fmt, name in names.items():
        path = directory / name
        if path.resolve() in theirs:
            log.warning(
                "not writing envctl's %s report to %s: suite %s wrote its JUnit there",
                fmt,
                path,
                theirs[path.resolve()],
            )
            continue
        path.write_text(render(data, fmt, junit_of_suites, redact), encoding="utf-8")
        written[fmt] = path
    return written


def write_run_dir(data: dict[str, Any], redact: Redact) -> dict[str, Path]:
    """The reports every run keeps in its run dir (``IN_RUN_DIR``)."""
    run_dir = Path(data["run_dir"])
    return write(data, run_dir, IN_RUN_DIR, suite_files(data, redact), redact)


def in_run_dir(data: dict[str, Any]) -> dict[str, Path]:
    """The run-dir reports that are there (a report that failed to render is not)."""
    run_dir = Path(str(data.get("run_dir", "")))
    return {fmt: run_dir / name for fmt, name in IN_RUN_DIR.items() if (run_dir / name).is_file()}


def recorded_junit(data: dict[str, Any]) -> str | None:
    """The JUnit written into the run dir while the run's secrets were known (a later
    process knows none of them), or None when there is none to read."""
    path = in_run_dir(data).get("junit")
    if path is None:
        return None
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        log.info("cannot read %s, merging the suites' files again: %s", path, exc)
        return None


def append_step_summary(path: Path, markdown: str) -> None:
    """Add to ``$GITHUB_STEP_SUMMARY``: every step of a job appends its own part, so a
    job that runs envctl twice shows both runs."""
    with path.open("a", encoding="utf-8") as summary:
        if summary.tell():
            summary.write("\n")
        summary.write(markdown)


def _suites_with_junit(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in data.get("suites") or [] if isinstance(s, dict) and s.get("junit")]
