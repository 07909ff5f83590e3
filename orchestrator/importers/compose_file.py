"""Find a Compose file, read it with positions, and interpolate its variables.

The YAML is read by the blueprint's own reader (``blueprint/source.py``), so anchors and
``<<:`` merges behave the same, duplicate keys are caught, and every value keeps its line
for errors and notes. It is interpolated twice: with the shell's values (``data``, for
fields that need a value) and with markers for them (``templated``, shell_values.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.blueprint.source import Path as KeyPath
from orchestrator.blueprint.source import SourceMap, parse_yaml
from orchestrator.exceptions import BlueprintError, Location, UsageError
from orchestrator.importers.compose_vars import (
    InterpolationProblem,
    Variables,
    interpolate,
    read_dotenv,
)
from orchestrator.importers.notes import ComposeError, Notes
from orchestrator.importers.shell_values import CLOSE, OPEN

# The names `docker compose` looks for, in its order.
DEFAULT_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_NAMES = (
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
)


@dataclass(frozen=True)
class ComposeFile:
    """One Compose file, variables interpolated, with where each value was written."""

    path: Path  # absolute
    data: dict[str, Any]
    source: SourceMap
    variables: Variables
    templated: dict[str, Any]  # `data` with markers for the shell's values
    shell_uses: dict[str, tuple[KeyPath, ...]]  # variable → where its shell value went

    @property
    def directory(self) -> Path:
        return self.path.parent


def locate(arg: str | None, cwd: Path) -> Path:
    """The Compose file named by ``arg`` (a file, or a directory holding one), else the
    one in ``cwd``."""
    where = cwd if arg is None else Path(arg)
    if arg is not None and not where.is_absolute():
        where = cwd / where
    if where.is_dir():
        for name in DEFAULT_NAMES:
            if (where / name).is_file():
                return where / name
        raise UsageError(
            f"no Compose file in {str(where)!r} (looked for {', '.join(DEFAULT_NAMES)})",
            hint="give the file: envctl import compose path/to/docker-compose.yml",
        )
    if not where.is_file():
        raise UsageError(
            f"Compose file {arg!r} not found",
            hint="give the path of a docker-compose.yml / compose.yaml, or a directory with one",
        )
    return where


def read(path: Path, environ: Mapping[str, str]) -> tuple[ComposeFile, Notes]:
    """Parse and interpolate ``path``; every problem is a located ``ComposeError``."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ComposeError(
            "not a text file (invalid UTF-8)",
            Location(shown, 1, 1),
            hint="give the Compose YAML file",
        ) from None
    except OSError as exc:
        raise UsageError(
            f"cannot read {shown!r}: {exc.strerror or exc}", hint="check the path"
        ) from None
    if not text.strip():
        raise ComposeError(
            "the Compose file is empty",
            Location(shown, 1, 1),
            hint="a Compose file lists its containers under `services:`",
        )
    if OPEN in text or CLOSE in text:
        raise ComposeError(
            "the file holds U+FDD0 or U+FDD1, Unicode noncharacters envctl keeps for itself",
            Location(shown, 1, 1),
            hint="remove them (no text needs them)",
        )
    try:
        data, source = parse_yaml(text, shown)
    except BlueprintError as exc:  # the reader's errors, rephrased for a Compose file
        hint = exc.hint or "check indentation and quoting around this line"
        raise ComposeError(exc.message, exc.location, hint=hint) from None
    notes = Notes(source)
    if not isinstance(data, dict):
        raise notes.error(
            (),
            f"a Compose file is a mapping with `services:`, not a {_kind(data)}",
            "start with `services:` and one entry per container",
        )
    dotenv = _dotenv(path.parent / ".env", notes)
    variables = Variables(environ, dotenv)
    uses: dict[str, list[KeyPath]] = {}
    raw = data
    data = _interpolated(raw, (), variables, notes, uses)
    templated = _interpolated(raw, (), Variables(environ, dotenv, mark_shell=True), notes, {})
    for name in variables.unset:
        notes.add(uses.get(name, [()])[0], f"variable {name} is not set: it became ''")
    for name in OVERRIDE_NAMES:
        if (path.parent / name).is_file() and path.name in DEFAULT_NAMES:
            notes.add((), f"{name} next to it is not merged: import applies one file")
    shell_uses = {n: tuple(uses[n]) for n in variables.from_shell}
    return ComposeFile(path.resolve(), data, source, variables, templated, shell_uses), notes


def _dotenv(path: Path, notes: Notes) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        return read_dotenv(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposeError(
            f"cannot read {str(path)!r}: {exc}", notes.source.locate(()), hint="check .env"
        ) from None


def _interpolated(
    value: Any, path: KeyPath, variables: Variables, notes: Notes, uses: dict[str, list[KeyPath]]
) -> Any:
    """``value`` interpolated; ``uses`` gets where each unset or shell variable was used."""
    if isinstance(value, str):
        seen = (len(variables.unset), len(variables.shell_uses))
        try:
            out = interpolate(value, variables)
        except InterpolationProblem as exc:
            raise notes.error(path, str(exc), exc.hint) from None
        for name in variables.unset[seen[0] :] + variables.shell_uses[seen[1] :]:
            uses.setdefault(name, [])
            if path not in uses[name]:
                uses[name].append(path)
        return out
    if isinstance(value, dict):
        # Extension fields (x-…) are not interpolated by Compose either.
        return {
            k: v
            if str(k).startswith("x-")
            else _interpolated(v, (*path, k), variables, notes, uses)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolated(v, (*path, i), variables, notes, uses) for i, v in enumerate(value)]
    return value


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__
