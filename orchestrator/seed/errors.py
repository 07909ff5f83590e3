"""The one error seeding raises: what failed, on which service, and where in the blueprint."""

from __future__ import annotations

from orchestrator.exceptions import Location, ServiceError


class SeedError(ServiceError):
    """Seeding a service failed. ``location`` points at the data spec that caused it
    (``file:line:column``, key path) when one did; the environment is then torn down
    and the run recorded as ``error`` like any other service failure."""

    def __init__(
        self,
        service: str,
        message: str,
        *,
        location: Location | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(service, message, hint=hint)
        self.location = location

    def render(self) -> str:
        text = super().render()
        if self.location is None:
            return text
        return f"{self.location}: {self.location.key_path}: {text}"

    def as_dict(self) -> dict[str, object]:
        out = super().as_dict()
        if self.location is not None:
            loc = self.location
            out.update(file=loc.file, line=loc.line, column=loc.column, key_path=loc.key_path)
        return out
