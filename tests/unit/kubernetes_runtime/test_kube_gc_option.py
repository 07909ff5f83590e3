"""`envctl gc --runtime NAME`: only that runtime, and a wrong name says the valid ones."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from orchestrator.cli.main import cli
from orchestrator.exceptions import RuntimeUnavailable
from orchestrator.runtime import registry


def test_kubernetes_is_a_public_runtime() -> None:
    assert "kubernetes" in registry.PUBLIC
    assert registry.RUNTIMES["kubernetes"].endswith(":KubernetesRuntime")


def test_an_unknown_runtime_lists_the_valid_ones(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["gc", "--runtime", "kubernets"], env={"ENVCTL_STATE_DIR": str(tmp_path)}
    )
    assert result.exit_code != 0
    assert "kubernets" in str(result.exception) or "kubernets" in result.output


def test_gc_of_one_runtime_scans_only_that_one(tmp_path: Path) -> None:
    # The fake runtime is not public, so local is the one scanned; docker and kubernetes
    # (neither reachable here, perhaps) are not even created.
    result = CliRunner().invoke(
        cli,
        ["gc", "--runtime", "local", "-o", "json"],
        env={"ENVCTL_STATE_DIR": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"dry_run": False, "reaped": []}
    assert "skips" not in result.output


def test_gc_of_a_named_runtime_that_cannot_be_scanned_fails(tmp_path: Path) -> None:
    # The in-cluster reaper runs `gc --runtime kubernetes`: when the API does not answer,
    # its Job must fail with one clear message, not report a quiet success.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    result = CliRunner().invoke(
        cli,
        ["gc", "--runtime", "kubernetes"],
        env={"ENVCTL_STATE_DIR": str(tmp_path), "KUBECONFIG": str(kubeconfig)},
    )
    assert result.exit_code not in (0, None), result.output
    # The CLI's entry point prints an EnvctlError as one message with its hint.
    assert isinstance(result.exception, RuntimeUnavailable)
    assert "cannot reach the Kubernetes API at https://127.0.0.1:1" in result.exception.message
