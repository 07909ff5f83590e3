"""`envctl init` in an empty directory, then `envctl run` on it: it passes at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Cli, leftovers

pytestmark = pytest.mark.local


@pytest.mark.parametrize("engines", ["postgres,redis", ""], ids=["with-engines", "app-only"])
def test_a_new_scaffold_runs_and_passes(cli: Cli, tmp_path: Path, engines: str) -> None:
    directory = tmp_path / "fresh"
    args = ["init", str(directory)] + (["--with", engines] if engines else [])
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    run = cli("run", str(directory / "blueprint.yaml"), "-o", "json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["status"] == "passed"
    [suite] = result["suites"]
    expected = 1 + len([e for e in engines.split(",") if e])
    assert suite["name"] == "smoke" and suite["tests"]["total"] == expected
    assert suite["tests"]["failures"] == 0 and suite["tests"]["errors"] == 0
    assert cli.live() == [] and leftovers(result["env"]) == []
