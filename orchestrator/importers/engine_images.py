"""Which Compose images are engines envctl runs natively, and how their images are
configured: the official images' variables, Bitnami's, and Redis's command-line password.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

# Namespaces whose postgres/redis images follow known conventions.
_OFFICIAL = ("", "library", "_")
_BITNAMI = ("bitnami",)
_NAMES = {"postgres": "postgres", "postgresql": "postgres", "redis": "redis"}
DEFAULT_PORTS = {"postgres": 5432, "redis": 6379}

# (user, password, database) variables per flavour, official first.
POSTGRES_VARIABLES = {
    "official": ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"),
    "bitnami": ("POSTGRESQL_USERNAME", "POSTGRESQL_PASSWORD", "POSTGRESQL_DATABASE"),
}
# Variables that need no note when dropped: envctl already behaves as they ask.
HARMLESS = frozenset(
    {
        "POSTGRES_HOST_AUTH_METHOD",
        "ALLOW_EMPTY_PASSWORD",
        "PGDATA",
        "POSTGRES_INITDB_WALDIR",
        "TZ",
        "PGTZ",
    }
)


@dataclass(frozen=True)
class EngineImage:
    engine: str  # postgres or redis
    version: str | None  # from the tag: 16 of 16-alpine, 7.2.4 of 7.2.4-bookworm
    flavour: str  # official or bitnami
    tag: str | None

    @property
    def image(self) -> str:
        """The image a blueprint names: the engine and the version it compares."""
        return f"{self.engine}:{self.version}" if self.version else self.engine


def engine_image(image: str | None) -> EngineImage | None:
    """``postgres:16-alpine``, ``docker.io/library/redis:7``, ``bitnami/postgresql:15``
    … become an engine; anything else (a custom image, postgis, redis-stack) does not."""
    if not image:
        return None
    name = image.split("@", 1)[0]
    repository, tag = name, None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = name.rsplit(":", 1)
    parts = repository.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]  # a registry host
    if len(parts) > 1 and parts[0] == "docker" and len(parts) > 2:
        parts = parts[1:]  # public.ecr.aws/docker/library/postgres
    engine = _NAMES.get(parts[-1])
    namespace = "/".join(parts[:-1])
    if engine is None or namespace not in (*_OFFICIAL, *_BITNAMI):
        return None
    flavour = "bitnami" if namespace in _BITNAMI else "official"
    return EngineImage(engine, _version(tag), flavour, tag)


def _version(tag: str | None) -> str | None:
    match = re.match(r"^v?([0-9]+(?:\.[0-9]+)*)", tag or "")
    return match.group(1) if match else None


@dataclass(frozen=True)
class RedisCommand:
    """What a ``redis-server …`` command line says that envctl can use."""

    password: str | None  # --requirepass's value, or the variable it names
    password_variable: str | None
    dropped: tuple[str, ...]  # other options, as written (values of auth options masked)


def redis_command(argv: tuple[str, ...]) -> RedisCommand:
    args = list(argv)
    if args and args[0] in ("sh", "/bin/sh", "bash", "/bin/bash") and "-c" in args:
        script = args[args.index("-c") + 1] if args.index("-c") + 1 < len(args) else ""
        try:
            args = shlex.split(script)
        except ValueError:
            args = script.split()
    if args and args[0].rsplit("/", 1)[-1] in ("redis-server", "docker-entrypoint.sh"):
        args = args[1:]
    password = variable = None
    dropped: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        value = args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("--") else None
        if arg == "--requirepass" and value is not None:
            if re.fullmatch(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", value):
                variable = value.strip("${}")
            else:
                password = value
            i += 2
            continue
        if value is not None and ("pass" in arg or "auth" in arg):
            dropped.append(f"{arg} ***")
        else:
            dropped.append(f"{arg} {value}" if value is not None else arg)
        i += 2 if value is not None else 1
    return RedisCommand(password, variable, tuple(dropped))
