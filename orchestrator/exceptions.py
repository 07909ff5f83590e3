"""Every error envctl raises on purpose, under one root.

The tree, with the process exit code each class carries::

    EnvctlError (3)                     anything envctl expected could go wrong
    ├── UsageError (2)                  a bad option, an unknown runtime/environment name
    │   └── EnvironmentNotFound (2)
    ├── BlueprintError (2)              a blueprint that does not load or validate:
    │                                   carries file, line, column and key path
    ├── SecretError (2)                 a ${secret.X} that no source provides
    ├── RuntimeUnavailable (3)          a runtime's backend is missing (binary, SDK, daemon)
    ├── ServiceError (3)                a service that failed to start or to become ready
    │   └── ReadinessTimeout (3)
    ├── StateError (3)                  the state store cannot be read or written
    └── Interrupted (130)               Ctrl-C or SIGTERM; the environment was torn down

Suites that fail are not errors: they are a result (exit code 1, see ``ExitCode``).
Expected errors print one message with a hint and no traceback; anything outside this
tree is a bug in envctl and shows its traceback.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    """The process exit codes CI pipelines can rely on."""

    OK = 0
    SUITES_FAILED = 1
    USAGE = 2
    ENVIRONMENT = 3
    BUDGET_EXCEEDED = 4  # `envctl run --enforce-budget`: the run cost more than its budget
    FIDELITY_BELOW_THRESHOLD = 5  # `--fail-under N` (run, audit): the fidelity score is below N
    INTERRUPTED = 130


class EnvctlError(Exception):
    """Root of every error envctl raises on purpose."""

    exit_code: ExitCode = ExitCode.ENVIRONMENT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        """The one message a user sees: what went wrong, then how to fix it."""
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message

    def as_dict(self) -> dict[str, object]:
        return {"type": type(self).__name__, "message": self.message, "hint": self.hint}


class UsageError(EnvctlError):
    exit_code = ExitCode.USAGE


class EnvironmentNotFound(UsageError):
    pass


@dataclass(frozen=True)
class Location:
    """Where in a blueprint file something is: 1-based line and column."""

    file: str
    line: int
    column: int
    path: tuple[str | int, ...] = ()

    @property
    def key_path(self) -> str:
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out or "(document)"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class BlueprintError(EnvctlError):
    """A blueprint that does not load or validate. Always knows where."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, location: Location, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.location = location

    def render(self) -> str:
        where = f"{self.location}: {self.location.key_path}: {self.message}"
        return f"{where}\n  hint: {self.hint}" if self.hint else where

    def as_dict(self) -> dict[str, object]:
        loc = self.location
        return {
            **super().as_dict(),
            "file": loc.file,
            "line": loc.line,
            "column": loc.column,
            "key_path": loc.key_path,
        }


class BlueprintErrors(BlueprintError):
    """Several problems found in one pass, so a user fixes them all at once."""

    def __init__(self, errors: Sequence[BlueprintError]) -> None:
        first = errors[0]
        super().__init__(first.message, first.location, hint=first.hint)
        self.errors = list(errors)

    def render(self) -> str:
        return "\n".join(e.render() for e in self.errors)

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "errors": [e.as_dict() for e in self.errors]}


class SecretError(EnvctlError):
    exit_code = ExitCode.USAGE


class RuntimeUnavailable(EnvctlError):
    pass


class ServiceError(EnvctlError):
    """A service failed to start or to become ready; carries the tail of its log."""

    def __init__(
        self, service: str, message: str, *, hint: str | None = None, log_tail: str = ""
    ) -> None:
        super().__init__(f"service {service!r}: {message}", hint=hint)
        self.service = service
        self.log_tail = log_tail

    def render(self) -> str:
        text = super().render()
        if self.log_tail:
            indented = "\n".join("    " + line for line in self.log_tail.splitlines())
            text += f"\n  last log lines of {self.service!r}:\n{indented}"
        return text

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "service": self.service, "log_tail": self.log_tail}


class ReadinessTimeout(ServiceError):
    pass


class StateError(EnvctlError):
    pass


class Interrupted(EnvctlError):
    """Raised in the main thread on SIGINT/SIGTERM so that teardown runs."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, signal_name: str) -> None:
        super().__init__(
            f"interrupted by {signal_name}; the environment was torn down",
            hint=None,
        )
        self.signal_name = signal_name


def first_line(exc: BaseException, default: str | None = None) -> str:
    """The first line of a library's error (psycopg's run to several, with context a
    user does not need); ``default`` (else the class name) when it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else (default or type(exc).__name__)
