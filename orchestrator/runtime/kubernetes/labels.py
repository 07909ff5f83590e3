"""Names, labels and annotations of everything the Kubernetes runtime creates.

An environment is one namespace, ``envctl-<env id>``; everything in it carries
``envctl.dev/env`` too. Label values are limited (63 characters of ``[A-Za-z0-9-_.]``),
so the values people need whole — the env id, the blueprint, the owner, the expiry —
are annotations as well; ``gc`` reads the env id from its annotation first.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

PREFIX = "envctl.dev/"
MANAGED = PREFIX + "managed"  # "true" on every namespace envctl creates
ENV = PREFIX + "env"
STORE = PREFIX + "store"  # short hash of the state dir: one store's gc leaves others'
BLUEPRINT = PREFIX + "blueprint"
OWNER = PREFIX + "owner"
TIER = PREFIX + "tier"
SERVICE = PREFIX + "service"
ROLE = PREFIX + "role"  # service | proxy | suite

# Annotations
ENV_ID = PREFIX + "env-id"  # the environment id, unsanitised
CREATED_BY = PREFIX + "created-by"  # pid:start@host of the envctl process
EXPIRES_AT = PREFIX + "expires-at"  # ISO-8601 UTC: the ttl's end; gc reaps after it

NAMESPACE_PREFIX = "envctl-"
MAX_NAME = 63  # a DNS-1123 label
_LABEL_VALUE_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_DNS_CHARS = re.compile(r"[^a-z0-9-]+")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def namespace_name(env_id: str) -> str:
    """``envctl-<env id>`` as a DNS-1123 label; long ids keep a hash of the whole id."""
    return _dns_label(NAMESPACE_PREFIX + env_id, env_id)


def object_name(service: str) -> str:
    """A Service/Deployment name for a blueprint service name.

    Blueprint names are DNS-1123 labels already, but a Service name must also start
    with a letter (DNS-1035): ``1st-db`` becomes ``s-1st-db``.
    """
    name = service if service[:1].isalpha() else "s-" + service
    return _dns_label(name, service)


def label_value(text: str) -> str:
    """``text`` as a valid label value: allowed characters, ≤ 63, alphanumeric ends."""
    value = _LABEL_VALUE_CHARS.sub("-", text)[:MAX_NAME]
    return value.strip("-_.")


def store_id(state_dir: Path) -> str:
    """A short, stable name for a state store, fit for a label value."""
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:16]


def iso_utc(unix_time: float) -> str:
    return datetime.fromtimestamp(unix_time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float | None:
    """Unix seconds of an ``EXPIRES_AT`` value; None for anything unreadable."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def selector(labels: dict[str, str]) -> str:
    """A label selector matching all of ``labels``."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _dns_label(name: str, whole: str) -> str:
    """``name`` if it is a DNS-1123 label; else sanitised and cut, with a hash of
    ``whole`` so that distinct originals stay distinct."""
    if len(name) <= MAX_NAME and _DNS_LABEL.fullmatch(name):
        return name
    label = re.sub(r"-{2,}", "-", _DNS_CHARS.sub("-", name.lower())).strip("-")
    digest = hashlib.sha256(whole.encode()).hexdigest()[:8]
    return f"{label[: MAX_NAME - len(digest) - 1].rstrip('-')}-{digest}".lstrip("-")
