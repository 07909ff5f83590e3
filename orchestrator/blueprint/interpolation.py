"""``${…}`` references in blueprint strings: parsing, checking and resolving.

Grammar (``$${`` is a literal ``${``)::

    ${SERVICE.host}  ${SERVICE.port}  ${SERVICE.url}     another service's address
    ${self.host}     ${self.port}     ${self.url}        the service being configured
    ${secret.NAME}                                       a secret (never printed)
    ${env.NAME}      ${env.NAME:-default}                envctl's own environment
    ${run.dir}       ${run.id}                           this run's report dir and env id

Parsing happens at load time so that every bad reference is reported with its file and
line before anything starts; resolution happens when the runtime has addresses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

SERVICE_ATTRIBUTES = ("host", "port", "url")
RUN_ATTRIBUTES = ("dir", "id")
RESERVED_NAMESPACES = ("self", "secret", "env", "run")

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*"
_BODY = re.compile(rf"^({_NAME})\.({_NAME})(?::-(.*))?$", re.DOTALL)


@dataclass(frozen=True)
class Reference:
    namespace: str  # a service name, or one of RESERVED_NAMESPACES
    name: str  # attribute (host/port/url/dir/id) or secret/env variable name
    default: str | None = None
    text: str = ""

    @property
    def is_service(self) -> bool:
        return self.namespace not in ("secret", "env", "run")


class InterpolationError(ValueError):
    """A malformed or unknown reference; the loader adds the location."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def parse(text: str) -> list[Reference]:
    """Every reference in ``text``; raises ``InterpolationError`` on malformed ones."""
    refs: list[Reference] = []
    for match in _REFERENCE.finditer(text):
        if match.group(0) == "$${":
            continue
        body = match.group(1).strip()
        found = _BODY.match(body)
        if not found:
            raise InterpolationError(
                f"malformed reference {match.group(0)!r}",
                hint="write ${service.host}, ${self.port}, ${secret.NAME}, ${env.NAME} "
                "or ${run.dir}; use $${ for a literal '${'",
            )
        namespace, name, default = found.groups()
        if default is not None and namespace != "env":
            raise InterpolationError(
                f"{match.group(0)!r}: only ${{env.NAME:-default}} may have a default"
            )
        refs.append(Reference(namespace, name, default, match.group(0)))
    if "${" in _REFERENCE.sub("", text):
        raise InterpolationError(
            f"unterminated reference in {text!r}", hint="close it with '}', or write $${ for '${'"
        )
    return refs


def check(ref: Reference, services: set[str], *, in_service: str | None) -> None:
    """Raise ``InterpolationError`` unless ``ref`` can be resolved in this context."""
    if ref.namespace == "run":
        if ref.name not in RUN_ATTRIBUTES:
            raise InterpolationError(
                f"{ref.text!r}: unknown run attribute {ref.name!r}",
                hint=f"valid: {', '.join('run.' + a for a in RUN_ATTRIBUTES)}",
            )
        return
    if ref.namespace in ("secret", "env"):
        return
    if ref.namespace == "self" and in_service is None:
        raise InterpolationError(
            f"{ref.text!r}: 'self' only means something inside a service",
            hint="name the service instead, e.g. ${orders.port}",
        )
    if ref.namespace != "self" and ref.namespace not in services:
        raise InterpolationError(
            f"{ref.text!r}: unknown service {ref.namespace!r}",
            hint=f"services in this blueprint: {', '.join(sorted(services)) or '(none)'}",
        )
    if ref.name not in SERVICE_ATTRIBUTES:
        raise InterpolationError(
            f"{ref.text!r}: unknown service attribute {ref.name!r}",
            hint=f"valid: {', '.join(SERVICE_ATTRIBUTES)}",
        )


def render(text: str, lookup: Callable[[Reference], str]) -> str:
    """Replace every reference in ``text`` with ``lookup(ref)``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        found = _BODY.match(match.group(1).strip())
        assert found is not None, "render() is only called on checked text"
        namespace, name, default = found.groups()
        return lookup(Reference(namespace, name, default, match.group(0)))

    return _REFERENCE.sub(replace, text)


def references_in(values: dict[str, str] | list[str] | str | None) -> Iterator[str]:
    """The strings of a field that may hold references, for walking a model."""
    if values is None:
        return
    if isinstance(values, str):
        yield values
    elif isinstance(values, dict):
        yield from values.values()
    else:
        yield from values
