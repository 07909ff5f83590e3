"""Blueprint names from Compose names: DNS labels, unique, never a reserved word."""

from __future__ import annotations

import re

from orchestrator.blueprint.model import NAME_PATTERN, RESERVED_SERVICE_NAMES

MAX_LENGTH = 63


def dns_label(text: str, fallback: str = "app") -> str:
    """``My_Shop.v2`` → ``my-shop-v2``: lowercase letters, digits and '-', 63 at most."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower())
    label = re.sub(r"-{2,}", "-", label).strip("-")[:MAX_LENGTH].strip("-")
    return label or fallback


def service_names(names: list[str]) -> dict[str, str]:
    """Compose service name → blueprint service name, for every service."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        label = dns_label(name, "service")
        if label in RESERVED_SERVICE_NAMES:
            label = f"{label}-svc"
        candidate, n = label, 2
        while candidate in taken:
            suffix = f"-{n}"
            candidate = label[: MAX_LENGTH - len(suffix)] + suffix
            n += 1
        taken.add(candidate)
        out[name] = candidate
    return out


def secret_name(*parts: str) -> str:
    """``("db", "password")`` → ``DB_PASSWORD``: what ``${secret.NAME}`` calls it."""
    joined = "_".join(p for p in parts if p)
    return re.sub(r"[^A-Z0-9_]+", "_", joined.upper()).strip("_") or "SECRET"


NAME_PATTERN_TEXT = "lowercase letters, digits and '-' (at most 63), starting and ending alnum"


def is_dns_label(text: str) -> bool:
    return re.fullmatch(NAME_PATTERN, text) is not None
