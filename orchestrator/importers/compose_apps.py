"""Compose services that are the project's own code (a build context, or an image
envctl does not run natively) as blueprint services.

They keep their image, and run on the local runtime from their build context with the
command Compose (or the Dockerfile) gives. The port the app listens on becomes
``${self.port}`` in that command or in its ``PORT`` variable, since on the local runtime
every environment gets free ports of its own.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.importers import dockerfile
from orchestrator.importers.compose_model import ComposeService
from orchestrator.importers.notes import Notes
from orchestrator.importers.paths import relative

LOCAL_RUNTIME_SIGNALS = ("SIGTERM", "SIGINT", "SIGQUIT")
_ANY_HOST = re.compile(r"(?<![\w.])0\.0\.0\.0(?![\w.])")


@dataclass(frozen=True)
class StartPlan:
    command: str | None  # the shell line, as Compose or the image would start it
    cwd: Path | None
    origin: str  # where the command came from, for notes


def start_plan(svc: ComposeService) -> StartPlan:
    image = dockerfile.ImageStart()
    if svc.build and svc.build.dockerfile:
        image = dockerfile.read(svc.build.dockerfile)
    origin = "compose"
    entry: dockerfile.StartCommand | None
    cmd: dockerfile.StartCommand | None
    if svc.entrypoint is not None:  # as in Docker: it also drops the image's CMD
        entry = dockerfile.StartCommand(argv=svc.entrypoint)
        cmd = dockerfile.StartCommand(argv=svc.command) if svc.command is not None else None
    else:
        entry = image.entrypoint
        if svc.command is not None:
            cmd = dockerfile.StartCommand(argv=svc.command)
        else:
            cmd, origin = image.cmd, "the Dockerfile's CMD"
        if entry is not None:
            origin = "the Dockerfile's ENTRYPOINT"
    return StartPlan(_shell_line(entry, cmd), _cwd(svc, image.workdir), origin)


def _shell_line(
    entry: dockerfile.StartCommand | None, cmd: dockerfile.StartCommand | None
) -> str | None:
    """Docker's rules: a shell-form ENTRYPOINT ignores CMD; a shell-form CMD after an
    exec-form ENTRYPOINT is passed as ``/bin/sh -c CMD``."""
    if entry is not None and entry.shell is not None:
        return entry.shell
    argv = list(entry.argv or ()) if entry is not None else []
    if cmd is not None and cmd.shell is not None:
        if not argv:
            return cmd.shell
        argv += ["/bin/sh", "-c", cmd.shell]
    elif cmd is not None and cmd.argv:
        argv += list(cmd.argv)
    return _join(argv) if argv else None


def _join(argv: list[str]) -> str:
    return " ".join(shlex.quote(a.replace("${", "$${")) for a in argv)


def _cwd(svc: ComposeService, image_workdir: str | None) -> Path | None:
    """The build context; else the host directory bind-mounted as the working dir."""
    if svc.build is not None:
        return svc.build.context
    workdir = svc.working_dir or image_workdir
    if workdir is None:
        return None
    for mount in svc.mounts:
        target = mount.spec.target.rstrip("/") or "/"
        if mount.host_path is None or not mount.host_path.is_dir():
            continue
        if workdir == target or workdir.startswith(target + "/"):
            return mount.host_path / workdir[len(target) :].lstrip("/")
    return None


def own_port_command(command: str, port: int | None) -> str:
    """The command listening on ``${self.port}`` (and on ``${self.host}`` where it said
    0.0.0.0): on the local runtime, the environment's port for it."""
    if port is None:
        return command
    out = re.sub(rf"(?<![\w.]){port}(?![\w.])", "${self.port}", command)
    return _ANY_HOST.sub("${self.host}", out)


def local_section(
    svc: ComposeService,
    plan: StartPlan,
    port: int | None,
    out_dir: Path,
    notes: Notes,
) -> dict[str, Any] | None:
    if plan.command is None or plan.cwd is None:
        if svc.build is not None and svc.build.context is None:
            why = f"its build context {svc.build.text!r} is remote"
        elif svc.build is None:
            why = f"image {svc.image} is not an engine envctl runs itself, and not built here"
        elif plan.command is None:
            why = "it has no command (here or in a Dockerfile envctl can read)"
        else:
            why = f"image {svc.image} has no source here to run"
        notes.add(
            svc.path,
            f"not runnable on the local runtime: {why}; add local: {{command: ..., cwd: ...}} "
            "(the container runtimes run its image)",
        )
        return None
    command = own_port_command(plan.command, port)
    local: dict[str, Any] = {"command": command, "cwd": relative(plan.cwd, out_dir)}
    if plan.origin != "compose":
        notes.add(svc.path, f"its command comes from {plan.origin}: {plan.command}")
    if svc.stop_signal:
        if svc.stop_signal in LOCAL_RUNTIME_SIGNALS:
            local["stop_signal"] = svc.stop_signal
        else:
            notes.add(
                (*svc.path, "stop_signal"),
                f"the local runtime stops with {', '.join(LOCAL_RUNTIME_SIGNALS)}; dropped",
            )
    return local


def mount_notes(svc: ComposeService, cwd: Path | None, notes: Notes) -> None:
    for mount in svc.mounts:
        if mount.spec.kind == "bind":
            if cwd is not None and mount.host_path is not None and _within(cwd, mount.host_path):
                message = "its source, bind-mounted: the local runtime runs it in place"
            else:
                message = "a bind mount; dropped (container runtimes use the image's files)"
        elif mount.spec.kind == "volume":
            label = mount.spec.source or "an anonymous volume"
            message = f"{label}: dropped — environments start empty"
        else:
            message = f"a {mount.spec.kind} mount; dropped"
        notes.add(mount.path, message)


def _within(a: Path, b: Path) -> bool:
    return a == b or b in a.parents or a in b.parents
