"""A suite's working directory, packed to ship into the cluster with the suite's Job.

A Job cannot mount the host's directory as Docker does, so the files go in with it: a
gzipped tar in a ConfigMap, which the API caps at 1 MiB. Virtualenvs, caches and VCS
metadata are left out (the image brings its own tools); a directory that is still too
big is an error before anything starts.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.exceptions import BlueprintError, UsageError

if TYPE_CHECKING:
    from orchestrator.blueprint.loader import LoadedBlueprint

MAX_BYTES = 1024 * 1024 - 16 * 1024  # the ConfigMap limit, less room for its metadata
SKIPPED = frozenset({
    ".git", ".hg", ".svn", ".venv", "venv", "__pycache__", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".tox", ".nox", "node_modules",
})  # fmt: skip


class BundleTooLarge(Exception):
    def __init__(self, directory: Path, size: int) -> None:
        super().__init__(f"{directory} packs to {size / 2**20:.1f} MiB")
        self.directory = directory
        self.size = size


def pack(directory: Path, limit: int = MAX_BYTES) -> bytes:
    """``directory`` as a .tar.gz (paths relative to it); ``BundleTooLarge`` past ``limit``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        for path in _files(directory):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(directory)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
            if buffer.tell() > limit:
                raise BundleTooLarge(directory, buffer.tell())
    data = buffer.getvalue()
    if len(data) > limit:
        raise BundleTooLarge(directory, len(data))
    return data


def _files(directory: Path) -> list[Path]:
    out: list[Path] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED)
        base = Path(root)
        out.extend(base / d for d in dirs if (base / d).is_symlink())
        out.extend(base / f for f in sorted(files) if not f.endswith((".pyc", ".pyo")))
    return out


def pack_suites(blueprint: LoadedBlueprint) -> dict[str, bytes]:
    """The cwd of every suite that runs in an image, packed: one too big to ship is a
    blueprint error before anything starts."""
    packed = {}
    for index, suite in enumerate(blueprint.model.suites):
        if not suite.image:
            continue
        cwd = (blueprint.directory / suite.cwd if suite.cwd else blueprint.directory).resolve()
        where = ("suites", index, "cwd") if suite.cwd else ("suites", index, "image")
        try:
            packed[suite.name] = pack(cwd)
        except BundleTooLarge as exc:
            error = too_large(suite.name, exc)
            raise BlueprintError(
                error.message, blueprint.source.locate(where), hint=error.hint
            ) from None
        except OSError as exc:
            raise BlueprintError(
                f"suite {suite.name!r}: cannot read its directory {str(cwd)!r}: "
                f"{exc.strerror or exc}",
                blueprint.source.locate(where),
            ) from None
    return packed


def too_large(suite: str, exc: BundleTooLarge) -> UsageError:
    return UsageError(
        f"suite {suite!r}: its directory {str(exc.directory)!r} packs to "
        f"{exc.size / 2**20:.1f} MiB, and a suite that runs in an image on kubernetes "
        f"ships at most {MAX_BYTES / 2**20:.2f} MiB",
        hint="point the suite's cwd at a smaller directory (virtualenvs, caches and .git "
        "are left out already), or drop `image` to run it on the host",
    )
