"""Whether the cluster enforces NetworkPolicy.

The API accepts a NetworkPolicy on any cluster; only a network plugin that implements
policies makes it mean anything. There is no API to ask, so envctl looks for the agent
of a known implementation (a DaemonSet), unless ``ENVCTL_KUBE_NETWORK_POLICY`` says.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.exceptions import RuntimeUnavailable
from orchestrator.runtime.kubernetes.client import Kube
from orchestrator.settings import NetworkPolicyMode

log = logging.getLogger(__name__)

# Names (of the DaemonSet, or in its container images) of agents that enforce policies.
ENFORCING_AGENTS = (
    "calico",
    "cilium",
    "kube-router",
    "antrea",
    "weave",
    "kube-network-policies",
)


def enforced(kube: Kube, mode: NetworkPolicyMode) -> bool:
    if mode != "auto":
        return mode == "enforced"
    try:
        daemon_sets = kube.list("/apis/apps/v1/daemonsets")
    except RuntimeUnavailable:  # not allowed to list them cluster-wide: kube-system only
        try:
            daemon_sets = kube.list("/apis/apps/v1/namespaces/kube-system/daemonsets")
        except RuntimeUnavailable as exc:
            log.debug("cannot list DaemonSets to find a policy agent: %s", exc)
            return False
    agent = enforcing_agent(daemon_sets)
    if agent is not None:
        log.debug("NetworkPolicy is enforced here (%s)", agent)
    return agent is not None


def enforcing_agent(daemon_sets: Iterable[Mapping[str, Any]]) -> str | None:
    """The name of the first DaemonSet that is a known policy agent, or None."""
    for ds in daemon_sets:
        name = str((ds.get("metadata") or {}).get("name") or "")
        template = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
        images = [str(c.get("image") or "") for c in template.get("containers") or []]
        haystack = " ".join([name, *images]).lower()
        if any(agent in haystack for agent in ENFORCING_AGENTS):
            return name
    return None


UNENFORCED_WARNING = (
    "this cluster does not seem to enforce NetworkPolicy (no calico, cilium, kube-router, "
    "antrea, weave or kube-network-policies agent found): pods of other namespaces may "
    "reach this environment's services; set ENVCTL_KUBE_NETWORK_POLICY=enforced if it does"
)
