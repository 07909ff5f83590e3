"""Build Helm from the Go module proxy, cached; print the path of the binary.

Our machines reach no GitHub and no get.helm.sh, only the Go module proxy, so Helm is
compiled here with the Go toolchain::

    python3 cluster/helm.py            # prints e.g. ~/.cache/envctl-cluster/helm-v3.19.5/helm
    python3 cluster/helm.py --force    # rebuild even when the cached binary is fine

The binary is reused when it exists and ``helm version`` reports the pinned version.
Progress goes to stderr, so ``HELM=$(python3 cluster/helm.py)`` works. A first build
takes several minutes on two cores (most of it compiling client-go).

Standard library only: like images/build.py it runs before envctl's venv exists.
"""

import argparse
import fcntl
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["HELM_VERSION", "HelmBuildError", "ensure", "main"]

# Helm 3.19 is built against client-go 0.34, the release of the test cluster (v1.34);
# Helm's skew policy supports n-3 Kubernetes minors for each release, so this matches
# exactly. Its latest patch release the proxy serves.
HELM_VERSION = "v3.19.5"
MODULE = "helm.sh/helm/v3"
CACHE_ROOT = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "envctl-cluster"
BUILD_TIMEOUT = 60 * 60  # seconds: a cold build shares two cores with other builds
DOWNLOAD_TIMEOUT = 10 * 60  # seconds, for `go mod download` of Helm's module
LOCK_TIMEOUT = BUILD_TIMEOUT + 5 * 60  # seconds to wait for another process building it
VERSION_TIMEOUT = 30  # seconds, for `helm version`


class HelmBuildError(Exception):
    """Helm could not be built; ``str()`` says what failed, with a hint."""


def _bin_dir(version: str) -> Path:
    return CACHE_ROOT / f"helm-{version}"


def _reported_version(binary: Path) -> str | None:
    """What ``helm version`` says, or None when the binary is missing or broken."""
    if not binary.is_file():
        return None
    try:
        result = subprocess.run(
            [str(binary), "version", "--template", "{{.Version}}"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _go_env(bin_dir: Path) -> dict[str, str]:
    # GOTOOLCHAIN=local: use the installed Go, never download another toolchain (which
    # would come from the proxy too, but is not what we pinned). CGO off, like Helm's
    # release builds: a static binary that does not care which libc the host has.
    return {**os.environ, "GOTOOLCHAIN": "local", "GOBIN": str(bin_dir), "CGO_ENABLED": "0"}


def _client_go_minor(version: str, env: dict[str, str]) -> str:
    """Kubernetes minor of the client-go Helm's go.mod requires (0.34.2 -> "34")."""
    try:
        result = subprocess.run(
            ["go", "mod", "download", "-json", f"{MODULE}@{version}"],
            capture_output=True,
            text=True,
            timeout=DOWNLOAD_TIMEOUT,
            env=env,
            check=False,
        )
    except FileNotFoundError:
        raise HelmBuildError("go not found\nhint: install Go (1.24 or newer)") from None
    except subprocess.TimeoutExpired:
        raise HelmBuildError(
            f"`go mod download {MODULE}@{version}` took over {DOWNLOAD_TIMEOUT} s\n"
            "hint: is the Go module proxy (GOPROXY) reachable?"
        ) from None
    if result.returncode != 0:
        raise HelmBuildError(
            f"`go mod download {MODULE}@{version}` failed:\n{result.stderr.strip()}\n"
            "hint: is the version served by the Go module proxy?"
        )
    go_mod = Path(json.loads(result.stdout)["GoMod"]).read_text()
    match = re.search(r"^\s*k8s\.io/client-go v0\.(\d+)\.", go_mod, re.MULTILINE)
    if match is None:
        raise HelmBuildError(f"no k8s.io/client-go v0.x requirement in {MODULE}@{version}'s go.mod")
    return match.group(1)


def _ldflags(version: str, k8s_minor: str) -> str:
    """The -X flags Helm's Makefile sets, which a plain `go install` would lack.

    Without them `helm version` says "v3.19" and `helm template`/`helm lint` assume
    Kubernetes 1.20 (.Capabilities.KubeVersion, deprecation checks).
    """
    pkg = "helm.sh/helm/v3"
    flags = ["-s", "-w", f"-X {pkg}/internal/version.version={version}"]
    for where in ("pkg/lint/rules", "pkg/chartutil"):
        flags += [
            f"-X {pkg}/{where}.k8sVersionMajor=1",
            f"-X {pkg}/{where}.k8sVersionMinor={k8s_minor}",
        ]
    return " ".join(flags)


def _build(version: str, bin_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    env = _go_env(bin_dir)
    ldflags = _ldflags(version, _client_go_minor(version, env))
    log = bin_dir / "build.log"
    cmd = ["go", "install", "-trimpath", f"-ldflags={ldflags}", f"{MODULE}/cmd/helm@{version}"]
    print(f"building helm {version} with {cmd[0]} install (log: {log}) ...", file=sys.stderr)
    started = time.monotonic()
    with log.open("w") as out:
        try:
            result = subprocess.run(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=BUILD_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise HelmBuildError(
                f"building helm {version} took over {BUILD_TIMEOUT} s\nhint: see {log}"
            ) from None
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise HelmBuildError(f"building helm {version} failed:\n{tail}\nhint: see {log}")
    print(f"built helm {version} in {time.monotonic() - started:.0f} s", file=sys.stderr)


def _locked(lock_path: Path) -> int:
    """Open and exclusively lock ``lock_path``; the fd (closing it releases the lock)."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + LOCK_TIMEOUT
    waited = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            return fd
        if time.monotonic() > deadline:
            os.close(fd)
            raise HelmBuildError(
                f"another process has been building helm for {LOCK_TIMEOUT} s\n"
                f"hint: see `ps` and {lock_path.parent}"
            )
        if not waited:
            print("waiting for another process building helm ...", file=sys.stderr)
            waited = True
        time.sleep(1)


def ensure(version: str = HELM_VERSION, force: bool = False) -> Path:
    """The path of a helm binary reporting ``version``, built first unless cached."""
    bin_dir = _bin_dir(version)
    binary = bin_dir / "helm"
    if not force and _reported_version(binary) == version:
        return binary
    bin_dir.mkdir(parents=True, exist_ok=True)
    # Parallel test workers may all ask for helm: one builds, the others wait and reuse.
    fd = _locked(bin_dir / "build.lock")
    try:
        if force or _reported_version(binary) != version:
            _build(version, bin_dir)
    finally:
        os.close(fd)
    reported = _reported_version(binary)
    if reported != version:
        raise HelmBuildError(
            f"{binary} reports version {reported!r} after its build, not {version!r}\n"
            f"hint: see {bin_dir / 'build.log'}"
        )
    return binary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cluster/helm.py",
        description="Print the path of a helm binary, building it if needed.",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    args = parser.parse_args(argv)
    try:
        print(ensure(force=args.force))
    except HelmBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
