"""The secrets an import finds: literal passwords in the Compose file, each given a
blueprint secret name, so the written blueprint holds ``${secret.NAME}`` and never the
value."""

from __future__ import annotations

from typing import Any

from orchestrator.importers.shell_values import names_in

# A value this short would also match ordinary words, names and numbers if we searched
# for it inside other text; such values are only replaced where they are a whole value.
MIN_SEARCHABLE = 6


class SecretBook:
    def __init__(self) -> None:
        self._values: dict[str, str | None] = {}
        self._generate: dict[str, bool] = {}

    def add(self, name: str, value: str | None, *, generate: bool = True) -> str:
        """Register ``value`` under ``name`` (made unique); the same value twice gets the
        name it got first."""
        if value is not None:
            known = self.name_of(value)
            if known is not None:
                return known
        unique, n = name, 2
        while unique in self._values:
            unique, n = f"{name}_{n}", n + 1
        self._values[unique] = value
        self._generate[unique] = generate
        return unique

    def name_of(self, value: str) -> str | None:
        return next((n for n, v in self._values.items() if v is not None and v == value), None)

    def generated(self, name: str) -> bool:
        return self._generate.get(name, False)

    def searchable(self, public: set[str]) -> dict[str, str]:
        """value → name of the secrets it is safe to look for inside other text: long
        enough, and not part of something public (a user name, an image, a host). A
        shell value's marker is always safe: it is never text."""
        out = {}
        for name, value in self._values.items():
            if value is None:
                continue
            weak = len(value) < MIN_SEARCHABLE or any(value in p for p in public)
            if weak and not names_in(value):
                continue
            out[value] = name
        return out

    def literals(self) -> dict[str, str]:
        """value → name of every secret the Compose file wrote as text, however short."""
        return {v: n for n, v in self._values.items() if v and not names_in(v)}

    def spec(self) -> dict[str, Any]:
        """The blueprint's ``secrets:`` section."""
        return {n: ({"generate": True} if self._generate[n] else {}) for n in self._values}

    def __len__(self) -> int:
        return len(self._values)
