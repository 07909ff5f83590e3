"""A real PostgreSQL and Redis (the local runtime's processes) for the seeding tests.

One environment per test session: `envctl up` of engines.yaml; the URLs, passwords
included, come from the environment's endpoints file, as a suite would read them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.childenv import read_env_file
from tests.conftest import Cli

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.local


@dataclass(frozen=True)
class Engines:
    env_id: str
    postgres_url: str
    redis_url: str
    state_dir: Path


@pytest.fixture(scope="session")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    state_dir = tmp_path_factory.mktemp("seed-engines") / "state"
    cli = Cli(state_dir)
    done = cli("up", str(HERE / "engines.yaml"), "-o", "json")
    assert done.returncode == 0, done.stderr
    env_id = json.loads(done.stdout)["env"]
    try:
        status = cli.json("status", env_id)
        endpoints = read_env_file(Path(status["env_file"]))
        yield Engines(env_id, endpoints["ENVCTL_DB_URL"], endpoints["ENVCTL_CACHE_URL"], state_dir)
    finally:
        cli("down", env_id)


@pytest.fixture
def pg_url(engines: Engines) -> str:
    return engines.postgres_url


@pytest.fixture
def redis_url(engines: Engines) -> str:
    return engines.redis_url
