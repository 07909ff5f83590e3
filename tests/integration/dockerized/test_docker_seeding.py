"""Seeding on Docker: the data is kept in a volume and the next environment copies it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli
from tests.integration.dockerized.conftest import labelled
from tests.integration.seeding.test_seed_run import write

pytestmark = pytest.mark.docker

SEED_CACHE = "envctl.seed-cache"


def test_the_second_environment_starts_from_the_kept_volume(
    tmp_path: Path, cli: Cli, docker_client: Any
) -> None:
    # A row count of its own, so no earlier run's kept data matches.
    path = write(tmp_path, customers=317)
    first = cli.json("run", str(path), "--runtime", "docker")
    try:
        second = cli.json("run", str(path), "--runtime", "docker")
        assert (first["status"], second["status"]) == ("passed", "passed"), second.get("error")
        assert [s["cache"] for s in first["seeding"]] == ["miss"]
        assert [s["cache"] for s in second["seeding"]] == ["hit"]
        # The copy answered to the second environment's own password: its suite counted rows.
        assert second["seeding"][0]["rows"] == 5317
        for run in (first, second):
            assert labelled(docker_client, run["env"]) == []
        kept = docker_client.volumes.list(filters={"label": SEED_CACHE})
        assert kept, "the seeded data is kept in a labelled volume"
        assert all("envctl.env" not in (v.attrs.get("Labels") or {}) for v in kept)
    finally:
        for volume in docker_client.volumes.list(filters={"label": SEED_CACHE}):
            if '"rows": 5317' in (volume.attrs.get("Labels") or {}).get("envctl.seed-manifest", ""):
                volume.remove(force=True)
