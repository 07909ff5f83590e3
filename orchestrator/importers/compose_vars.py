"""Compose's variable interpolation, as ``docker compose config`` applies it.

``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}`` (unset),
``${VAR:?message}`` / ``${VAR?message}`` (required), ``${VAR:+alt}`` / ``${VAR+alt}``;
``$$`` is a literal ``$``; defaults may nest (``${A:-${B:-x}}``). Values come from the
shell's environment first, then from the ``.env`` file next to the Compose file. An
unset variable becomes an empty string, as Compose does (with a warning: here, a note).
With ``mark_shell``, a value from the shell becomes a marker instead (shell_values.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.importers.shell_values import marker

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationProblem(ValueError):
    """A reference Compose would refuse; the caller adds where it is."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass
class Variables:
    """Where ``${VAR}`` values come from, and which ones were used how."""

    shell: Mapping[str, str]
    dotenv: Mapping[str, str] = field(default_factory=dict)
    mark_shell: bool = False
    unset: list[str] = field(default_factory=list)
    from_shell: list[str] = field(default_factory=list)  # each name once, in order
    shell_uses: list[str] = field(default_factory=list)  # every use, in order

    def get(self, name: str) -> str | None:
        """The value, the shell's winning over .env as in Compose."""
        if name in self.shell:
            return self.shell[name]
        return self.dotenv.get(name)

    def use(self, name: str) -> str | None:
        """What stands for ``name`` where its value is used, the use recorded. An empty
        shell value stays empty: there is nothing of the user's to keep out."""
        if name not in self.shell:
            return self.dotenv.get(name)
        if name not in self.from_shell:
            self.from_shell.append(name)
        self.shell_uses.append(name)
        value = self.shell[name]
        return marker(name) if self.mark_shell and value else value


def interpolate(text: str, variables: Variables) -> str:
    """``text`` with every reference replaced; raises ``InterpolationProblem``."""
    out, _ = _scan(text, 0, variables, nested=False)
    return out


def _scan(text: str, i: int, variables: Variables, *, nested: bool) -> tuple[str, int]:
    """Interpolate from ``i`` to the end (or, ``nested``, to the ``}`` that closes a
    default); return the text and the index after what was consumed."""
    out: list[str] = []
    while i < len(text):
        char = text[i]
        if nested and char == "}":
            return "".join(out), i + 1
        if char != "$":
            out.append(char)
            i += 1
            continue
        following = text[i + 1 : i + 2]
        if following == "$":
            out.append("$")
            i += 2
        elif following == "{":
            value, i = _braced(text, i + 2, variables)
            out.append(value)
        else:
            name = _NAME.match(text, i + 1)
            if name is None:
                out.append("$")  # a lone `$` stays (Compose v2 keeps it too)
                i += 1
            else:
                out.append(_value(name.group(0), variables))
                i = name.end()
    if nested:
        raise InterpolationProblem(
            f"unterminated ${{…}} in {text!r}", hint="close it with '}', or write $$ for '$'"
        )
    return "".join(out), i


def _braced(text: str, i: int, variables: Variables) -> tuple[str, int]:
    name_match = _NAME.match(text, i)
    if name_match is None:
        raise InterpolationProblem(
            f"invalid interpolation format in {text!r}",
            hint="write ${NAME} or ${NAME:-default}; $$ is a literal '$'",
        )
    name, i = name_match.group(0), name_match.end()
    if text[i : i + 1] == "}":
        return _value(name, variables), i + 1
    operator = next((op for op in _OPERATORS if text.startswith(op, i)), None)
    if operator is None:
        raise InterpolationProblem(
            f"invalid interpolation format in {text!r}",
            hint="after the name: '}', ':-default', '-default', ':?error' or ':+alternative'",
        )
    argument, i = _scan(text, i + len(operator), variables, nested=True)
    value = variables.get(name)
    empty_counts = operator.startswith(":")
    missing = value is None or (empty_counts and value == "")
    if operator in (":-", "-"):
        return (argument if missing else variables.use(name) or ""), i
    if operator in (":?", "?"):
        if missing:
            raise InterpolationProblem(
                f"required variable {name} is missing a value: {argument or '(no message)'}",
                hint=f"set {name} in your environment or in the .env file next to it",
            )
        return variables.use(name) or "", i
    return ("" if missing else argument), i  # :+ and +: the value itself is not used


def _value(name: str, variables: Variables) -> str:
    value = variables.use(name)
    if value is None:
        if name not in variables.unset:
            variables.unset.append(name)
        return ""
    return value


def read_dotenv(path: Path) -> dict[str, str]:
    """A dotenv file as Compose reads ``.env`` and ``env_file``: ``KEY=value`` a line,
    ``export`` allowed, quotes stripped (escapes in double quotes), ``# comments``."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            continue  # a bare KEY passes the shell's value through: nothing to read here
        values[key] = _dotenv_value(value.strip())
    return values


def _dotenv_value(value: str) -> str:
    if value[:1] == "'":
        end = value.find("'", 1)
        return value[1:end] if end > 0 else value[1:]
    if value[:1] == '"':
        out, i = [], 1
        while i < len(value) and value[i] != '"':
            if value[i] == "\\" and i + 1 < len(value):
                out.append({"n": "\n", "t": "\t"}.get(value[i + 1], value[i + 1]))
                i += 2
            else:
                out.append(value[i])
                i += 1
        return "".join(out)  # anything after the closing quote is a comment
    # An unquoted value ends at a comment that follows whitespace.
    return re.split(r"\s+#", value, maxsplit=1)[0].strip()
