"""Build envctl's container images locally, skipping the ones that are up to date.

Our machines cannot pull from an image registry, so every image the blueprints and the
Docker runtime use is built here from Debian packages (see images/README.md):

    python3 images/build.py                  # all images, in dependency order
    python3 images/build.py redis orders     # these (and what they are built FROM)
    python3 images/build.py --force postgres # rebuild even when up to date
    python3 images/build.py --list           # names, tags and state

An image is up to date when its ``envctl.build-hash`` label equals the hash of its
inputs: the files of its directory here, the files copied in from elsewhere in the
repository, and its parent image's hash (so a new base image rebuilds everything).

Importable without side effects (the Docker integration tests call ``ensure()``); the
module name ``build`` would clash with PyPA's, so load it under a name of your own::

    spec = importlib.util.spec_from_file_location("envctl_images", "images/build.py")
    images = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(images)
    images.ensure(["postgres", "redis"])   # {"postgres:15": "sha256:...", ...}

Standard library only: it runs before envctl's venv exists, with Debian's python3.
"""

# No `from __future__ import annotations`: dataclasses then look the module up in
# sys.modules, which a module loaded with spec_from_file_location is not in.

import argparse
import fcntl
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO

__all__ = ["Image", "ImageBuildError", "catalog", "ensure", "main"]

IMAGES_DIR = Path(__file__).resolve().parent
REPO = IMAGES_DIR.parent
HASH_LABEL = "envctl.build-hash"
# Bump to rebuild every image after a change to how they are built, not what from.
HASH_VERSION = "1"
BUILD_TIMEOUT = 15 * 60  # seconds, per image (and for the wheel)
DOCKER_TIMEOUT = 60  # seconds, for docker commands that are not builds
LOCK_TIMEOUT = 60 * 60  # seconds to wait for another process building images
LOG_DIR = Path(tempfile.gettempdir()) / "envctl-images"
TAIL_LINES = 20

# The extras envctl's image installs, each with the requirement used instead while
# pyproject.toml does not declare it (see _envctl_requirements).
ENVCTL_EXTRAS = {"docker": "docker>=7", "kubernetes": "kubernetes>=29"}

DEBIAN_SUITE = "bookworm"
DEBIAN_VARIANT = "minbase"
DEBIAN_MIRROR = "http://deb.debian.org/debian"


@dataclass(frozen=True)
class Image:
    """One image: built from ``images/<name>/`` (a Dockerfile, or a rootfs overlay)."""

    name: str
    tag: str
    parent: str | None = None
    # Repository files copied into the build context next to the Dockerfile.
    extra_files: tuple[str, ...] = ()
    # The build context also gets a wheel of the project (see _prepare_envctl_context).
    wheel: bool = False


class ImageBuildError(Exception):
    """An image could not be built; ``str()`` is the whole message, tail of log included."""


def _project_version() -> str:
    with (REPO / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


@cache
def catalog() -> dict[str, Image]:
    """Every image by name, parents before children (the build order)."""
    images = [
        Image("debian", f"envctl/debian:{DEBIAN_SUITE}"),
        Image("postgres", "postgres:15", parent="debian"),
        Image("redis", "redis:7.0", parent="debian"),
        Image("python", f"envctl/python:{DEBIAN_SUITE}", parent="debian"),
        Image(
            "payments-stub",
            "payments-stub:2024.05",
            parent="python",
            extra_files=("blueprints/checkout/payments_stub.py",),
        ),
        Image(
            "orders",
            "orders:1.42.0",
            parent="python",
            extra_files=("blueprints/checkout/orders_app.py",),
        ),
        Image("envctl", f"envctl/envctl:{_project_version()}", parent="python", wheel=True),
    ]
    return {image.name: image for image in images}


# --- hashing ---------------------------------------------------------------------


def _wheel_sources() -> list[Path]:
    """What the wheel is built from; hashed instead of the wheel, which has timestamps."""
    return [REPO / "pyproject.toml", *sorted((REPO / "orchestrator").rglob("*.py"))]


def _files_under(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def _input_hash(image: Image, parent_hash: str | None) -> str:
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("version", HASH_VERSION.encode())
    add("tag", image.tag.encode())
    add("parent", (parent_hash or "").encode())
    image_dir = IMAGES_DIR / image.name
    for path in _files_under(image_dir):
        # The executable bit matters: entrypoint scripts are copied with their mode.
        mode = "x" if os.access(path, os.X_OK) else "-"
        add(f"{path.relative_to(image_dir)}:{mode}", path.read_bytes())
    for rel in image.extra_files:
        add(f"extra:{rel}", (REPO / rel).read_bytes())
    if image.wheel:
        for path in _wheel_sources():
            add(f"wheel:{path.relative_to(REPO)}", path.read_bytes())
        # What pip installs with the wheel comes from this script, not from a file of
        # the image's directory: hash it too, with a fixed name for the wheel (the real
        # one is only known after building it).
        add("requirements", "\n".join(_envctl_requirements("envctl.whl")).encode())
    if image.parent is None:
        # The base image is made by this script rather than a Dockerfile.
        add("debootstrap", f"{DEBIAN_SUITE} {DEBIAN_VARIANT} {DEBIAN_MIRROR}".encode())
        for func in (_build_rootfs_image, _trim_rootfs):
            add(func.__name__, inspect.getsource(func).encode())
    return digest.hexdigest()


def _hashes() -> dict[str, str]:
    hashes: dict[str, str] = {}
    for image in catalog().values():
        parent_hash = hashes[image.parent] if image.parent else None
        hashes[image.name] = _input_hash(image, parent_hash)
    return hashes


# --- docker and other commands ------------------------------------------------------


def _docker(*args: str, timeout: float = DOCKER_TIMEOUT) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ImageBuildError(
            f"`docker {' '.join(args)}` did not answer within {timeout:.0f} s\n"
            "hint: is dockerd healthy? see `docker info` and the daemon's log"
        ) from exc


def _check_docker() -> None:
    if shutil.which("docker") is None:
        raise ImageBuildError(
            "the docker CLI is not on PATH\nhint: apt-get install docker.io (Debian 12)"
        )
    result = _docker("version", "--format", "{{.Server.Version}}")
    if result.returncode != 0:
        raise ImageBuildError(
            f"Docker Engine is not reachable:\n{result.stderr.strip()}\n"
            "hint: start it (`dockerd > /var/log/dockerd.log 2>&1 &`, as .ci/run does)"
        )


def _inspect(tag: str) -> tuple[str, str | None] | None:
    """(image id, build-hash label) of a local image, or None when there is none."""
    result = _docker("image", "inspect", "--format", "{{.Id}} {{json .Config.Labels}}", tag)
    if result.returncode != 0:
        return None
    image_id, _, labels = result.stdout.strip().partition(" ")
    return image_id, (json.loads(labels) or {}).get(HASH_LABEL)


def _run_logged(
    cmd: list[str],
    log: Path,
    what: str,
    hint: str,
    stdin: IO[bytes] | None = None,
    env: dict[str, str] | None = None,
) -> None:
    """Run ``cmd`` with its output appended to ``log``; on failure, raise with its tail."""
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        try:
            result = subprocess.run(
                cmd,
                stdin=stdin,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=BUILD_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise _failure(what, f"timed out after {BUILD_TIMEOUT} s", log, hint) from exc
        except OSError as exc:
            raise _failure(what, f"could not run {cmd[0]!r}: {exc}", log, hint) from exc
    if result.returncode != 0:
        raise _failure(what, f"exit status {result.returncode}", log, hint)


def _failure(what: str, why: str, log: Path, hint: str) -> ImageBuildError:
    lines = log.read_text(errors="replace").splitlines()[-TAIL_LINES:]
    tail = "\n".join(f"  | {line}" for line in lines)
    return ImageBuildError(f"{what} failed ({why}); last lines of {log}:\n{tail}\nhint: {hint}")


BUILD_HINT = (
    "fix what the log shows and run `python3 images/build.py` again; note that "
    "builds fetch packages from deb.debian.org from inside containers"
)


# --- builders -------------------------------------------------------------------


def _build_rootfs_image(image: Image, build_hash: str, log: Path) -> None:
    """debootstrap a minimal Debian into a temporary directory and `docker import` it."""
    what = f"building {image.tag}"
    if os.geteuid() != 0:
        raise ImageBuildError(f"{what} needs root (debootstrap)\nhint: run it as root")
    if shutil.which("debootstrap") is None:
        raise ImageBuildError(f"{what} needs debootstrap\nhint: apt-get install debootstrap")
    rootfs = Path(tempfile.mkdtemp(prefix="envctl-rootfs-"))
    try:
        _run_logged(
            [
                "debootstrap",
                f"--variant={DEBIAN_VARIANT}",
                DEBIAN_SUITE,
                str(rootfs),
                DEBIAN_MIRROR,
            ],
            log,
            f"{what}: debootstrap",
            BUILD_HINT,
        )
        _trim_rootfs(rootfs)
        changes = [
            f"LABEL {HASH_LABEL}={build_hash}",
            # An imported image has no environment at all: Dockerfiles say ENV PATH=...:$PATH.
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            'CMD ["bash"]',
        ]
        import_cmd = ["docker", "import"]
        for change in changes:
            import_cmd += ["--change", change]
        import_cmd += ["-", image.tag]
        with subprocess.Popen(
            ["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE
        ) as tar:
            try:
                _run_logged(import_cmd, log, f"{what}: docker import", "see the log", tar.stdout)
            except ImageBuildError:
                tar.kill()  # else it blocks on a pipe nobody reads, and `with` waits for it
                raise
        if tar.returncode != 0:
            raise _failure(what, f"tar exited with status {tar.returncode}", log, "see the log")
    finally:
        _remove_rootfs(rootfs)


def _trim_rootfs(rootfs: Path) -> None:
    """Drop what a container never needs, then add images/debian/rootfs/ on top."""
    # Downloaded packages and index files (each Dockerfile runs apt-get update anyway),
    # docs and translations (also excluded from later installs, by the overlay's dpkg
    # configuration). This roughly halves the image.
    for pattern in ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*"):
        for path in rootfs.glob(pattern):
            if path.is_file():
                path.unlink()
    for directory in ("usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/doc"):
        for path in (rootfs / directory).glob("*"):
            if path.name == "locale.alias":
                continue
            if directory == "usr/share/doc" and path.is_dir():
                for doc in path.iterdir():
                    if doc.name != "copyright":
                        _remove(doc)
            else:
                _remove(path)
    overlay = IMAGES_DIR / "debian" / "rootfs"
    for src in _files_under(overlay):
        dst = rootfs / src.relative_to(overlay)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _remove_rootfs(rootfs: Path) -> None:
    # A failed debootstrap can leave /proc or /sys mounted inside the target: unmount
    # them first, and never delete through a mount that is still there.
    prefix = f"{rootfs}/"
    with Path("/proc/mounts").open() as f:
        mounts = [line.split()[1] for line in f if line.split()[1].startswith(prefix)]
    for mount in sorted(mounts, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
    with Path("/proc/mounts").open() as f:
        if any(line.split()[1].startswith(prefix) for line in f):
            print(f"warning: {rootfs} still has mounts; not removed", file=sys.stderr)
            return
    shutil.rmtree(rootfs, ignore_errors=True)


def _envctl_requirements(wheel: str) -> list[str]:
    """requirements.txt of envctl's image: the wheel named ``wheel`` with its extras.

    [docker] for the Docker runtime's proxy and watchdog; [kubernetes] for the Helm
    chart's reaper (`envctl gc --runtime kubernetes`) and the Kubernetes runtime's proxy.
    An extra pyproject.toml does not declare is installed by name instead, so the image
    works with an older pyproject.toml too. Hashed as an input (see _input_hash).
    """
    with (REPO / "pyproject.toml").open("rb") as f:
        declared = tomllib.load(f)["project"].get("optional-dependencies", {})
    extras = [extra for extra in ENVCTL_EXTRAS if extra in declared]
    fallbacks = [ENVCTL_EXTRAS[extra] for extra in ENVCTL_EXTRAS if extra not in declared]
    suffix = f"[{','.join(extras)}]" if extras else ""
    return [f"/tmp/build/{wheel}{suffix}", "uvloop", *fallbacks]


def _prepare_envctl_context(context: Path, log: Path) -> None:
    """Put envctl's wheel, requirements.txt and host-ca.crt in ``context``.

    The wheel is built on the host from a copy of exactly the hashed sources (and the
    README its metadata names), so that no build/ or *.egg-info lands in the repository.
    """
    venv_python = REPO / ".venv" / "bin" / "python"
    python = str(venv_python) if venv_python.exists() else sys.executable
    what = "building envctl's wheel"
    with tempfile.TemporaryDirectory(prefix="envctl-src-") as src:
        for path in [*_wheel_sources(), REPO / "README.md"]:
            dst = Path(src) / path.relative_to(REPO)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dst)
        _run_logged(
            [
                python,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--disable-pip-version-check",
                "-w",
                str(context),
                src,
            ],
            log,
            what,
            f"it needs pip in {python} (`make install-dev` makes .venv)",
        )
    wheels = sorted(context.glob("envctl-*.whl"))
    if len(wheels) != 1:
        raise _failure(what, f"expected one wheel, got {wheels}", log, "see the log")
    requirements = _envctl_requirements(wheels[0].name)
    (context / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
    # Containers do not see the host's trust store; pip in the build gets a copy.
    host_ca = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
    (context / "host-ca.crt").write_bytes(host_ca.read_bytes() if host_ca.is_file() else b"")


def _build_dockerfile_image(image: Image, build_hash: str, log: Path) -> None:
    with tempfile.TemporaryDirectory(prefix=f"envctl-{image.name}-") as tmp:
        context = Path(tmp)
        shutil.copytree(IMAGES_DIR / image.name, context, dirs_exist_ok=True)
        for rel in image.extra_files:
            shutil.copy2(REPO / rel, context / Path(rel).name)
        if image.wheel:
            _prepare_envctl_context(context, log)
        cmd = [
            "docker",
            "build",
            "--force-rm",
            "--label",
            f"{HASH_LABEL}={build_hash}",
            "--tag",
            image.tag,
            str(context),
        ]
        # The classic builder, on purpose: it uses local images for FROM without ever
        # asking a registry, which BuildKit may do.
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        _run_logged(cmd, log, f"building {image.tag}", BUILD_HINT, env=env)


# --- the entry points ---------------------------------------------------------------


@contextmanager
def _build_lock() -> Iterator[None]:
    """One builder at a time on this machine (parallel test workers all call ensure())."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / "build.lock").open("w") as f:
        deadline = time.monotonic() + LOCK_TIMEOUT
        waited = False
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ImageBuildError(
                        f"another process has been building images for {LOCK_TIMEOUT} s\n"
                        f"hint: see `ps` and {LOG_DIR}"
                    ) from None
                if not waited:
                    print("waiting for another process building images ...", file=sys.stderr)
                    waited = True
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _resolve(names: list[str] | None) -> list[Image]:
    """The named images (by name or tag) and their ancestors, in build order."""
    images = catalog()
    if names is None:
        return list(images.values())
    by_tag = {image.tag: image for image in images.values()}
    wanted: set[str] = set()
    for name in names:
        found = images.get(name) or by_tag.get(name)
        if found is None:
            valid = ", ".join(images)
            raise ImageBuildError(f"unknown image {name!r}; valid names: {valid} (or their tags)")
        while found is not None:
            wanted.add(found.name)
            found = images[found.parent] if found.parent else None
    return [image for image in images.values() if image.name in wanted]


def _say(line: str) -> None:
    print(line, flush=True)


def ensure(
    names: list[str] | None = None,
    force: bool = False,
    echo: Callable[[str], None] | None = _say,
) -> dict[str, str]:
    """Build the named images (all when None) and their parents unless up to date.

    ``force`` rebuilds the named images (all when None) even when up to date; their
    parents are still only rebuilt when stale. Returns {tag: image id} for every image
    built or checked. Progress goes to ``echo``, one line per image (None: silent).
    Raises ImageBuildError, whose message says what failed, with the tail of the build
    log and a hint.
    """
    say = echo or (lambda _line: None)
    images = _resolve(names)
    forced = {image.name for image in images} if names is None else set(names)
    forced |= {image.name for image in images if image.tag in forced}
    _check_docker()
    hashes = _hashes()
    width = max(len(image.tag) for image in images)
    ids: dict[str, str] = {}
    attempted = False
    with _build_lock():
        try:
            for image in images:
                build_hash = hashes[image.name]
                current = _inspect(image.tag)
                if current and current[1] == build_hash and not (force and image.name in forced):
                    say(f"{image.tag:<{width}}  up to date")
                    ids[image.tag] = current[0]
                    continue
                attempted = True
                started = time.monotonic()
                ids[image.tag] = _build(image, build_hash)
                say(f"{image.tag:<{width}}  built ({time.monotonic() - started:.1f} s)")
        finally:
            if attempted:
                # Replaced images, and the steps of a failed build, are now untagged
                # (our labels are inherited, so they carry one): drop those that no
                # container uses.
                _docker("image", "prune", "--force", "--filter", f"label={HASH_LABEL}")
    return ids


def _build(image: Image, build_hash: str) -> str:
    """Build one image; its id."""
    log = LOG_DIR / f"{image.name}.log"
    log.write_text(f"# {image.tag} {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    if image.parent is None:
        _build_rootfs_image(image, build_hash, log)
    else:
        _build_dockerfile_image(image, build_hash, log)
    new = _inspect(image.tag)
    if new is None or new[1] != build_hash:
        raise ImageBuildError(f"{image.tag} is missing or unlabelled after its build")
    return new[0]


def _state(image: Image, hashes: dict[str, str] | None) -> str:
    if hashes is None:
        return "? (no Docker Engine)"
    current = _inspect(image.tag)
    if current is None:
        return "missing"
    return "up to date" if current[1] == hashes[image.name] else "stale"


def _list() -> None:
    images = catalog()
    try:
        _check_docker()
        hashes: dict[str, str] | None = _hashes()
    except ImageBuildError:
        hashes = None
    width = max(len(image.tag) for image in images.values())
    for image in images.values():
        source = f"FROM {images[image.parent].tag}" if image.parent else "debootstrap"
        print(f"{image.name:<14} {image.tag:<{width}}  {source:<32} {_state(image, hashes)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="images/build.py", description="Build envctl's container images (cached)."
    )
    parser.add_argument("names", nargs="*", help="image names or tags (default: all)")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--list", action="store_true", help="list the images and their state")
    args = parser.parse_args(argv)
    try:
        if args.list:
            _list()
        else:
            ensure(args.names or None, force=args.force)
    except ImageBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
