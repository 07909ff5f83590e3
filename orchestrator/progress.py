"""How the engine reports what it is doing. The CLI supplies a renderer; silent by default."""

from __future__ import annotations


class Progress:
    def step(self, text: str) -> None:
        """A phase or service milestone."""

    def suite_output(self, line: str) -> None:
        """One (redacted) line of a suite's output."""
