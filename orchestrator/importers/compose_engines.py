"""Compose services that run PostgreSQL or Redis, as blueprint engine services.

Their credentials carry over in the official images' names (``POSTGRES_USER``,
``POSTGRES_DB``, ``REDIS_PASSWORD``); a literal password becomes a secret generated per
environment. Init SQL mounted into ``/docker-entrypoint-initdb.d/`` becomes a ``data:``
entry's schema; data volumes are dropped, since every environment starts empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.importers.compose_model import ComposeService, Mount
from orchestrator.importers.engine_images import (
    HARMLESS,
    POSTGRES_VARIABLES,
    EngineImage,
    redis_command,
)
from orchestrator.importers.naming import secret_name
from orchestrator.importers.notes import Notes
from orchestrator.importers.references import Target
from orchestrator.importers.secret_book import SecretBook
from orchestrator.importers.shell_values import names_in

INIT_DIRS = ("/docker-entrypoint-initdb.d", "/docker-entrypoint-preinitdb.d")
DATA_DIRS = ("/var/lib/postgresql", "/bitnami", "/data", "/var/lib/redis")


@dataclass(frozen=True)
class EngineService:
    """What the converter needs of an engine service: its blueprint env, the target other
    services' references resolve against, and its init schema if any."""

    env: dict[str, str]
    target: Target
    schema: Path | None
    schema_path: tuple[str | int, ...] = ()  # where the Compose file mounts it


def engine_service(
    svc: ComposeService,
    name: str,
    image: EngineImage,
    ports: tuple[int, ...],
    secrets: SecretBook,
    notes: Notes,
) -> EngineService:
    env_path = (*svc.path, "environment")
    env = {k: v for k, v in svc.environment.items() if v is not None}
    used: set[str] = set()
    out: dict[str, str] = {}
    password: str | None = None
    secret: str | None = None
    user = database = None
    if image.engine == "postgres":
        names = POSTGRES_VARIABLES[image.flavour]
        user_var, password_var, db_var = names
        user, database = env.get(user_var), env.get(db_var)
        used.update(names)
        if user:
            out["POSTGRES_USER"] = user
        if database:
            out["POSTGRES_DB"] = database
        password = env.get(password_var) or None
        if password is None and f"{password_var}_FILE" in env:
            used.add(f"{password_var}_FILE")
            secret = secrets.add(secret_name(name, "password"), None)
            notes.add(
                (*env_path, f"{password_var}_FILE"),
                f"a password file: now ${{secret.{secret}}}, generated per environment",
            )
        if image.flavour == "bitnami":
            notes.add(
                (*svc.path, "image"),
                f"{svc.image}: Bitnami's variables are now the official image's "
                "(POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB)",
            )
        _server_options(svc, notes)
    else:
        password, variable, dropped = _redis_password(svc, env)
        used.update({"REDIS_PASSWORD", variable or ""})
        if dropped:
            notes.add(
                (*svc.path, "command"),
                f"redis-server options not carried: {' '.join(dropped)} "
                "(envctl's redis runs with its defaults)",
            )
    if password is not None:
        secret = secrets.add(secret_name(name, "password"), password)
        # A password from the shell is generated too: every user of it names the secret.
        what = "a password from your shell" if names_in(password) else "a literal password"
        notes.add(
            _password_path(svc, image),
            f"{what}: now ${{secret.{secret}}}, generated per environment "
            f"(give a fixed one with ENVCTL_SECRET_{secret})",
        )
    if secret is not None:
        out["POSTGRES_PASSWORD" if image.engine == "postgres" else "REDIS_PASSWORD"] = (
            f"${{secret.{secret}}}"
        )
    dropped_env = [k for k in env if k not in used and k not in HARMLESS]
    if dropped_env:
        notes.add(
            env_path,
            f"{', '.join(dropped_env)}: not read by envctl's {image.engine}; dropped",
        )
    if image.version is None:
        notes.add(
            (*svc.path, "image"),
            f"{svc.image}: no version in its tag; write production's "
            f"(e.g. {image.engine}:{'16' if image.engine == 'postgres' else '7.2'}) "
            "so envctl can compare versions",
        )
    target = Target(name, image.engine, ports, user, database, password, secret)
    schema = _schema(svc, image, notes)
    return EngineService(out, target, *(schema or (None, ())))


def _password_path(svc: ComposeService, image: EngineImage) -> tuple[str | int, ...]:
    if image.engine == "postgres":
        return (*svc.path, "environment", POSTGRES_VARIABLES[image.flavour][1])
    if svc.command is not None and "--requirepass" in " ".join(svc.command):
        return (*svc.path, "command")
    return (*svc.path, "environment", "REDIS_PASSWORD")


def _redis_password(
    svc: ComposeService, env: dict[str, str]
) -> tuple[str | None, str | None, tuple[str, ...]]:
    password = env.get("REDIS_PASSWORD") or None
    if svc.command is None:
        return password, None, ()
    parsed = redis_command(svc.command)
    if parsed.password is not None:
        password = parsed.password
    elif parsed.password_variable is not None:
        password = env.get(parsed.password_variable) or password
    return password, parsed.password_variable, parsed.dropped


def _server_options(svc: ComposeService, notes: Notes) -> None:
    if svc.command:
        notes.add(
            (*svc.path, "command"),
            "server options are not carried: envctl's postgres runs with its defaults",
        )


def _schema(
    svc: ComposeService, image: EngineImage, notes: Notes
) -> tuple[Path, tuple[str | int, ...]] | None:
    """The one SQL file mounted to run at first start, if there is exactly one."""
    scripts: list[tuple[Mount, Path]] = []
    for mount in svc.mounts:
        target = mount.spec.target.rstrip("/")
        if image.engine == "postgres" and target.startswith(INIT_DIRS):
            if mount.host_path is None:
                notes.add(mount.path, f"{mount.text}: init scripts from a volume; dropped")
            elif mount.host_path.is_dir():
                scripts += [(mount, p) for p in sorted(mount.host_path.iterdir()) if p.is_file()]
            else:
                scripts.append((mount, mount.host_path))
        elif mount.spec.kind in ("volume", "bind") and (
            mount.spec.kind == "volume" or target.startswith(DATA_DIRS)
        ):
            label = mount.spec.source or "an anonymous volume"
            notes.add(mount.path, f"{label}: dropped — environments start empty; seed with data:")
        else:
            notes.add(
                mount.path,
                f"{mount.text}: a file for the container; envctl's {image.engine} "
                "does not read it; dropped",
            )
    sql = [(m, p) for m, p in scripts if p.suffix == ".sql"]
    for mount, path in scripts:
        if path.suffix != ".sql":
            notes.add(mount.path, f"{path.name}: only .sql init scripts carry over; dropped")
    if len(sql) > 1:
        names = ", ".join(p.name for _, p in sql)
        notes.add(
            sql[0][0].path,
            f"{len(sql)} SQL init scripts ({names}): a data entry applies one schema file; "
            "concatenate them into one and set data[].schema",
        )
        return None
    return (sql[0][1], sql[0][0].path) if sql else None


def schema_entry(name: str, schema: Path, out_dir: Path) -> dict[str, Any]:
    from orchestrator.importers.paths import relative

    return {"service": name, "schema": relative(schema, out_dir)}
