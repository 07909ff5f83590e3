"""Notes: what an import could not carry over, each with where it came from."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.blueprint.source import Path, SourceMap
from orchestrator.exceptions import BlueprintError

SPEC_HINT = (
    "check this key against the Compose file reference (docs.docker.com/reference/compose-file)"
)


class ComposeError(BlueprintError):
    """A Compose file envctl cannot read (or Compose itself would refuse): it carries the
    file, line and key path like a blueprint error, and renders the same way."""


@dataclass(frozen=True)
class Note:
    """One thing the blueprint does not do that the Compose file asked for."""

    key: str  # Compose key path: services.db.volumes[0]
    message: str
    line: int | None = None

    def render(self) -> str:
        return f"{self.key}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"key": self.key, "line": self.line, "message": self.message}


class Notes:
    """Collects notes and errors against one source file, in the order found."""

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self._notes: list[Note] = []

    def add(self, path: Path, message: str) -> None:
        where = self.source.locate(path)
        note = Note(where.key_path, message, where.line if where.line > 0 else None)
        if note not in self._notes:
            self._notes.append(note)

    def error(self, path: Path, message: str, hint: str | None = None) -> ComposeError:
        return ComposeError(message, self.source.locate(path), hint=hint or SPEC_HINT)

    def all(self) -> list[Note]:
        return list(self._notes)
