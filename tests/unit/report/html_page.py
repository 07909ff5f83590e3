"""An HTML page read back for the report tests: what ``run_html`` and ``cost_html`` wrote,
or the DOM Chromium dumped after laying it out."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser


class Page(HTMLParser):
    """Every element (tag, attributes) in document order, how many of each tag, the text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.chunks: list[str] = []
        self.tags: Counter[str] = Counter()
        self.feed(html)
        self.close()
        self.text = " ".join(self.chunks)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    def having(
        self, cls: str, tag: str | None = None, attr: str | None = None
    ) -> list[dict[str, str]]:
        """The attributes of each element of class ``cls`` (that is a ``tag``, that has
        ``attr``)."""
        return [
            a
            for t, a in self.elements
            if cls in a.get("class", "").split()
            and (tag is None or t == tag)
            and (attr is None or attr in a)
        ]

    def first(self, tag: str) -> dict[str, str]:
        """The attributes of the one ``tag`` element there must be."""
        (found,) = [a for t, a in self.elements if t == tag]
        return found
