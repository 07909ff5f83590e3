"""What the Python API hands out besides the ``Environment``: endpoints, faults, states,
the recorded result (redacted) and the error a caller's exception is recorded as."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.exceptions import EnvctlError
from orchestrator.result import masked_url


@dataclass(frozen=True)
class Endpoint:
    """Where a service answers, from the caller's machine; ``url`` carries credentials."""

    name: str
    host: str
    port: int | None
    url: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host

    def __repr__(self) -> str:
        return (
            f"Endpoint(name={self.name!r}, host={self.host!r}, port={self.port!r}, "
            f"url={masked_url(self.url)!r})"
        )


@dataclass(frozen=True)
class LinkFault:
    """A fault on a link, as its proxy holds it (Toxiproxy's units: milliseconds …)."""

    link: str
    name: str
    kind: str
    stream: str
    probability: float
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, link: str, data: Mapping[str, Any]) -> LinkFault:
        return cls(
            link=link,
            name=str(data.get("name", "")),
            kind=str(data.get("type", "")),
            stream=str(data.get("stream") or "downstream"),
            probability=float(data.get("toxicity", 1.0)),
            attributes=dict(data.get("attributes") or {}),
        )


class State(enum.StrEnum):
    new = "new"  # loaded; nothing started
    starting = "starting"
    ready = "ready"
    failed = "failed"  # could not start; torn down, the errored run recorded
    closed = "closed"  # torn down, run recorded


class CallerError(EnvctlError):
    """An exception the caller's own code raised inside ``with Environment``: recorded
    as the run's error under its own type, not as a bug in envctl."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(
            str(exc) or type(exc).__name__, hint="raised by the code using the environment"
        )
        self.original = exc

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "type": type(self.original).__name__}


def redacted(value: Any, redact: Callable[[str], str]) -> Any:
    """``value`` with ``redact`` applied to every string in it, dataclasses included:
    the result as ``Engine._record`` wrote it (``redact_data(result.to_dict())``)."""
    if isinstance(value, enum.Enum):
        return value  # a StrEnum is a str, and must stay its member
    if isinstance(value, str):
        return redact(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {
            f.name: redacted(getattr(value, f.name), redact)
            for f in dataclasses.fields(value)
            if f.init and f.name != "exception"
        }
        return dataclasses.replace(value, **changed)
    if isinstance(value, dict):
        return {k: redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redacted(v, redact) for v in value)
    return value
