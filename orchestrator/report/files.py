"""Where a run's reports go: its run dir, ``envctl run --report DIR``, the CI step summary.

The renderers next to this module are pure; this is the one place that reads what they
need from disk (the JUnit files suites wrote) and writes what they produce.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMATS = ("html", "junit", "markdown", "json")
FILE_NAMES = {
    "json": "report.json",
    "junit": "junit.xml",
    "markdown": "report.md",
    "html": "report.html",
}
IN_RUN_DIR = ("html", "junit")  # what every run keeps next to its logs, for `envctl report`
SUFFIXES = {".html": "html", ".htm": "html", ".xml": "junit", ".md": "markdown", ".json": "json"}


def render(data: dict[str, Any], fmt: str, suite_files: Mapping[str, str]) -> str:
    """``data`` (a run's redacted JSON) in one of ``FORMATS``."""
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"  # what `envctl run -o json` prints
    if fmt == "junit":
        from orchestrator.report import junit

        return junit.render(data, suite_files)
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


def suite_files(data: dict[str, Any], redact: Callable[[str], str]) -> dict[str, str]:
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
    formats: Iterable[str],
    junit_of_suites: Mapping[str, str],
) -> dict[str, Path]:
    """Each format into ``directory`` under its file name; returns what was written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for fmt in formats:
        path = directory / FILE_NAMES[fmt]
        path.write_text(render(data, fmt, junit_of_suites), encoding="utf-8")
        written[fmt] = path
    return written


def append_step_summary(path: Path, markdown: str) -> None:
    """Add to ``$GITHUB_STEP_SUMMARY``: every step of a job appends its own part, so a
    job that runs envctl twice shows both runs."""
    with path.open("a", encoding="utf-8") as summary:
        if summary.tell():
            summary.write("\n")
        summary.write(markdown)
