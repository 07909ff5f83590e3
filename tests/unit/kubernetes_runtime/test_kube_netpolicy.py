"""Whether NetworkPolicy means anything here: a known agent, or the setting."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.exceptions import UsageError
from orchestrator.runtime.kubernetes.netpolicy import enforcing_agent
from orchestrator.settings import Settings


def daemon_set(name: str, *images: str) -> dict[str, Any]:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    return {"metadata": {"name": name}, "spec": {"template": {"spec": {"containers": containers}}}}


@pytest.mark.parametrize(
    "found",
    [
        daemon_set("calico-node", "docker.io/calico/node:v3.28.0"),
        daemon_set("cilium", "quay.io/cilium/cilium:v1.16.0"),
        daemon_set(
            "kube-network-policies", "registry.k8s.io/networking/kube-network-policies:v0.6"
        ),
        daemon_set("netpol", "envctl.local/kube-network-policies:v0.9.0"),
        daemon_set("kube-router", "cloudnativelabs/kube-router"),
        daemon_set("antrea-agent", "antrea/antrea-agent-ubuntu:v2.1.0"),
        daemon_set("weave-net", "weaveworks/weave-kube:2.8.1"),
    ],
)
def test_known_agents_are_found_by_name_or_image(found: dict[str, Any]) -> None:
    assert enforcing_agent([daemon_set("kube-proxy", "k8s/kube-proxy:v1.34.4"), found])


def test_plain_networking_enforces_nothing() -> None:
    assert enforcing_agent([daemon_set("kube-proxy", "registry.k8s.io/kube-proxy:v1.34.4"),
                            daemon_set("flannel", "flannel/flannel:v0.25")]) is None  # fmt: skip


def test_the_setting_overrides_detection_and_is_checked() -> None:
    assert Settings.from_environ(
        {"ENVCTL_KUBE_NETWORK_POLICY": "Enforced"}
    ).kube_network_policy == ("enforced")
    assert Settings.from_environ({}).kube_network_policy == "auto"
    assert Settings.from_environ({"ENVCTL_KUBE_CONTEXT": "ci"}).kube_context == "ci"
    with pytest.raises(UsageError, match="ENVCTL_KUBE_NETWORK_POLICY='sometimes'"):
        Settings.from_environ({"ENVCTL_KUBE_NETWORK_POLICY": "sometimes"})
