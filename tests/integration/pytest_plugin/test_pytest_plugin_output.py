"""Everything the plugin prints goes through its environment's ``Redactor``: progress
lines at ``-v``, the summary, an environment that cannot start, a bug while starting.

The sample project's conftest makes starting fail with a secret in the message (and
first says it in a progress line), as a broken proxy or a bug in envctl could.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.integration.pytest_plugin.sample_project import environ, make_project

pytestmark = pytest.mark.local

TOKEN = "tok-9f3b2c7d1e"

LEAKY = """
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: leaky}
secrets:
  TOKEN: {}
services:
  web:
    ports: [8000]
    ready: {http: /}
    env: {TOKEN: "${secret.TOKEN}"}
    local: {command: "python -m http.server --bind 127.0.0.1 ${self.port}"}
links:
  - {from: suite, to: web}
"""

CONFTEST = """
import os

from orchestrator.exceptions import ServiceError
from orchestrator.session import Session

TOKEN = os.environ["ENVCTL_SECRET_TOKEN"]


def links(self):
    self.progress.step(f"linking with {TOKEN}")
    if os.environ["SAMPLE_BREAK"] == "error":
        raise ServiceError("web", f"the proxy refused {TOKEN}")
    raise RuntimeError(f"a bug holding {TOKEN}")


Session.links = links
"""

TWO_TESTS = """
def test_one(envctl_env):
    pass


def test_two(envctl_env):
    pass
"""


@pytest.mark.parametrize("breaks", ["error", "bug"])
def test_a_secret_in_why_it_could_not_start_is_never_printed(
    cli: Cli, tmp_path: Path, breaks: str
) -> None:
    project = make_project(
        tmp_path, **{"leaky.yaml": LEAKY, "conftest.py": CONFTEST, "test_two.py": TWO_TESTS}
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "--envctl", "leaky.yaml", "-p", "no:cacheprovider"],
        cwd=project,
        env={**environ(cli, project), "ENVCTL_SECRET_TOKEN": TOKEN, "SAMPLE_BREAK": breaks},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "2 errors" in output, output
    assert TOKEN not in output
    assert "envctl [" in output and "linking with ***" in output, "progress at -v, redacted"
    if breaks == "error":
        assert "the proxy refused ***" in output
        assert "could not start: service 'web': the proxy refused ***" in output, "summary"
    else:
        assert "RuntimeError('a bug holding ***')" in output
        # Its traceback, once: the source line names the variable, not the value.
        assert 'raise RuntimeError(f"a bug holding {TOKEN}")' in output
        assert output.count("Traceback (most recent call last)") == 1, output
