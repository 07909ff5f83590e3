"""Images: used as given, pulled only when absent, and pinned by ID on the run.

A tag is a moving target (``latest`` above all), so what a run used is recorded as the
image ID the engine resolved, plus the registry digest when the image came from one.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from orchestrator.exceptions import RuntimeUnavailable
from orchestrator.runtime.docker.client import errors

ENVCTL_IMAGE = f"envctl/envctl:{version('envctl')}"  # built by `make images`
BUILD_HINT = "build or load it first (for this project's images: `make images`)"


@dataclass(frozen=True)
class ResolvedImage:
    reference: str  # as the blueprint wrote it
    id: str  # sha256:… — what actually ran
    digest: str | None  # repo@sha256:… when it came from a registry
    volumes: tuple[str, ...]  # paths the image declares as VOLUME
    healthcheck: bool  # the image has a HEALTHCHECK that is not NONE

    def as_details(self) -> dict[str, Any]:
        return {"image": self.reference, "image_id": self.id, "image_digest": self.digest}


def unpinned(reference: str) -> bool:
    """True for ``name`` and ``name:latest``: a run that cannot be repeated exactly."""
    if "@sha256:" in reference:
        return False
    last = reference.rsplit("/", 1)[-1]
    return ":" not in last or last.endswith(":latest")


def resolve(client: Any, reference: str, *, pull: bool = True) -> ResolvedImage:
    """The local image for ``reference``; pulled when absent (if ``pull``)."""
    errs = errors()
    try:
        image = client.images.get(reference)
    except errs.ImageNotFound:
        if not pull:
            raise _missing(reference, "") from None
        try:
            image = client.images.pull(reference)
        except errs.APIError as exc:
            raise _missing(reference, _explanation(exc)) from None
    attrs = image.attrs
    config = attrs.get("Config") or {}
    health = (config.get("Healthcheck") or {}).get("Test") or []
    digests = attrs.get("RepoDigests") or []
    return ResolvedImage(
        reference=reference,
        id=str(attrs.get("Id", image.id)),
        digest=str(digests[0]) if digests else None,
        volumes=tuple(sorted((config.get("Volumes") or {}).keys())),
        healthcheck=bool(health) and health[0] != "NONE",
    )


def _missing(reference: str, why: str) -> RuntimeUnavailable:
    detail = f" ({why})" if why else ""
    return RuntimeUnavailable(
        f"image {reference!r} not found locally and the registry is unreachable{detail}",
        hint=BUILD_HINT,
    )


def _explanation(exc: Any) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return text.splitlines()[0][:200] if text else "pull failed"
