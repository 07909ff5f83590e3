"""Every relative link in README.md and docs/*.md leads somewhere: a file of the repo and,
for `file.md#anchor` or `#anchor`, a heading (or `<a id>`) of that file."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from orchestrator.blueprint.reference import slug

REPO = Path(__file__).resolve().parents[2]
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+).*?\1")
_EXTERNAL = ("http://", "https://", "mailto:")


def markdown_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _prose_lines(path: Path) -> list[tuple[int, str]]:
    """The lines outside fenced blocks, numbered (links in a block are its text)."""
    out, fence = [], ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = _FENCE.match(line)
        if match and (not fence or match[1].startswith(fence)):
            fence = "" if fence else match[1][0] * 3
            continue
        if not fence:
            out.append((number, line))
    return out


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, line in _prose_lines(path):
        if heading := re.match(r"^#{1,6} (.+?)\s*#*$", line):
            base = slug(heading[1])
            # GitHub numbers repeated headings: `usage`, `usage-1` …
            found.add(f"{base}-{seen[base]}" if base in seen else base)
            seen[base] = seen.get(base, 0) + 1
    text = path.read_text(encoding="utf-8")
    found |= set(re.findall(r'<a (?:id|name)="([^"]+)"', text))
    return frozenset(found)


def broken_links(path: Path, root: Path = REPO) -> list[str]:
    problems = []
    for number, line in _prose_lines(path):
        for target in _LINK.findall(_INLINE_CODE.sub("", line)):  # `[x](y)` in code is text
            if target.startswith(_EXTERNAL):
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(root)}:{number}: {target}"
            if not dest.exists():
                problems.append(f"{where}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                problems.append(f"{where}: no heading #{anchor} in {dest.name}")
    return problems


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(path: Path) -> None:
    problems = broken_links(path)
    assert not problems, "\n".join(problems)


def test_the_link_checker_finds_broken_links(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## `envctl run BLUEPRINT`\n", "utf-8")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Doc\n\n[ok](other.md#envctl-run-blueprint) [self](#doc) [web](https://x.y)\n"
        "[gone](missing.md) [no anchor](other.md#nothing) `[code](missing.md)`\n"
        "```\n[in a block](missing.md)\n```\n",
        "utf-8",
    )
    problems = broken_links(doc, root=tmp_path)
    assert problems == [
        "doc.md:4: missing.md: no such file",
        "doc.md:4: other.md#nothing: no heading #nothing in other.md",
    ]
