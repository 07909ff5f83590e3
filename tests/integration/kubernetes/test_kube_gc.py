"""`envctl gc --runtime kubernetes` reaps environments whose ttl passed — also from an
empty state store, as the in-cluster reaper (the Helm chart's CronJob) runs it — and
those of an envctl that was killed."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from orchestrator.runtime.kubernetes import labels
from orchestrator.runtime.kubernetes.client import Kube
from tests.conftest import Cli

pytestmark = pytest.mark.kubernetes

BP = "tests/integration/kubernetes/blueprints"


@pytest.mark.timeout(600)
def test_gc_reaps_an_environment_whose_ttl_passed(
    cli: Cli,
    make_cli: Callable[[Path], Cli],
    kube: Kube,
    tmp_path: Path,
    leftovers: Callable[[str], list[str]],
) -> None:
    expiring = cli.json("up", f"{BP}/short-ttl.yaml", "--runtime", "kubernetes")["env"]
    lasting = cli.json("up", f"{BP}/pair.yaml", "--runtime", "kubernetes")["env"]
    reaper = make_cli(tmp_path / "reaper-state")  # an empty store of its own, like the CronJob's
    try:
        namespace = kube.get(f"/api/v1/namespaces/{labels.namespace_name(expiring)}")
        assert namespace is not None
        expires = labels.parse_iso(namespace["metadata"]["annotations"][labels.EXPIRES_AT])
        assert expires is not None and expires - time.time() < 5, "up set the ttl's end"
        time.sleep(max(0.0, expires - time.time()) + 1.5)

        dry = reaper.json("gc", "--runtime", "kubernetes", "--dry-run")
        assert [r["env"] for r in dry["reaped"]] == [expiring], "only the expired one"
        assert leftovers(expiring), "a dry run removes nothing"

        done = reaper.json("gc", "--runtime", "kubernetes")
        assert [(r["env"], r["complete"]) for r in done["reaped"]] == [(expiring, True)]
        assert [x for x in leftovers(expiring) if "work dir" not in x] == []
        assert kube.get(f"/api/v1/namespaces/{labels.namespace_name(lasting)}") is not None

        # Its own store still lists it, expired: its gc finishes the job (state, work dir).
        mine = cli.json("gc", "--runtime", "kubernetes")
        assert [r["env"] for r in mine["reaped"]] == [expiring]
        assert leftovers(expiring) == []
        assert {row["env"] for row in cli.live()} == {lasting}
    finally:
        for env in (expiring, lasting):
            cli("down", env)
    assert leftovers(lasting) == []


@pytest.mark.timeout(300)
def test_a_sigkilled_envctl_leaves_no_port_forwards_and_gc_reaps_its_namespace(
    cli: Cli, leftovers: Callable[[str], list[str]]
) -> None:
    proc = cli.popen("up", f"{BP}/short-ttl.yaml", "--runtime", "kubernetes", "--wait")
    try:
        rows = cli.wait_for(lambda rows: any(r["status"] == "ready" for r in rows), timeout=120)
        env_id = rows[0]["env"]
        helpers = [
            child
            for child in psutil.Process(proc.pid).children(recursive=True)
            if "orchestrator.runtime.kubernetes.forwarding" in " ".join(child.cmdline())
        ]
        assert len(helpers) == 1, "the port-forwards run in one child process"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        gone, _ = psutil.wait_procs(helpers, timeout=10)
        assert gone == helpers, "the port-forward helper ends with envctl, even on SIGKILL"
        reaped = cli.json("gc", "--runtime", "kubernetes")["reaped"]
        assert [r["env"] for r in reaped] == [env_id]
        assert "process" in reaped[0]["reason"] and reaped[0]["complete"]
        assert leftovers(env_id) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
