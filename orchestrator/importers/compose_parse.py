"""Reading a Compose file's data into the normalised model of ``compose_model.py``.

Each syntax a key allows (short or long ports and volumes, list or map environment and
depends_on, a string or a list for commands) comes out in one shape; a value of the
wrong type is a located error; a key this does not read is listed as ``unsupported``.
Strings that become blueprint strings (environment, commands, the healthcheck's test)
are read from the templated data, with markers for the shell's values (shell_values.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.blueprint.source import Path as KeyPath
from orchestrator.importers import compose_fields as fields
from orchestrator.importers.compose_fields import FieldProblem
from orchestrator.importers.compose_file import ComposeFile
from orchestrator.importers.compose_model import (
    CONDITIONS,
    SERVICE_KEYS,
    TOP_LEVEL_KEYS,
    Build,
    ComposeService,
    Dependency,
    Healthcheck,
    Mount,
    Port,
    Project,
)
from orchestrator.importers.compose_vars import read_dotenv
from orchestrator.importers.notes import Notes

T = TypeVar("T")


def project(compose: ComposeFile, notes: Notes) -> Project:
    data = compose.data
    services = data.get("services")
    if services is None:
        hint = "list the containers under `services:`"
        if any(isinstance(v, dict) and ("image" in v or "build" in v) for v in data.values()):
            hint = (
                "this looks like a version 1 Compose file (services at the top level): "
                "move them under `services:`"
            )
        raise notes.error((), "no `services:` in this Compose file", hint)
    if not isinstance(services, dict) or not services:
        raise notes.error(
            ("services",),
            "`services:` must map each service's name to its settings",
            "e.g. services: {web: {image: nginx:1.27}}",
        )
    marked = compose.templated["services"]  # the same shape: interpolation keeps it
    parsed = {str(n): _service(compose, str(n), s, marked[n], notes) for n, s in services.items()}
    _check_dependencies(parsed, notes)
    _link_aliases(parsed, services)
    name = data.get("name") or compose.variables.get("COMPOSE_PROJECT_NAME")
    unsupported = tuple((k,) for k in data if k not in TOP_LEVEL_KEYS)
    return Project(compose, str(name) if name else None, parsed, unsupported)


def _service(
    compose: ComposeFile, name: str, raw: Any, marked: Any, notes: Notes
) -> ComposeService:
    base: KeyPath = ("services", name)
    if raw is None:
        raw = marked = {}
    if not isinstance(raw, dict):
        raise notes.error(
            base, f"service {name!r} must be a mapping of settings", "e.g. web: {image: nginx:1.27}"
        )
    r = _Reader(raw, base, notes)
    m = _Reader(marked, base, notes)  # the same keys, the shell's values as markers
    deploy = r.mapping("deploy")
    limits = _deploy_limits(deploy, base, notes)
    unsupported = [(*base, k) for k in raw if k not in SERVICE_KEYS]
    unsupported += [(*base, "deploy", k) for k in deploy if k != "resources"]
    resources = deploy.get("resources")
    resources = resources if isinstance(resources, dict) else {}
    unsupported += [(*base, "deploy", "resources", k) for k in resources if k != "limits"]
    networks, aliases = _networks(r, base)
    unsupported += networks
    # Read for the names other services may use, and still explained: envctl names
    # what it runs per environment, and links are legacy depends_on. `hostname` is only
    # the container's name for itself: other containers cannot resolve it.
    unsupported += [(*base, k) for k in ("container_name", "links", "hostname") if k in raw]
    if raw.get("container_name"):
        aliases.append(str(raw["container_name"]))

    return ComposeService(
        name=name,
        image=r.text("image"),
        build=_build(r, compose.directory, base, notes),
        command=m.parsed("command", fields.command),
        entrypoint=m.parsed("entrypoint", fields.command),
        environment=_environment(r, m, compose.directory, base, notes),
        ports=tuple(_ports(r, base, notes)),
        expose=tuple(
            p
            for i, item in enumerate(r.items("expose"))
            for p in r.at(("expose", i), fields.expose_port, item)
        ),
        depends_on=tuple(_depends_on(r, base, notes)),
        healthcheck=_healthcheck(r, m, base, notes),
        mounts=tuple(_mounts(r, compose.directory, base, notes)),
        cpus=limits[0] if limits[0] is not None else r.parsed("cpus", fields.cpus),
        memory=limits[1] if limits[1] is not None else r.parsed("mem_limit", fields.memory),
        profiles=tuple(str(p) for p in r.items("profiles")),
        aliases=tuple(dict.fromkeys(a for a in aliases if a != name)),
        working_dir=r.text("working_dir"),
        stop_signal=r.text("stop_signal"),
        unsupported=tuple(unsupported),
    )


class _Reader:
    """Typed access to one service's keys; a wrong type is a located error."""

    def __init__(self, raw: dict[str, Any], base: KeyPath, notes: Notes) -> None:
        self.raw, self.base, self.notes = raw, base, notes

    def text(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.notes.error((*self.base, key), f"`{key}` must be a string, not {value!r}")
        return str(value)

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.notes.error((*self.base, key), f"`{key}` must be a mapping")
        return value

    def items(self, key: str) -> list[Any]:
        value = self.raw.get(key)
        if value is None:
            return []
        if isinstance(value, str | int):
            return [value]
        if not isinstance(value, list):
            raise self.notes.error((*self.base, key), f"`{key}` must be a list")
        return value

    def parsed(self, key: str, parse: Callable[[Any], T]) -> T | None:
        value = self.raw.get(key)
        return None if value is None else self.at((key,), parse, value)

    def at(self, rel: KeyPath, parse: Callable[[Any], T], value: Any) -> T:
        try:
            return parse(value)
        except FieldProblem as exc:
            raise self.notes.error((*self.base, *rel), str(exc), exc.hint) from None


def _build(r: _Reader, directory: Path, base: KeyPath, notes: Notes) -> Build | None:
    raw = r.raw.get("build")
    if raw is None:
        return None
    if isinstance(raw, str):
        context, dockerfile = raw, None
    elif isinstance(raw, dict):
        context, dockerfile = str(raw.get("context") or "."), raw.get("dockerfile")
    else:
        raise notes.error((*base, "build"), "`build` is a path or {context, dockerfile}")
    if "://" in context or context.startswith("git@"):
        return Build(None, context, None)
    path = _host_path(directory, context, (*base, "build"), notes)
    if not path.is_dir():
        raise notes.error(
            (*base, "build"),
            f"build context {context!r} is not a directory",
            f"paths are relative to the Compose file's directory ({directory})",
        )
    file = (path / str(dockerfile)) if dockerfile else path / "Dockerfile"
    return Build(path, context, file if file.is_file() else None)


def _host_path(directory: Path, text: str, where: KeyPath, notes: Notes) -> Path:
    """A path the file gives, on this machine: relative to the file's directory."""
    try:
        return (directory / Path(text).expanduser()).resolve()
    except (ValueError, OSError, RuntimeError) as exc:  # a NUL byte, a symlink loop, ~nobody
        raise notes.error(
            where,
            f"invalid path {text!r}: {exc}",
            f"paths are relative to the Compose file's directory ({directory})",
        ) from None


def _environment(
    r: _Reader, m: _Reader, directory: Path, base: KeyPath, notes: Notes
) -> dict[str, str | None]:
    env: dict[str, str | None] = {}
    for i, item in enumerate(r.items("env_file")):
        listed = isinstance(r.raw.get("env_file"), list)
        where: KeyPath = (*base, "env_file", i) if listed else (*base, "env_file")
        required, name = True, item
        if isinstance(item, dict):  # the long form: {path, required}
            required = item.get("required", True) is not False
            name = item.get("path")
        if not isinstance(name, str):
            raise notes.error(where, "an env_file entry is a path")
        path = _host_path(directory, name, where, notes)
        if not path.is_file():
            if not required:
                continue
            raise notes.error(
                where,
                f"env_file {name!r} not found",
                f"paths are relative to the Compose file's directory ({directory})",
            )
        try:
            env.update(read_dotenv(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise notes.error(where, f"cannot read env_file {name!r}: {exc}") from None
    raw = r.raw.get("environment")
    marked: Any = m.raw.get("environment")  # the same shape as raw
    if isinstance(raw, dict):
        for key in raw:
            env[str(key)] = _env_text(marked[key])
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            if not isinstance(item, str):
                raise notes.error((*base, "environment", i), "list items are 'NAME=value'")
            key, sep, _ = item.partition("=")
            env[key] = marked[i].partition("=")[2] if sep else None
    elif raw is not None:
        raise notes.error((*base, "environment"), "`environment` is a mapping or a list")
    return env


def _env_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ports(r: _Reader, base: KeyPath, notes: Notes) -> list[Port]:
    out = []
    for i, item in enumerate(r.items("ports")):
        path = (*base, "ports", i)
        if isinstance(item, dict):
            specs = [r.at(("ports", i), fields.long_port, item)]
        elif isinstance(item, str | int) and not isinstance(item, bool):
            specs = r.at(("ports", i), fields.short_ports, item)
        else:
            raise notes.error(path, f"invalid port {item!r}", 'write "8000:8000"')
        out += [Port(spec, path) for spec in specs]
    return out


def _depends_on(r: _Reader, base: KeyPath, notes: Notes) -> list[Dependency]:
    raw = r.raw.get("depends_on")
    out: list[Dependency] = []
    if isinstance(raw, dict):
        for name, spec in raw.items():
            path = (*base, "depends_on", name)
            condition, required = "service_started", True
            if isinstance(spec, dict):
                condition = str(spec.get("condition") or condition)
                required = spec.get("required", True) is not False
            if condition not in CONDITIONS:
                raise notes.error(
                    (*path, "condition"),
                    f"unknown condition {condition!r}",
                    f"Compose knows: {', '.join(CONDITIONS)}",
                )
            out.append(Dependency(str(name), condition, path, required))
    else:
        for i, name in enumerate(r.items("depends_on")):
            out.append(Dependency(str(name), "service_started", (*base, "depends_on", i)))
    for i, link in enumerate(r.items("links")):
        target = str(link).split(":", 1)[0]
        if all(d.service != target for d in out):
            out.append(Dependency(target, "service_started", (*base, "links", i)))
    return out


def _healthcheck(r: _Reader, m: _Reader, base: KeyPath, notes: Notes) -> Healthcheck | None:
    raw = r.mapping("healthcheck")
    if not raw:
        return None
    path = (*base, "healthcheck")
    test = m.mapping("healthcheck").get("test")  # timings are values; the test is text
    args: tuple[str, ...]
    if raw.get("disable") is True:
        kind, args = "NONE", ()
    elif isinstance(test, str):
        kind, args = "CMD-SHELL", (test,)
    elif isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL", "NONE"):
        kind, rest = str(test[0]), tuple(str(t) for t in test[1:])
        args = (" ".join(rest),) if kind == "CMD-SHELL" else rest
        if kind != "NONE" and not rest:
            raise notes.error((*path, "test"), f"{kind} needs a command after it")
    elif test is None:
        return None  # timings only: they tune the image's own check
    else:
        raise notes.error(
            (*path, "test"),
            "a healthcheck test is a string or a list starting with CMD, CMD-SHELL or NONE",
            'write test: ["CMD", "curl", "-f", "http://localhost:8000/healthz"]',
        )
    timing = {
        key: r.at(("healthcheck", key), fields.duration, raw[key])
        for key in ("interval", "timeout", "start_period")
        if raw.get(key) is not None
    }
    retries = raw.get("retries")
    if retries is not None and (not isinstance(retries, int) or isinstance(retries, bool)):
        raise notes.error((*path, "retries"), f"retries is a number, not {retries!r}")
    return Healthcheck(kind, args, path, retries=retries, **timing)


def _mounts(r: _Reader, directory: Path, base: KeyPath, notes: Notes) -> list[Mount]:
    out = []
    for i, item in enumerate(r.items("volumes")):
        if isinstance(item, str):
            spec = r.at(("volumes", i), fields.short_mount, item)
        elif isinstance(item, dict):
            spec = r.at(("volumes", i), fields.long_mount, item)
        else:
            raise notes.error((*base, "volumes", i), f"invalid volume {item!r}")
        host = None
        if spec.kind == "bind" and spec.source:
            host = _host_path(directory, spec.source, (*base, "volumes", i), notes)
        out.append(Mount(spec, (*base, "volumes", i), host))
    return out


def _deploy_limits(
    deploy: dict[str, Any], base: KeyPath, notes: Notes
) -> tuple[float | None, int | None]:
    resources = deploy.get("resources") or {}
    limits = resources.get("limits") if isinstance(resources, dict) else None
    if not isinstance(limits, dict):
        return None, None
    path = (*base, "deploy", "resources", "limits")
    try:
        cpu = fields.cpus(limits["cpus"]) if limits.get("cpus") is not None else None
    except FieldProblem as exc:
        raise notes.error((*path, "cpus"), str(exc), exc.hint) from None
    try:
        mem = fields.memory(limits["memory"]) if limits.get("memory") is not None else None
    except FieldProblem as exc:
        raise notes.error((*path, "memory"), str(exc), exc.hint) from None
    return cpu, mem


def _networks(r: _Reader, base: KeyPath) -> tuple[list[KeyPath], list[str]]:
    """(the key paths of network settings, the aliases they give the service)."""
    raw = r.raw.get("networks")
    if raw is None:
        return [], []
    aliases: list[str] = []
    if isinstance(raw, dict):
        for spec in raw.values():
            if isinstance(spec, dict):
                aliases += [str(a) for a in spec.get("aliases") or []]
    return [(*base, "networks")], aliases


def _link_aliases(parsed: dict[str, ComposeService], raw: dict[str, Any]) -> None:
    """`links: [db:database]` lets one service call db `database`: another name of db."""
    for spec in raw.values():
        links = spec.get("links") if isinstance(spec, dict) else None
        for link in links if isinstance(links, list) else []:
            target, _, alias = str(link).partition(":")
            if alias and target in parsed and alias not in parsed[target].aliases:
                svc = parsed[target]
                parsed[target] = replace(svc, aliases=(*svc.aliases, alias))


def _check_dependencies(services: dict[str, ComposeService], notes: Notes) -> None:
    for name in list(services):
        svc = services[name]
        kept = tuple(d for d in svc.depends_on if d.required or d.service in services)
        if kept != svc.depends_on:
            services[name] = svc = replace(svc, depends_on=kept)
        for dep in svc.depends_on:
            if dep.service not in services:
                raise notes.error(
                    dep.path,
                    f"service {svc.name!r} depends on {dep.service!r}, which is not defined",
                    f"services in this file: {', '.join(services)}",
                )
            if dep.service == svc.name:
                raise notes.error(dep.path, f"service {svc.name!r} depends on itself")
