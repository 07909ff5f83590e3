"""Load a blueprint file into a validated model, or fail with located errors.

Every failure leaves here as a ``BlueprintError`` (or ``BlueprintErrors``) that names file,
line, column and key path; nothing else escapes, which a fuzz test holds us to.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from orchestrator.blueprint import validate
from orchestrator.blueprint.model import Blueprint, Service
from orchestrator.blueprint.source import SourceMap, parse_yaml
from orchestrator.exceptions import BlueprintError, BlueprintErrors, Location


@dataclass(frozen=True)
class LoadedBlueprint:
    """A validated blueprint together with where it came from."""

    model: Blueprint
    path: Path
    source: SourceMap

    @property
    def name(self) -> str:
        return self.model.metadata.name

    @property
    def directory(self) -> Path:
        return self.path.parent

    def service_location(self, name: str) -> Location:
        return self.source.locate(("services", name))

    def service(self, name: str) -> Service:
        return self.model.services[name]


def load(path: str | Path) -> LoadedBlueprint:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BlueprintError(
            "blueprint file not found", Location(str(file), 0, 0), hint="check the path"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BlueprintError(f"cannot read blueprint: {exc}", Location(str(file), 0, 0)) from None
    return loads(text, str(file))


def loads(text: str, file: str = "<blueprint>") -> LoadedBlueprint:
    data, source = parse_yaml(text, file)
    if not isinstance(data, dict):
        raise source.error(
            (), "a blueprint must be a mapping", "start with 'apiVersion: envctl/v1'"
        )
    try:
        model = Blueprint.model_validate(data)
    except ValidationError as exc:
        raise _located(exc, source) from None
    except (ValueError, TypeError, OverflowError) as exc:  # a validator we did not foresee
        raise source.error((), f"invalid blueprint: {exc}") from None
    loaded = LoadedBlueprint(model, Path(file).resolve(), source)
    validate.check(loaded)
    return loaded


def _located(exc: ValidationError, source: SourceMap) -> BlueprintError:
    errors = []
    for err in exc.errors(include_url=False):
        path = tuple(p for p in err["loc"] if p != "[key]")
        errors.append(BlueprintError(_message(err), source.locate(path), hint=_hint(err, path)))
    errors.sort(key=lambda e: (e.location.line, e.location.column))
    return errors[0] if len(errors) == 1 else BlueprintErrors(errors)


def _message(err: Any) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"unknown key {err['loc'][-1]!r}"
    if err["type"] == "missing":
        return f"missing required key {err['loc'][-1]!r}"
    if err["type"] == "string_pattern_mismatch" and "[key]" in err["loc"]:
        return f"invalid name {err['input']!r}"
    # pydantic's "Field required" reads better lower-cased; "CPU amount …" does not.
    if len(msg) > 1 and msg[0].isupper() and msg[1].islower():
        return msg[0].lower() + msg[1:]
    return msg


def _hint(err: Any, path: tuple[str | int, ...]) -> str | None:
    if err["type"] == "extra_forbidden":
        allowed = _fields_at(path[:-1])
        close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        if close:
            return f"did you mean {close[0]!r}?"
        return f"valid keys here: {', '.join(allowed)}" if allowed else None
    if err["type"] == "string_pattern_mismatch":
        return "names are lowercase letters, digits and '-', starting with a letter or digit"
    if err["type"] == "literal_error" and path == ("apiVersion",):
        return "use 'apiVersion: envctl/v1'"
    return None


def _fields_at(path: tuple[str | int, ...]) -> list[str]:
    """The keys the model accepts at ``path``, for 'did you mean' hints."""
    node: Any = Blueprint
    for part in path:
        node = _strip(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = next((f for n, f in node.model_fields.items() if part in (n, f.alias)), None)
            if field is None:
                return []
            node = field.annotation
        elif typing.get_origin(node) in (dict, list):
            node = typing.get_args(node)[-1]
        else:
            return []
    node = _strip(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return sorted(f.alias or n for n, f in node.model_fields.items())
    return []


def _strip(annotation: Any) -> Any:
    """Unwrap Optional[...] and Annotated[...] down to the type that has fields."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        else:
            return annotation
