"""Docker integration tests: a real Docker Engine, images built by `images/build.py`."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROOT

LABEL = "envctl.env"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    docker = pytest.importorskip("docker", reason="the Docker SDK is not installed")
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker Engine answers: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="session", autouse=True)
def built_images(docker_client: Any) -> dict[str, str]:
    """The images the blueprints name, built locally (cached: seconds when up to date)."""
    spec = importlib.util.spec_from_file_location("envctl_images", ROOT / "images" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built: dict[str, str] = module.ensure()
    return built


def labelled(client: Any, env_id: str) -> list[str]:
    """Every container, network and volume of ``env_id`` still on the engine."""
    selector = {"label": f"{LABEL}={env_id}"}
    return [
        *(f"container {c.name}" for c in client.containers.list(all=True, filters=selector)),
        *(f"network {n.name}" for n in client.networks.list(filters=selector)),
        *(f"volume {v.name}" for v in client.volumes.list(filters=selector)),
    ]
