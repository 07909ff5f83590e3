"""Values taken from the user's shell: in the blueprint as ``${env.NAME}``, never as values.

Compose fills ``${NAME}`` from the shell before ``.env``. What the shell held when the
import ran is the user's, not the project's (a DSN with its key, a live API token), so
the blueprint reads it from envctl's own environment when it runs. ``.env`` values and
``${NAME:-default}`` defaults are the project's own and stay as written.

Interpolation writes a marker where a shell value goes in the fields that become
blueprint strings (``is_templated``); the converter turns the markers into references
last, after every rewrite, so no rewrite ever sees or copies the value itself. Fields
that must hold a value (an image tag, a port) get the value, and a note says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from orchestrator.blueprint.source import Path as KeyPath
from orchestrator.importers.notes import Notes

# Unicode noncharacters, which the standard keeps for a program's internal use: a
# Compose file holding them is refused (compose_file.read), so a marker is never text.
OPEN, CLOSE = "\ufdd0", "\ufdd1"
_MARKER = re.compile(f"{OPEN}([A-Za-z_][A-Za-z0-9_]*){CLOSE}")
_TEMPLATED = ("environment", "command", "entrypoint")


def marker(name: str) -> str:
    return f"{OPEN}{name}{CLOSE}"


def is_templated(path: KeyPath) -> bool:
    """A Compose key whose strings are read with markers: those a blueprint may write
    ``${env.NAME}`` in (env, local.command, ready.command)."""
    if len(path) < 3 or path[0] != "services":
        return False
    return path[2] in _TEMPLATED or tuple(path[2:4]) == ("healthcheck", "test")


def names_in(text: str) -> list[str]:
    return _MARKER.findall(text)


def as_references(text: str) -> str:
    """Markers as ``${env.NAME}``: for a blueprint string that interpolates."""
    return _MARKER.sub(lambda m: f"${{env.{m.group(1)}}}", text)


def as_written(text: str) -> str:
    """Markers as the Compose file wrote them, ``${NAME}``: for notes."""
    return _MARKER.sub(lambda m: f"${{{m.group(1)}}}", text)


def as_values(text: str, shell: Mapping[str, str]) -> str:
    """Markers as the shell's values: for a field that takes no references."""
    return _MARKER.sub(lambda m: shell.get(m.group(1), ""), text)


def note_uses(
    uses: Mapping[str, tuple[KeyPath, ...]],
    referenced: set[str],
    kept: set[str],
    notes: Notes,
) -> None:
    """One note per shell variable the file used: where it is now ``${env.NAME}``, and
    where its value had to be written. Names only: never the values."""
    for name, paths in uses.items():
        templated = [p for p in paths if is_templated(p)]
        literal = [p for p in paths if not is_templated(p)]
        if name in referenced and templated:
            notes.add(
                templated[0],
                f"${{{name}}} came from your shell's environment: now ${{env.{name}}}, read "
                "from envctl's environment when it runs (its value now is not written)",
            )
        if literal or name in kept:
            notes.add(
                (literal or list(paths))[0],
                f"${{{name}}} came from your shell's environment (which wins over .env): "
                "the blueprint holds the value it had now",
            )
