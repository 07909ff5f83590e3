"""What a Dockerfile says about how its image starts: the last stage's CMD, ENTRYPOINT
and WORKDIR. Used when a Compose service builds an image and gives no command itself."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StartCommand:
    """A Dockerfile instruction's command: exec form (a list) or shell form (a string)."""

    argv: tuple[str, ...] | None = None
    shell: str | None = None


@dataclass(frozen=True)
class ImageStart:
    entrypoint: StartCommand | None = None
    cmd: StartCommand | None = None
    workdir: str | None = None


def read(path: Path) -> ImageStart:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ImageStart()
    entrypoint = cmd = None
    workdir: str | None = None
    for line in _instructions(text):
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":  # a new stage starts from scratch
            entrypoint = cmd = None
            workdir = None
        elif word == "CMD":
            cmd = _command(rest)
        elif word == "ENTRYPOINT":
            entrypoint = _command(rest)
            cmd = None  # as in Docker: a new ENTRYPOINT resets an inherited CMD
        elif word == "WORKDIR":
            value = rest.strip()
            workdir = value if value.startswith("/") or workdir is None else f"{workdir}/{value}"
    return ImageStart(entrypoint, cmd, workdir)


def _instructions(text: str) -> list[str]:
    """Logical lines: comments dropped, backslash continuations joined."""
    out: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            out.append(current.strip())
        current = ""
    if current.strip():
        out.append(current.strip())
    return out


def _command(rest: str) -> StartCommand:
    text = rest.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            pass
        else:
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return StartCommand(argv=tuple(value))
    return StartCommand(shell=re.sub(r"\s+", " ", text))
