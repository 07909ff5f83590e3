#!/usr/bin/env python3
"""A real single-node Kubernetes cluster on this machine, for envctl's Kubernetes tests.

No image registry or GitHub is reachable from our machines, so nothing can be pulled
(kind's and k3s's node images included). Everything comes from package registries:

* the Kubernetes components (apiserver, controller-manager, scheduler, kubelet,
  kube-proxy, kubectl) and etcd, built from the Go module proxy into one multi-call
  binary (``cluster/kube/``), cached under ``~/.cache/envctl-cluster`` by a hash of
  its sources, so a second run on the same machine builds nothing;
* containerd, runc and the CNI plugins from Debian's packages (installed by ``.ci/run``);
* the pod sandbox ("pause") image compiled from the Kubernetes module's own pause.c.

The cluster runs as plain processes (no systemd on CI machines): the components are
started in dependency order, each waited for, with their logs in ``STATE/logs``. It
uses cgroup v1 with the cgroupfs driver, as our machines do; v1.34 is the last
Kubernetes release whose kubelet accepts cgroup v1 without opting out.

    cluster.py build          # compile (cached)
    cluster.py up             # build if needed, start, wait until the node is Ready
    cluster.py images TAG...  # copy Docker images into the cluster's containerd
    cluster.py status         # exit 0 when the API answers and the node is Ready
    cluster.py kubectl ARGS   # kubectl, built in, with the admin kubeconfig
    cluster.py down           # stop everything and remove what pods left on the host

The admin kubeconfig is ``/var/lib/envctl-cluster/admin.kubeconfig``. Stdlib only: it
runs before envctl's virtualenv exists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

KUBE_VERSION = "v1.34.4"
HERE = Path(__file__).resolve().parent
SOURCES = HERE / "kube"
CACHE = Path(os.environ.get("ENVCTL_CLUSTER_CACHE", Path.home() / ".cache" / "envctl-cluster"))
STATE = Path(os.environ.get("ENVCTL_CLUSTER_STATE", "/var/lib/envctl-cluster"))
RUN = Path("/run/envctl-cluster")
PKI = STATE / "pki"
LOGS = STATE / "logs"
PIDS = RUN / "pids"
CONTAINERD_SOCKET = RUN / "containerd" / "containerd.sock"
ADMIN_KUBECONFIG = STATE / "admin.kubeconfig"
NODE = "envctl-node"
SERVICE_CIDR = "10.96.0.0/16"
API_SERVICE_IP = "10.96.0.1"
POD_CIDR = "10.244.0.0/24"
CLUSTER_CIDR = "10.244.0.0/16"
BRIDGE = "envctl0"
API_PORT = 6443
PAUSE_IMAGE = "envctl.local/pause:3.10"
DNS_SERVICE_IP = "10.96.0.10"
KUBE_ROUTER_VERSION = "v2.1.0"
ADDONS = HERE / "addons"
CNI_BIN = Path("/usr/lib/cni")
# Started in this order; each is waited for before the next that needs it.
COMPONENTS = (
    "containerd",
    "etcd",
    "apiserver",
    "controller-manager",
    "scheduler",
    "kubelet",
    "proxy",
    "network-policy",
)


def say(message: str) -> None:
    print(f"cluster: {message}", flush=True)


def fail(message: str, hint: str | None = None) -> None:
    print(f"cluster: error: {message}", file=sys.stderr)
    if hint:
        print(f"  hint: {hint}", file=sys.stderr)
    sys.exit(1)


def run(
    *args: str | Path, check: bool = True, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], check=check, text=True, **kwargs)  # type: ignore[call-overload]


# build ---------------------------------------------------------------------------------


def _go_env() -> dict[str, str]:
    # GOTOOLCHAIN=local: the module asks for go1.24; the installed go is newer, and
    # fetching another toolchain would be a download for nothing.
    return {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod -buildvcs=false"}


def kube_binary() -> Path:
    """Where the multi-call binary for the current sources lives (built or not)."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((SOURCES / name).read_bytes())
    go = run("go", "version", capture_output=True).stdout.strip()
    digest.update(go.encode())
    return CACHE / f"kube-{KUBE_VERSION}-{digest.hexdigest()[:12]}"


def build() -> Path:
    binary = kube_binary()
    if binary.exists():
        say(f"kube {KUBE_VERSION} is built ({binary})")
    else:
        if shutil.which("go") is None:
            fail("Go is not installed", "install Go (the toolchain builds Kubernetes)")
        CACHE.mkdir(parents=True, exist_ok=True)
        say(
            f"building Kubernetes {KUBE_VERSION} and etcd from the Go module proxy "
            "(20-40 min on 2 cores, once per machine)"
        )
        version = "k8s.io/component-base/version"
        ldflags = (
            f"-s -w -X {version}.gitVersion={KUBE_VERSION} -X {version}.gitMajor=1 "
            f"-X {version}.gitMinor={KUBE_VERSION.split('.')[1]} -X {version}.gitTreeState=clean"
        )
        partial = binary.with_suffix(".partial")
        began = time.monotonic()
        run(
            "go",
            "build",
            "-trimpath",
            f"-ldflags={ldflags}",
            "-o",
            partial,
            ".",
            cwd=SOURCES,
            env=_go_env(),
        )
        partial.rename(binary)
        say(f"built in {time.monotonic() - began:.0f} s")
    _build_pause()
    _build_addons()
    return binary


def _addon_binaries() -> dict[str, Path]:
    """The add-ons' binaries: CoreDNS (cluster/coredns/) and kube-router's policy firewall."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((HERE / "coredns" / name).read_bytes())
    return {
        "coredns": CACHE / f"coredns-{digest.hexdigest()[:12]}",
        "kube-router": CACHE / f"kube-router-{KUBE_ROUTER_VERSION}",
    }


def _build_addons() -> None:
    # Static (no cgo): CoreDNS runs alone in an image made of nothing but its binary.
    env = {**_go_env(), "CGO_ENABLED": "0"}
    binaries = _addon_binaries()
    coredns, router = binaries["coredns"], binaries["kube-router"]
    if not coredns.exists():
        say("building CoreDNS")
        run(
            "go",
            "build",
            "-trimpath",
            "-ldflags=-s -w",
            "-o",
            coredns.with_suffix(".partial"),
            ".",
            cwd=HERE / "coredns",
            env=env,
        )
        coredns.with_suffix(".partial").rename(coredns)
    if not router.exists():
        say(f"building kube-router {KUBE_ROUTER_VERSION}")
        with tempfile.TemporaryDirectory() as gobin:
            run(
                "go",
                "install",
                "-trimpath",
                "-ldflags=-s -w",
                f"github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@{KUBE_ROUTER_VERSION}",
                env={**env, "GOBIN": gobin},
            )
            shutil.move(str(Path(gobin) / "kube-router"), router)


def _build_pause() -> Path:
    """The sandbox every pod's namespaces hang on: Kubernetes' own pause.c, static."""
    pause = CACHE / f"pause-{KUBE_VERSION}"
    if pause.exists():
        return pause
    module = run(
        "go",
        "list",
        "-m",
        "-f",
        "{{.Dir}}",
        "k8s.io/kubernetes",
        cwd=SOURCES,
        env=_go_env(),
        capture_output=True,
    ).stdout.strip()
    source = Path(module) / "build" / "pause" / "linux" / "pause.c"
    run(
        "gcc",
        "-Os",
        "-static",
        "-o",
        pause.with_suffix(".partial"),
        f"-DVERSION={KUBE_VERSION}",
        source,
    )
    pause.with_suffix(".partial").rename(pause)
    return pause


# certificates and kubeconfigs ------------------------------------------------------------


def _node_ip() -> str:
    """The address of the default route's interface: where pods reach the API server."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.254", 9))  # no packet is sent: UDP connect picks a route
        return str(probe.getsockname()[0])


# openssl req: a new P-256 key, unencrypted (every component reads its own file).
NEW_EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def _openssl(*args: str | Path) -> None:
    run("openssl", *args, capture_output=True)


def _certificate(
    name: str, subject: str, sans: list[str] | None = None, server: bool = False
) -> None:
    key, crt = PKI / f"{name}.key", PKI / f"{name}.crt"
    if crt.exists():
        return
    usage = "serverAuth" if server else "clientAuth"
    extensions = [f"extendedKeyUsage={usage}", "keyUsage=critical,digitalSignature,keyEncipherment"]
    if sans:
        extensions.append("subjectAltName=" + ",".join(sans))
    with tempfile.NamedTemporaryFile("w", suffix=".ext", delete=False) as ext:
        ext.write("\n".join(extensions) + "\n")
    csr = PKI / f"{name}.csr"
    _openssl(
        "req",
        "-new",
        *NEW_EC_KEY,
        "-keyout",
        key,
        "-subj",
        subject,
        "-out",
        csr,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        PKI / "ca.crt",
        "-CAkey",
        PKI / "ca.key",
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        ext.name,
        "-out",
        crt,
    )
    Path(ext.name).unlink()
    csr.unlink()


def _pki(node_ip: str) -> None:
    PKI.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not (PKI / "ca.crt").exists():
        _openssl(
            "req",
            "-x509",
            "-new",
            *NEW_EC_KEY,
            "-keyout",
            PKI / "ca.key",
            "-subj",
            "/CN=envctl-test-cluster-ca",
            "-days",
            "3650",
            "-out",
            PKI / "ca.crt",
        )
    if not (PKI / "sa.key").exists():
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", PKI / "sa.key")
        _openssl("ec", "-in", PKI / "sa.key", "-pubout", "-out", PKI / "sa.pub")
    api_sans = [
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local",
        "DNS:localhost",
        "IP:127.0.0.1",
        f"IP:{API_SERVICE_IP}",
        f"IP:{node_ip}",
    ]
    _certificate("apiserver", "/CN=kube-apiserver", api_sans, server=True)
    _certificate(
        "kubelet-serving",
        f"/CN={NODE}",
        [f"DNS:{NODE}", f"IP:{node_ip}", "IP:127.0.0.1"],
        server=True,
    )
    _certificate("apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client")
    _certificate("admin", "/O=system:masters/CN=envctl-admin")
    _certificate("controller-manager", "/CN=system:kube-controller-manager")
    _certificate("scheduler", "/CN=system:kube-scheduler")
    _certificate("kubelet", f"/O=system:nodes/CN=system:node:{NODE}")
    _certificate("proxy", "/CN=system:kube-proxy")


def _kubeconfig(user: str, path: Path, server: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "envctl-test",
                "cluster": {"server": server, "certificate-authority": str(PKI / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate": str(PKI / f"{user}.crt"),
                    "client-key": str(PKI / f"{user}.key"),
                },
            }
        ],
        "contexts": [{"name": "envctl-test", "context": {"cluster": "envctl-test", "user": user}}],
        "current-context": "envctl-test",
    }
    _write(path, json.dumps(config, indent=2) + "\n")  # JSON is YAML
    path.chmod(0o600)


# configuration files -----------------------------------------------------------------------


_changed: set[str] = set()  # config files written by this run, by name


def _write(path: Path, text: str) -> None:
    """Only when the content changes: kube-proxy exits when its config file is written."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
        _changed.add(path.name)


def _write_configs(node_ip: str) -> None:
    (STATE / "cni").mkdir(parents=True, exist_ok=True)
    for user in ("admin", "controller-manager", "scheduler", "kubelet", "proxy"):
        _kubeconfig(user, STATE / f"{user}.kubeconfig", f"https://127.0.0.1:{API_PORT}")
    _write(
        STATE / "containerd.toml",
        f"""\
version = 2
root = "{STATE}/containerd"
state = "{RUN}/containerd/state"
[grpc]
  address = "{CONTAINERD_SOCKET}"
[ttrpc]
  address = "{CONTAINERD_SOCKET}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # Our machines withhold CAP_SYS_RESOURCE even from root, so no process may lower its
  # oom_score_adj, and the kubelet asks -998 for every pod's sandbox: clamp at ours.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{STATE}/cni"
""",
    )
    # A bridge on this host for the pods; `firewall` accepts their traffic in FORWARD,
    # which the Docker Engine sets to DROP.
    _write(
        STATE / "cni" / "10-envctl.conflist",
        json.dumps(
            {
                "cniVersion": "0.4.0",
                "name": "envctl",
                "plugins": [
                    {
                        "type": "bridge",
                        "bridge": BRIDGE,
                        "isGateway": True,
                        "ipMasq": True,
                        "hairpinMode": True,
                        "ipam": {
                            "type": "host-local",
                            "ranges": [[{"subnet": POD_CIDR}]],
                            "routes": [{"dst": "0.0.0.0/0"}],
                            "dataDir": f"{STATE}/cni-ipam",
                        },
                    },
                    {"type": "portmap", "capabilities": {"portMappings": True}},
                    {"type": "firewall"},
                ],
            },
            indent=2,
        ),
    )
    _write(
        STATE / "kubelet.yaml",
        json.dumps(
            {
                "apiVersion": "kubelet.config.k8s.io/v1beta1",
                "kind": "KubeletConfiguration",
                "authentication": {
                    "anonymous": {"enabled": False},
                    "webhook": {"enabled": False},
                    "x509": {"clientCAFile": str(PKI / "ca.crt")},
                },
                # Only holders of a certificate from this cluster's CA get past authentication.
                "authorization": {"mode": "AlwaysAllow"},
                "cgroupDriver": "cgroupfs",
                "failCgroupV1": False,
                "containerRuntimeEndpoint": f"unix://{CONTAINERD_SOCKET}",
                "tlsCertFile": str(PKI / "kubelet-serving.crt"),
                "tlsPrivateKeyFile": str(PKI / "kubelet-serving.key"),
                "failSwapOn": False,
                "podCIDR": POD_CIDR,
                "clusterDomain": "cluster.local",
                "clusterDNS": [DNS_SERVICE_IP],
                "serializeImagePulls": False,
                # The images are imported, not pulled: never collect them.
                "imageGCHighThresholdPercent": 100,
                "imageGCLowThresholdPercent": 99,
                "evictionHard": {
                    "memory.available": "100Mi",
                    "nodefs.available": "1%",
                    "imagefs.available": "1%",
                },
                "runtimeRequestTimeout": "10m",
                "syncFrequency": "10s",
                "fileCheckFrequency": "10s",
                "nodeStatusUpdateFrequency": "5s",
                "shutdownGracePeriod": "0s",
            },
            indent=2,
        ),
    )
    _write(
        STATE / "proxy.yaml",
        json.dumps(
            {
                "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
                "kind": "KubeProxyConfiguration",
                "clientConnection": {"kubeconfig": str(STATE / "proxy.kubeconfig")},
                "mode": "iptables",
                "clusterCIDR": CLUSTER_CIDR,
                "hostnameOverride": NODE,
                # 0: leave the host's conntrack table size alone (a VM may not allow setting it).
                "conntrack": {"maxPerCore": 0, "min": 0},
            },
            indent=2,
        ),
    )


def _commands(kube: Path, node_ip: str) -> dict[str, list[str]]:
    s = str(STATE)
    return {
        "containerd": ["containerd", "--config", f"{s}/containerd.toml"],
        "etcd": [
            str(kube),
            "etcd",
            "--name",
            "envctl",
            "--data-dir",
            f"{s}/etcd",
            "--listen-client-urls",
            "http://127.0.0.1:2379",
            "--advertise-client-urls",
            "http://127.0.0.1:2379",
            "--listen-peer-urls",
            "http://127.0.0.1:2380",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:2380",
            "--initial-cluster",
            "envctl=http://127.0.0.1:2380",
            # A throwaway test cluster: durability is not worth the fsyncs.
            "--unsafe-no-fsync",
            "--log-level",
            "warn",
        ],
        "apiserver": [
            str(kube),
            "apiserver",
            "--etcd-servers",
            "http://127.0.0.1:2379",
            "--bind-address",
            "0.0.0.0",
            "--secure-port",
            str(API_PORT),
            "--advertise-address",
            node_ip,
            "--service-cluster-ip-range",
            SERVICE_CIDR,
            "--tls-cert-file",
            f"{s}/pki/apiserver.crt",
            "--tls-private-key-file",
            f"{s}/pki/apiserver.key",
            "--client-ca-file",
            f"{s}/pki/ca.crt",
            "--kubelet-client-certificate",
            f"{s}/pki/apiserver-kubelet-client.crt",
            "--kubelet-client-key",
            f"{s}/pki/apiserver-kubelet-client.key",
            "--kubelet-certificate-authority",
            f"{s}/pki/ca.crt",
            "--kubelet-preferred-address-types",
            "InternalIP",
            "--service-account-issuer",
            "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file",
            f"{s}/pki/sa.pub",
            "--service-account-signing-key-file",
            f"{s}/pki/sa.key",
            "--authorization-mode",
            "Node,RBAC",
            "--enable-admission-plugins",
            "NodeRestriction",
            "--allow-privileged=true",
            "--profiling=false",
            "--v",
            "1",
        ],
        "controller-manager": [
            str(kube),
            "controller-manager",
            "--kubeconfig",
            f"{s}/controller-manager.kubeconfig",
            "--authentication-kubeconfig",
            f"{s}/controller-manager.kubeconfig",
            "--authorization-kubeconfig",
            f"{s}/controller-manager.kubeconfig",
            "--bind-address",
            "127.0.0.1",
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            "--service-account-private-key-file",
            f"{s}/pki/sa.key",
            "--root-ca-file",
            f"{s}/pki/ca.crt",
            "--cluster-signing-cert-file",
            f"{s}/pki/ca.crt",
            "--cluster-signing-key-file",
            f"{s}/pki/ca.key",
            "--allocate-node-cidrs=false",
            "--v",
            "1",
        ],
        "scheduler": [
            str(kube),
            "scheduler",
            "--kubeconfig",
            f"{s}/scheduler.kubeconfig",
            "--authentication-kubeconfig",
            f"{s}/scheduler.kubeconfig",
            "--authorization-kubeconfig",
            f"{s}/scheduler.kubeconfig",
            "--bind-address",
            "127.0.0.1",
            "--leader-elect=false",
            "--v",
            "1",
        ],
        "kubelet": [
            str(kube),
            "kubelet",
            "--config",
            f"{s}/kubelet.yaml",
            "--kubeconfig",
            f"{s}/kubelet.kubeconfig",
            "--root-dir",
            f"{s}/kubelet",
            "--hostname-override",
            NODE,
            "--node-ip",
            node_ip,
            "--v",
            "1",
        ],
        "proxy": [str(kube), "proxy", "--config", f"{s}/proxy.yaml", "--v", "1"],
        # NetworkPolicy enforcement with iptables and ipsets: kube-router's firewall alone
        # (its routing and service proxy off; the bridge and kube-proxy do those).
        "network-policy": [
            str(_addon_binaries()["kube-router"]),
            "--kubeconfig",
            f"{s}/admin.kubeconfig",
            "--hostname-override",
            NODE,
            "--run-firewall=true",
            "--run-router=false",
            "--run-service-proxy=false",
            "--metrics-port=0",
            "--health-port=20244",
        ],
    }


# processes ---------------------------------------------------------------------------------


_children: dict[str, subprocess.Popen[bytes]] = {}


def _pid(component: str) -> int | None:
    child = _children.get(component)
    if child is not None:  # ours: a zombie would still answer kill(0)
        return child.pid if child.poll() is None else None
    path = PIDS / component
    try:
        pid = int(path.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _start(component: str, command: list[str]) -> None:
    if _pid(component) is not None:
        return
    LOGS.mkdir(parents=True, exist_ok=True)
    PIDS.mkdir(parents=True, exist_ok=True)
    with (LOGS / f"{component}.log").open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )
    _children[component] = process
    (PIDS / component).write_text(str(process.pid))


def _wait(what: str, check, timeout: float, component: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _pid(component) is None:
            fail(
                f"{component} exited while starting",
                f"see the end of {LOGS / component}.log:\n" + _tail(LOGS / f"{component}.log"),
            )
        try:
            if check():
                return
        except Exception:  # not answering yet
            pass
        time.sleep(0.5)
    fail(
        f"{what} within {timeout:.0f} s",
        f"see {LOGS / component}.log:\n" + _tail(LOGS / f"{component}.log"),
    )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _api(path: str, method: str = "GET", body: dict | None = None) -> dict:  # type: ignore[type-arg]
    context = ssl.create_default_context(cafile=str(PKI / "ca.crt"))
    context.load_cert_chain(str(PKI / "admin.crt"), str(PKI / "admin.key"))
    request = urllib.request.Request(
        f"https://127.0.0.1:{API_PORT}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, context=context, timeout=5) as response:
        text = response.read().decode()
    return json.loads(text) if text.startswith("{") else {"text": text}


def _node_ready() -> bool:
    node = _api(f"/api/v1/nodes/{NODE}")
    conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
    return conditions.get("Ready") == "True"


def _preflight() -> None:
    if os.geteuid() != 0:
        fail("the cluster needs root (containerd, kubelet, iptables)", "run it as root")
    missing = [
        b
        for b in ("containerd", "runc", "iptables", "openssl", "gcc", "docker")
        if shutil.which(b) is None
    ]
    missing += [
        f"{CNI_BIN}/{p}"
        for p in ("bridge", "host-local", "portmap", "firewall", "loopback")
        if not (CNI_BIN / p).exists()
    ]
    if missing:
        fail(
            f"missing: {', '.join(missing)}",
            "apt-get install containerd runc iptables conntrack containernetworking-plugins "
            "openssl gcc docker.io (.ci/run does)",
        )
    if run("docker", "info", check=False, capture_output=True, timeout=30).returncode != 0:
        fail(
            "the Docker Engine does not answer (the pause and add-on images are built with it)",
            "start dockerd (.ci/run does)",
        )
    # Pods on the bridge reach Services through iptables, which bridged traffic only
    # passes with br_netfilter; kube-proxy's NAT needs forwarding.
    for key in ("net/bridge/bridge-nf-call-iptables", "net/ipv4/ip_forward"):
        path = Path("/proc/sys") / key
        if path.exists():
            path.write_text("1")


def up() -> None:
    _preflight()
    kube = build()
    node_ip = _node_ip()
    for directory in (STATE, RUN, LOGS):
        directory.mkdir(parents=True, exist_ok=True)
    _pki(node_ip)
    _write_configs(node_ip)
    commands = _commands(kube, node_ip)
    # A running component whose configuration changed restarts with the new one.
    for component, config in (
        ("containerd", "containerd.toml"),
        ("kubelet", "kubelet.yaml"),
        ("proxy", "proxy.yaml"),
    ):
        if config in _changed:
            _stop(component)
    began = time.monotonic()
    _start("containerd", commands["containerd"])
    _wait(
        "containerd did not answer",
        lambda: CONTAINERD_SOCKET.exists() and _ctr("version").returncode == 0,
        60,
        "containerd",
    )
    _import_pause()
    _start("etcd", commands["etcd"])
    _wait(
        "etcd was not healthy",
        lambda: b"true" in urllib.request.urlopen("http://127.0.0.1:2379/health", timeout=2).read(),
        60,
        "etcd",
    )
    _start("apiserver", commands["apiserver"])
    _wait(
        "the API server was not ready",
        lambda: _api("/readyz").get("text") == "ok",
        180,
        "apiserver",
    )
    for component in ("controller-manager", "scheduler", "kubelet", "proxy", "network-policy"):
        _start(component, commands[component])
    _wait(f"node {NODE} was not Ready", _node_ready, 180, "kubelet")
    _wait(
        "the default service account did not appear",
        lambda: bool(_api("/api/v1/namespaces/default/serviceaccounts/default")),
        120,
        "controller-manager",
    )
    _addons(kube)
    say(f"up in {time.monotonic() - began:.0f} s: node {NODE} Ready; KUBECONFIG={ADMIN_KUBECONFIG}")


def status() -> int:
    down_ = [c for c in COMPONENTS if _pid(c) is None]
    if down_:
        say(f"not running: {', '.join(down_)}")
        return 1
    try:
        ready = _node_ready()
    except Exception as exc:
        say(f"the API does not answer: {exc}")
        return 1
    say(f"up; node {NODE} {'Ready' if ready else 'not Ready'}; KUBECONFIG={ADMIN_KUBECONFIG}")
    return 0 if ready else 1


def _stop(component: str) -> None:
    pid = _pid(component)
    if pid is not None:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _pid(component) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        if _pid(component) is not None:
            os.killpg(pid, signal.SIGKILL)
    (PIDS / component).unlink(missing_ok=True)


def down() -> None:
    for component in reversed(COMPONENTS):
        _stop(component)
    # kube-router's iptables chains and ipsets would go on filtering the bridge.
    router = _addon_binaries()["kube-router"]
    if router.exists():
        run(router, "--cleanup-config", check=False, capture_output=True)
    # What pods leave on the host: their containers' shims, mounts and the bridge.
    run(
        "pkill",
        "-f",
        f"containerd-shim-runc-v2 -namespace k8s.io -address {CONTAINERD_SOCKET}",
        check=False,
    )
    mounts = [
        line.split()[1]
        for line in Path("/proc/mounts").read_text().splitlines()
        if line.split()[1].startswith((str(STATE), str(RUN)))
    ]
    for mount in sorted(mounts, key=len, reverse=True):
        run("umount", "-l", mount, check=False, capture_output=True)
    run("ip", "link", "delete", BRIDGE, check=False, capture_output=True)
    say("down")


# images --------------------------------------------------------------------------------------


def _ctr(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return run(
        "ctr",
        "--address",
        CONTAINERD_SOCKET,
        "--namespace",
        "k8s.io",
        *args,
        check=False,
        capture_output=True,
        **kwargs,
    )


def _import_archive(archive: Path) -> None:
    result = _ctr("images", "import", "--no-unpack", str(archive))
    if result.returncode != 0:
        fail(f"containerd could not import {archive.name}: {result.stderr.strip()}")


def _import_binary_image(reference: str, binary: Path, name: str) -> None:
    """An image holding one static binary at /NAME, straight into containerd."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copy(binary, root / name)
        run("tar", "-C", root, "-cf", root / "rootfs.tar", name)
        run(
            "docker",
            "import",
            "--change",
            f'ENTRYPOINT ["/{name}"]',
            root / "rootfs.tar",
            reference,
            capture_output=True,
        )
        run("docker", "save", "-o", root / "image.tar", reference)
        _import_archive(root / "image.tar")


def _import_pause() -> None:
    if PAUSE_IMAGE not in _ctr("images", "list", "-q").stdout.split():
        _import_binary_image(PAUSE_IMAGE, _build_pause(), "pause")


def _addons(kube: Path) -> None:
    """Cluster DNS, as the cluster's own pods."""
    reference = "envctl.local/coredns:v1.12.4"
    if reference not in _ctr("images", "list", "-q").stdout.split():
        _import_binary_image(reference, _addon_binaries()["coredns"], "coredns")
    kubectl = [str(kube), "kubectl", "--kubeconfig", str(ADMIN_KUBECONFIG)]
    run(*kubectl, "apply", "-f", ADDONS, capture_output=True)
    result = run(
        *kubectl,
        "-n",
        "kube-system",
        "rollout",
        "status",
        "deployment/coredns",
        "--timeout=180s",
        check=False,
        capture_output=True,
    )
    if result.returncode != 0:
        fail(
            f"CoreDNS did not become ready: {result.stderr.strip()}",
            "kubectl -n kube-system describe deployment/coredns",
        )


def images(tags: list[str]) -> None:
    """Copy Docker images into containerd, skipping those whose ID it already has."""
    record = STATE / "images.json"
    imported: dict[str, str] = json.loads(record.read_text()) if record.exists() else {}
    stale = []
    for tag in tags:
        image_id = run(
            "docker", "image", "inspect", "-f", "{{.Id}}", tag, capture_output=True
        ).stdout.strip()
        if imported.get(tag) != image_id:
            stale.append((tag, image_id))
    if not stale:
        say(f"images up to date ({len(tags)})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "images.tar"
        run("docker", "save", "-o", archive, *[tag for tag, _ in stale])
        _import_archive(archive)
    imported.update(dict(stale))
    record.write_text(json.dumps(imported, indent=2))
    say(f"imported {', '.join(tag for tag, _ in stale)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build")
    sub.add_parser("up")
    sub.add_parser("status")
    sub.add_parser("down")
    kubectl = sub.add_parser("kubectl", help="kubectl (built in), with the admin kubeconfig")
    kubectl.add_argument("args", nargs=argparse.REMAINDER)
    imgs = sub.add_parser("images")
    imgs.add_argument("tags", nargs="+")
    args = parser.parse_args()
    if args.command == "build":
        build()
    elif args.command == "up":
        up()
    elif args.command == "status":
        sys.exit(status())
    elif args.command == "down":
        down()
    elif args.command == "kubectl":
        kube = kube_binary()
        if not kube.exists():
            fail("kube is not built", "run `cluster.py build` (or `up`)")
        os.execv(kube, [str(kube), "kubectl", "--kubeconfig", str(ADMIN_KUBECONFIG), *args.args])
    else:
        images(args.tags)


if __name__ == "__main__":
    main()
