"""Docker integration tests: a real Docker Engine, images built by `images/build.py`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

LABEL = "envctl.env"


@pytest.fixture(scope="session", autouse=True)
def _images(built_images: dict[str, str]) -> dict[str, str]:
    return built_images


def labelled(client: Any, env_id: str) -> list[str]:
    """Every container, network and volume of ``env_id`` still on the engine, and its
    private work dir on the host (it holds URLs with passwords)."""
    selector = {"label": f"{LABEL}={env_id}"}
    work_dir = Path(tempfile.gettempdir()) / f"envctl-{env_id}"
    return [
        *([f"work dir {work_dir}"] if work_dir.exists() else []),
        *(f"container {c.name}" for c in client.containers.list(all=True, filters=selector)),
        *(f"network {n.name}" for n in client.networks.list(filters=selector)),
        *(f"volume {v.name}" for v in client.volumes.list(filters=selector)),
    ]
