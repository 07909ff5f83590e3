"""``python -m bench --only kubernetes``: the Kubernetes runtime's figures.

Each round puts two ways of bringing up the reference blueprint's services side by side
on the same cluster, in an order rotated per round:

* **envctl**: ``envctl up blueprints/checkout.yaml --runtime kubernetes -o json``, timed
  from launch to exit (namespace, quota, policy, Secrets, workloads in dependency order,
  readiness through port-forwards, then the seed), plus envctl's own clock from session
  start to the last service ready; then ``envctl down``, timed (it waits until the
  namespace is gone).
* **the floor**: the same manifests, captured from a live envctl environment in the
  warm-up, applied with ``kubectl apply`` into a fresh namespace and waited for with
  ``kubectl wait --for=condition=Available`` (Deployments) and ``kubectl rollout status``
  (StatefulSets); then ``kubectl delete namespace --wait``, timed.

The floor starts everything at once and knows nothing of dependencies: a consumer that
comes up before its database restarts and waits out the kubelet's back-off, as it would
for anyone applying these manifests by hand. The cluster is the one ``KUBECONFIG``
names, else the test cluster (``cluster/cluster.py``). No cluster: the section is
skipped with a warning (with ``--only kubernetes``, an error).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import BLUEPRINT, REPO, MeasurementError, figures
from bench.envctl_cli import UP_TIMEOUT, Envctl
from bench.figures import Samples

TEST_CLUSTER_KUBECONFIG = Path("/var/lib/envctl-cluster/admin.kubeconfig")
WAIT_TIMEOUT = 300  # seconds kubectl waits for the floor's workloads
# Kinds envctl creates in an environment's namespace, in the order kubectl applies them.
KINDS = (
    "resourcequotas",
    "limitranges",
    "networkpolicies",
    "secrets",
    "configmaps",
    "services",
    "statefulsets",
    "deployments",
)
# Set by the API server on creation; a manifest to apply carries none of them.
SERVER_FIELDS = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "ownerReferences",
    "selfLink",
)
RATIOS = (
    ("kube_ready_vs_apply", "kube_envctl_ready_s", "kube_apply_ready_s"),
    ("kube_up_vs_apply", "kube_envctl_up_s", "kube_apply_ready_s"),
    ("kube_down_vs_delete", "kube_envctl_down_s", "kube_delete_ns_s"),
)
ROWS = (
    ("kube_envctl_up_s", "`envctl up checkout --runtime kubernetes` launched → exited (seeded)"),
    ("kube_envctl_ready_s", "envctl's clock: session start → last service ready"),
    ("kube_apply_ready_s", "floor: `kubectl apply` → `kubectl wait`/`rollout status` all ready"),
    ("kube_envctl_down_s", "`envctl down`: namespace deleted and gone"),
    ("kube_delete_ns_s", "floor: `kubectl delete namespace --wait`"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--kube-runs``, ``--no-kubernetes``."""
    parser.add_argument(
        "--kube-runs", type=figures.positive_int, help="rounds of the Kubernetes figures"
    )
    parser.add_argument(
        "--no-kubernetes", action="store_true", help="skip the Kubernetes figures in a full run"
    )


def run_for(args: argparse.Namespace, errors: list[str], warnings: list[str]) -> dict[str, Any]:
    if args.no_kubernetes or args.only is not None:
        return {}
    return {"kubernetes": _section(args, errors, warnings, required=False)}


def table_after(data: dict[str, Any]) -> str:
    return "\n\n" + table(data["kubernetes"]) if "kubernetes" in data else ""


def main_only(args: argparse.Namespace) -> int:
    errors: list[str] = []
    warnings: list[str] = []
    section = _section(args, errors, warnings, required=True)
    return figures.write_only(args, "kubernetes", section, table(section), errors, warnings)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the cluster and its kubectl --------------------------------------------------------------


def _kubeconfig() -> Path | None:
    named = os.environ.get("KUBECONFIG")
    if named:
        return Path(named)
    return TEST_CLUSTER_KUBECONFIG if TEST_CLUSTER_KUBECONFIG.exists() else None


def _kubectl_binary() -> list[str]:
    """kubectl on PATH, else the one built into the test cluster's multi-call binary."""
    found = shutil.which("kubectl")
    if found:
        return [found]
    spec = importlib.util.spec_from_file_location("envctl_cluster", REPO / "cluster" / "cluster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    kube = module.kube_binary()
    if not kube.exists():
        raise MeasurementError("no kubectl on PATH and the test cluster is not built")
    return [str(kube), "kubectl"]


class Kubectl:
    def __init__(self, kubeconfig: Path) -> None:
        self.base = [*_kubectl_binary(), "--kubeconfig", str(kubeconfig)]

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
        done = subprocess.run(
            [*self.base, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise MeasurementError(f"kubectl {' '.join(args[:3])}: {done.stderr.strip()[-300:]}")
        return done.stdout


# -- the manifests of a live environment -----------------------------------------------------


def capture(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]]:
    """The objects envctl made in ``namespace``, as manifests to apply elsewhere."""
    items: list[dict[str, Any]] = []
    for kind in KINDS:
        listed = json.loads(kubectl("get", kind, "-n", namespace, "-o", "json"))
        for item in listed.get("items", []):
            manifest = _manifest(item)
            if manifest is not None:
                items.append(manifest)
    if not any(i["kind"] in ("Deployment", "StatefulSet") for i in items):
        raise MeasurementError(f"no workloads found in {namespace} to capture")
    return items


def _manifest(item: dict[str, Any]) -> dict[str, Any] | None:
    kind = item.get("kind")
    meta = item.get("metadata") or {}
    if kind == "ConfigMap" and meta.get("name") == "kube-root-ca.crt":
        return None  # every namespace gets its own
    if kind == "Secret" and item.get("type") == "kubernetes.io/service-account-token":
        return None
    item = {k: v for k, v in item.items() if k != "status"}
    meta = {k: v for k, v in meta.items() if k not in SERVER_FIELDS and k != "namespace"}
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if not k.startswith(("kubectl.kubernetes.io/", "deployment.kubernetes.io/"))
    }
    meta["annotations"] = annotations
    item["metadata"] = meta
    if kind == "Service":  # the floor's Services get addresses of their own
        spec = dict(item.get("spec") or {})
        for key in ("clusterIP", "clusterIPs"):
            spec.pop(key, None)
        item["spec"] = spec
    return item


# -- one sample of each kind -----------------------------------------------------------------


class KubeRounds:
    def __init__(self, envctl: Envctl, kubectl: Kubectl, kubeconfig: Path) -> None:
        self.envctl = envctl
        self.kubectl = kubectl
        self.extra = {"KUBECONFIG": str(kubeconfig)}
        if kubeconfig == TEST_CLUSTER_KUBECONFIG:
            self.extra["ENVCTL_KUBE_NETWORK_POLICY"] = "enforced"
        # Every envctl call (up, down, the sweep) must see the same cluster.
        envctl.environ.update(self.extra)
        self.manifests: list[dict[str, Any]] = []
        self.prefix = f"envctl-bench-{uuid.uuid4().hex[:6]}"
        self.count = 0

    def envctl_up(self, samples: Samples) -> str:
        done = self.envctl.timed(
            ["up", BLUEPRINT, "--runtime", "kubernetes", "-o", "json"], UP_TIMEOUT, self.extra
        )
        data = _json(done.stdout)
        env_id = data.get("env")
        if isinstance(env_id, str):
            self.envctl.env_ids.append(env_id)
        if done.returncode != 0 or data.get("status") != "ready" or not isinstance(env_id, str):
            raise MeasurementError(done.tail("envctl up --runtime kubernetes"))
        try:
            ends = [
                float(s["started_offset_seconds"]) + float(s["ready_seconds"])
                for s in (data.get("services") or {}).values()
                if isinstance(s.get("ready_seconds"), int | float)
                and isinstance(s.get("started_offset_seconds"), int | float)
            ]
            if not self.manifests:
                self.manifests = capture(self.kubectl, _namespace_of(data, env_id))
        finally:
            down_s, left = self.envctl.down(env_id)
        samples.add("kube_envctl_up_s", done.seconds)
        if ends:
            samples.add("kube_envctl_ready_s", max(ends))
        samples.add("kube_envctl_down_s", down_s)
        if left:
            raise MeasurementError(f"envctl down left {', '.join(left)}")
        return f"{done.seconds:.3f}s (ready at {max(ends, default=0):.3f}s, down {down_s:.3f}s)"

    def floor(self, samples: Samples) -> str:
        if not self.manifests:
            raise MeasurementError("no manifests captured (the envctl sample failed)")
        self.count += 1
        namespace = f"{self.prefix}-{self.count}"
        document = json.dumps(
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": [
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                    *(
                        {**m, "metadata": {**m["metadata"], "namespace": namespace}}
                        for m in self.manifests
                    ),
                ],
            }
        )
        workloads = [
            (m["kind"].lower(), m["metadata"]["name"])
            for m in self.manifests
            if m["kind"] in ("Deployment", "StatefulSet")
        ]
        t0 = time.perf_counter()
        try:
            self.kubectl("apply", "-f", "-", stdin=document)
            if any(kind == "deployment" for kind, _ in workloads):
                self.kubectl(
                    "wait",
                    "-n",
                    namespace,
                    "--for=condition=Available",
                    "deployment",
                    "--all",
                    f"--timeout={WAIT_TIMEOUT}s",
                    timeout=WAIT_TIMEOUT + 10,
                )
            for kind, name in workloads:
                if kind == "statefulset":
                    self.kubectl(
                        "rollout",
                        "status",
                        "-n",
                        namespace,
                        f"statefulset/{name}",
                        f"--timeout={WAIT_TIMEOUT}s",
                        timeout=WAIT_TIMEOUT + 10,
                    )
            ready = time.perf_counter() - t0
        finally:
            t1 = time.perf_counter()
            self.kubectl("delete", "namespace", namespace, "--wait=true", timeout=180)
            deleted = time.perf_counter() - t1
        samples.add("kube_apply_ready_s", ready)
        samples.add("kube_delete_ns_s", deleted)
        return f"{ready:.3f}s (deleted in {deleted:.3f}s)"

    def sweep(self) -> list[str]:
        """Namespaces of ours still there at the end (removed here)."""
        listed = json.loads(self.kubectl("get", "namespaces", "-o", "json"))
        ours = [
            n["metadata"]["name"]
            for n in listed.get("items", [])
            if n["metadata"]["name"].startswith(self.prefix)
        ]
        for name in ours:
            with contextlib.suppress(MeasurementError):
                self.kubectl("delete", "namespace", name, "--wait=false")
        return ours


def _namespace_of(data: dict[str, Any], env_id: str) -> str:
    """The environment's namespace, from a service handle's details when `up` reports
    them, else by envctl's naming rule."""
    for svc in (data.get("services") or {}).values():
        namespace = (svc.get("details") or {}).get("namespace") if isinstance(svc, dict) else None
        if isinstance(namespace, str):
            return namespace
    from orchestrator.runtime.kubernetes.labels import namespace_name

    return namespace_name(env_id)


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# -- the rounds and the section --------------------------------------------------------------


def _section(
    args: argparse.Namespace, errors: list[str], warnings: list[str], required: bool
) -> dict[str, Any]:
    kubeconfig = _kubeconfig()
    try:
        kubectl = _reachable(kubeconfig)
    except (MeasurementError, subprocess.TimeoutExpired) as exc:
        note = f"Kubernetes figures skipped: {exc}"
        (errors if required else warnings).append(note)
        _say(note)
        return {"skipped": str(exc)}
    assert kubeconfig is not None
    return run(kubectl, kubeconfig, args.kube_runs or args.runs, errors, warnings)


def _reachable(kubeconfig: Path | None) -> Kubectl:
    if kubeconfig is None:
        raise MeasurementError("no KUBECONFIG and no test cluster (cluster/cluster.py up)")
    kubectl = Kubectl(kubeconfig)
    kubectl("get", "nodes", timeout=15)
    return kubectl


def run(
    kubectl: Kubectl, kubeconfig: Path, runs: int, errors: list[str], warnings: list[str]
) -> dict[str, Any]:
    started = time.monotonic()
    state_dir = Path(tempfile.mkdtemp(prefix="bench-kube-state-"))
    samples = Samples()
    try:
        envctl = Envctl(state_dir)
        rounds = KubeRounds(envctl, kubectl, kubeconfig)
        kinds: list[tuple[str, Callable[[Samples], str]]] = [
            ("envctl", rounds.envctl_up),
            ("floor", rounds.floor),
        ]
        # The warm-up captures the manifests (and warms the images' page cache).
        _say("kubernetes warm-up (not recorded)")
        for label, measure in kinds:
            try:
                _say(f"  {label:<7} {measure(Samples())}")
            except MeasurementError as exc:
                errors.append(f"kubernetes warm-up {label}: {exc}")
                _say(f"  {label:<7} FAILED: {exc}")
        for r in range(runs):
            _say(f"kubernetes round {r + 1}/{runs}")
            for label, measure in kinds[r % 2 :] + kinds[: r % 2]:
                try:
                    _say(f"  {label:<7} {measure(samples)}")
                except MeasurementError as exc:
                    errors.append(f"kubernetes round {r + 1} {label}: {exc}")
                    _say(f"  {label:<7} FAILED: {exc}")
        left = rounds.sweep()
        if left:
            warnings.append(f"kubernetes: floor namespaces left and removed: {', '.join(left)}")
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    figs = {name: figures.summary(v) for name, v in sorted(samples.values.items()) if v}
    return {
        "runs": runs,
        "settings": {"blueprint": BLUEPRINT, "kubeconfig": str(kubeconfig)},
        "info": {
            "server": json.loads(kubectl("version", "-o", "json"))
            .get("serverVersion", {})
            .get("gitVersion"),
            "wall_s": round(time.monotonic() - started, 1),
        },
        "figures": figs,
        "ratios": {name: figures.ratio(samples, top, bottom) for name, top, bottom in RATIOS},
    }


def table(data: dict[str, Any]) -> str:
    if "skipped" in data:
        return f"kubernetes runtime · skipped: {data['skipped']}"
    figs = data["figures"]
    lines = [
        f"kubernetes runtime · {data['runs']} rounds · server {data['info'].get('server')} · "
        f"{data['info'].get('wall_s', 0):.0f}s",
        "",
        f"{'figure':<24} {'median':>8} {'min':>8} {'max':>8}  meaning",
    ]
    for name, meaning in ROWS:
        fig = figs.get(name)
        cells = [f"{fig[k]:.3f}" if fig else "—" for k in ("median", "min", "max")]
        lines.append(f"{name:<24} {cells[0]:>8} {cells[1]:>8} {cells[2]:>8}  {meaning}")
    lines += ["", "ratios of medians"]
    for name, top, bottom in RATIOS:
        value = data["ratios"][name]
        shown = f"{value:.2f}x" if value is not None else "—"
        lines.append(f"{name:<24} {shown:>8}  {top} / {bottom}")
    return "\n".join(lines)
