"""Which images are engines, and the version their tag declares."""

from __future__ import annotations

import pytest

from orchestrator.importers.engine_images import EngineImage, engine_image, redis_command


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("postgres:16", EngineImage("postgres", "16", "official", "16")),
        ("postgres:16-alpine", EngineImage("postgres", "16", "official", "16-alpine")),
        ("postgres:15.4-bookworm", EngineImage("postgres", "15.4", "official", "15.4-bookworm")),
        ("library/postgres:14", EngineImage("postgres", "14", "official", "14")),
        ("docker.io/library/redis:7.2", EngineImage("redis", "7.2", "official", "7.2")),
        ("public.ecr.aws/docker/library/redis:7", EngineImage("redis", "7", "official", "7")),
        ("localhost:5000/redis:7-alpine", EngineImage("redis", "7", "official", "7-alpine")),
        ("bitnami/postgresql:15", EngineImage("postgres", "15", "bitnami", "15")),
        ("bitnami/redis:7.0.15", EngineImage("redis", "7.0.15", "bitnami", "7.0.15")),
        ("redis", EngineImage("redis", None, "official", None)),
        ("postgres:latest", EngineImage("postgres", None, "official", "latest")),
        ("postgres:16@sha256:abc", EngineImage("postgres", "16", "official", "16")),
    ],
)
def test_engine_images(image: str, expected: EngineImage) -> None:
    assert engine_image(image) == expected


@pytest.mark.parametrize(
    "image", [None, "", "postgis/postgis:16", "myorg/postgres:15", "redis/redis-stack:7", "nginx"]
)
def test_not_engines(image: str | None) -> None:
    assert engine_image(image) is None


def test_the_image_a_blueprint_names() -> None:
    assert engine_image("postgres:16-alpine").image == "postgres:16"  # type: ignore[union-attr]
    assert engine_image("redis").image == "redis"  # type: ignore[union-attr]


def test_redis_command_lines() -> None:
    parsed = redis_command(("redis-server", "--requirepass", "pw", "--appendonly", "yes"))
    assert (parsed.password, parsed.dropped) == ("pw", ("--appendonly yes",))
    by_variable = redis_command(("sh", "-c", "redis-server --requirepass $REDIS_PASSWORD"))
    assert (by_variable.password, by_variable.password_variable) == (None, "REDIS_PASSWORD")
    masked = redis_command(("redis-server", "--masterauth", "secret", "/etc/redis.conf"))
    assert masked.dropped == ("--masterauth ***", "/etc/redis.conf")
    assert redis_command(("--requirepass", "only-args")).password == "only-args"
