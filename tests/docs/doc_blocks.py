"""The runnable examples in a Markdown file: fenced blocks whose info string says `example`.

The convention every doc follows:

* ```` ```sh example ```` — run with `bash -e`; it must exit 0;
* ```` ```sh example exit=N ```` — it must exit N (a documented failure);
* ```` ```LANG example file=PATH ```` — not run: its text is written to PATH (relative to
  the scratch dir) before the blocks after it run.

Other fenced blocks (```` ```sh ````, ```` ```console ````, ```` ```yaml ````) are
illustrations and are never run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
OPTIONS = ("exit", "file")


class ExampleSyntaxError(ValueError):
    """A block marked `example` whose options cannot be followed."""


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    exit: int = 0
    file: str | None = None

    @property
    def runs(self) -> bool:
        return self.file is None


def examples(path: Path) -> list[Block]:
    """The example blocks of ``path``, in order."""
    return list(_parse(path.read_text(encoding="utf-8"), str(path)))


def _parse(text: str, name: str) -> Iterator[Block]:
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match or (match["fence"][0] == "`" and "`" in match["info"]):
            i += 1
            continue
        start, indent, fence = i, match["indent"], match["fence"]
        body: list[str] = []
        i += 1
        # A fence closes on a line of the same character, at least as long, nothing else.
        while i < len(lines) and not re.fullmatch(
            rf"\s*{re.escape(fence[0])}{{{len(fence)},}}\s*", lines[i]
        ):
            body.append(lines[i].removeprefix(indent))
            i += 1
        i += 1
        block = _block(match["info"].split(), start + 1, "\n".join(body) + "\n", name)
        if block is not None:
            yield block


def _block(words: list[str], line: int, text: str, name: str) -> Block | None:
    if len(words) < 2 or words[1] != "example":
        return None
    where = f"{name}:{line}"
    options: dict[str, str] = {}
    for word in words[2:]:
        key, sep, value = word.partition("=")
        if not sep or key not in OPTIONS or not value:
            raise ExampleSyntaxError(
                f"{where}: unknown example option {word!r}; options: exit=N, file=PATH"
            )
        options[key] = value
    language = words[0]
    file = options.get("file")
    if file is not None:
        pure = PurePosixPath(file)
        if pure.is_absolute() or ".." in pure.parts:
            raise ExampleSyntaxError(f"{where}: file={file!r} must stay inside the scratch dir")
        if "exit" in options:
            raise ExampleSyntaxError(f"{where}: a file= block is written, not run: no exit=")
    elif language != "sh":
        raise ExampleSyntaxError(
            f"{where}: a {language!r} example needs file=PATH (only sh examples are run)"
        )
    try:
        code = int(options.get("exit", "0"))
    except ValueError:
        raise ExampleSyntaxError(f"{where}: exit={options['exit']!r} is not a number") from None
    return Block(line, language, text, code, file)
