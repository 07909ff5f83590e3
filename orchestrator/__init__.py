"""envctl: ephemeral, production-like test environments from YAML blueprints.

``from orchestrator import Environment`` is the Python API (``orchestrator/api.py``). It
is imported on first use, so that ``import orchestrator`` (the CLI, the pytest plugin
every test run loads) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.api import Endpoint, Environment, LinkFault

__all__ = ["Endpoint", "Environment", "LinkFault"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from orchestrator import api

        return getattr(api, name)
    raise AttributeError(f"module 'orchestrator' has no attribute {name!r}")
