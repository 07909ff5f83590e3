"""The Compose files envctl's tests convert are ones Compose itself accepts.

`docker-compose config` (Compose v1, Debian's package) validates and interpolates a file
without a Docker Engine. envctl never calls it; this only proves the fixtures are real.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.unit.importers.compose_snippets import SNIPPETS, write

EXAMPLES = sorted(p.parent for p in (ROOT / "examples" / "compose").glob("*/*compose.y*ml"))


def compose_config(directory: Path, file: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (Debian: apt-get install docker-compose)")
    return subprocess.run(
        [binary, "-f", file, "config", "--quiet"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "SHELL_ONLY": "from-shell"},
        check=False,
    )


def test_there_are_at_least_three_examples() -> None:
    assert len(EXAMPLES) >= 3, EXAMPLES


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_each_example_is_valid_compose(example: Path) -> None:
    [file] = [p.name for p in example.glob("*compose.y*ml")]
    done = compose_config(example, file)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_each_unit_test_snippet_is_valid_compose(name: str, tmp_path: Path) -> None:
    write(name, tmp_path)
    done = compose_config(tmp_path, "compose.yaml")
    assert done.returncode == 0, done.stderr
