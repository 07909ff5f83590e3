"""Paths as a blueprint writes them: relative to the blueprint's directory, with '/'."""

from __future__ import annotations

import os
from pathlib import Path


def relative(path: Path, directory: Path) -> str:
    return Path(os.path.relpath(path.resolve(), directory.resolve())).as_posix()
