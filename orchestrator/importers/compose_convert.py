"""A normalised Compose project → a blueprint (a plain dict) plus its notes.

Three passes: decide which services are imported (profiles and one-shot jobs are not)
and their ports; build the targets that references resolve against (engines first, so
their credentials are known); then emit each service. A last pass (scrub.py) replaces
any literal secret left in a string with its ``${secret.NAME}``, and the shell's values
with ``${env.NAME}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.blueprint.model import API_VERSION
from orchestrator.importers import (
    compose_apps,
    compose_engines,
    compose_ready,
    scrub,
    shell_values,
    unsupported,
)
from orchestrator.importers.compose_model import ComposeService, Project
from orchestrator.importers.engine_images import DEFAULT_PORTS, EngineImage, engine_image
from orchestrator.importers.naming import service_names
from orchestrator.importers.notes import Note, Notes
from orchestrator.importers.references import Rewriter, Target
from orchestrator.importers.secret_book import SecretBook

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ONE_SHOT = "service_completed_successfully"


@dataclass(frozen=True)
class Conversion:
    blueprint: dict[str, Any]
    notes: tuple[Note, ...]
    secret_values: tuple[str, ...]  # to check the written text against; never shown
    weak_values: tuple[str, ...] = ()  # too short to look for, but never a password here

    @property
    def services(self) -> list[str]:
        return list(self.blueprint["services"])

    @property
    def secrets(self) -> list[str]:
        return list(self.blueprint.get("secrets", {}))


@dataclass(frozen=True)
class _Plan:
    """One imported service before it is emitted."""

    svc: ComposeService
    name: str
    engine: EngineImage | None
    ports: tuple[int, ...]
    ready: compose_ready.ReadyPlan


def convert(project: Project, notes: Notes, *, name: str, out_dir: Path) -> Conversion:
    for path in project.unsupported:
        notes.add(path, unsupported.message(path))
    kept = _imported(project, notes)
    if not kept:
        raise notes.error(
            ("services",),
            "nothing to import: every service has profiles or is a one-shot job",
            "a blueprint needs at least one long-running service",
        )
    names = service_names(list(kept))
    plans = {n: _plan(svc, names[n], notes) for n, svc in kept.items()}
    secrets = SecretBook()
    engines = {
        n: compose_engines.engine_service(p.svc, p.name, p.engine, p.ports, secrets, notes)
        for n, p in plans.items()
        if p.engine is not None
    }
    rewriter = Rewriter(_hosts(plans, engines), secrets)
    dropped = _dropped_hosts(project, kept)
    services: dict[str, Any] = {}
    data: list[dict[str, Any]] = []
    for n, p in plans.items():
        out = _common(p, names, notes)
        if n in engines:
            out = _engine(p, engines[n].env, out)
            schema = engines[n].schema
            if schema is not None:
                data.append(compose_engines.schema_entry(p.name, schema, out_dir))
                notes.add(
                    engines[n].schema_path,
                    f"{schema.name}: now data[{len(data) - 1}].schema, applied once every "
                    "service is ready (before the suites), not before the others start",
                )
        else:
            out = _app(p, rewriter, out_dir, notes, out)
            _mentions_of_dropped(p.svc, dropped, notes)
        services[p.name] = out
    blueprint: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Blueprint",
        "metadata": {"name": name},
        "secrets": {},  # here for the key order; filled after the scrub, which may add some
        "services": services,
    }
    compose_paths = {p.name: p.svc.path for p in plans.values()}
    shell = project.file.variables.shell
    done = scrub.scrub(blueprint, secrets, compose_paths, shell, notes)
    shell_values.note_uses(project.file.shell_uses, done.referenced, done.kept, notes)
    if len(secrets):
        blueprint["secrets"] = secrets.spec()
    else:
        del blueprint["secrets"]
    if data:
        blueprint["data"] = data
    ordered = sorted(notes.all(), key=lambda n: n.line or 0)  # stable: file order, then found
    shown = [Note(n.key, scrub.mask(n.message, done.searchable), n.line) for n in ordered]
    weak = tuple(v for v in secrets.literals() if v not in done.searchable)
    return Conversion(blueprint, tuple(shown), tuple(done.searchable), weak)


def _hosts(plans: dict[str, _Plan], engines: dict[str, Any]) -> dict[str, Target]:
    """Host name → the service it reaches. Every service's own names first: in Compose
    a service name wins over another service's container_name or network alias."""
    targets = {
        n: engines[n].target if n in engines else Target(p.name, None, p.ports)
        for n, p in plans.items()
    }
    hosts: dict[str, Target] = {}
    for n, p in plans.items():
        for host in (n, p.name):
            hosts.setdefault(host.lower(), targets[n])
    for n, p in plans.items():
        for host in p.svc.aliases:
            hosts.setdefault(host.lower(), targets[n])
    return hosts


def _imported(project: Project, notes: Notes) -> dict[str, ComposeService]:
    """The services a plain `docker compose up` would run for good: not those behind a
    profile, nor one-shot jobs others wait to complete."""
    kept: dict[str, ComposeService] = {}
    for name, svc in project.services.items():
        if svc.profiles:
            notes.add(
                (*svc.path, "profiles"),
                f"started only with its profile ({', '.join(svc.profiles)}): not imported",
            )
        else:
            kept[name] = svc
    waited = {
        dep.service: name
        for name, svc in kept.items()
        for dep in svc.depends_on
        if dep.condition == ONE_SHOT
    }
    for job, waiter in waited.items():
        if job in kept:
            notes.add(
                kept[job].path,
                f"a one-shot job ({waiter} waits for it to complete): envctl runs long-lived "
                "services only; not imported — put its schema in data: or run it in a suite",
            )
            del kept[job]
    return kept


def _dropped_hosts(project: Project, kept: dict[str, ComposeService]) -> dict[str, str]:
    """Host name → the service not imported that answers to it."""
    return {
        host.lower(): name
        for name, svc in project.services.items()
        if name not in kept
        for host in (name, *svc.aliases)
    }


def _mentions_of_dropped(svc: ComposeService, dropped: dict[str, str], notes: Notes) -> None:
    if not dropped:
        return
    names = "|".join(re.escape(h) for h in sorted(dropped, key=len, reverse=True))
    host = re.compile(rf"(?<![\w.-])({names})(?=[:/]|$)|@({names})(?![\w.-])", re.IGNORECASE)
    for key, value in svc.environment.items():
        found = host.search(value or "")
        if found:
            service = dropped[(found.group(1) or found.group(2)).lower()]
            notes.add(
                (*svc.path, "environment", key),
                f"names {service}, which is not imported: kept as written",
            )


def _plan(svc: ComposeService, name: str, notes: Notes) -> _Plan:
    engine = engine_image(svc.image)
    ports: list[int] = []
    for port in svc.ports:
        if port.spec.protocol != "tcp":
            notes.add(port.path, f"{port.spec.protocol}: envctl forwards TCP only; dropped")
            continue
        ports.append(port.spec.container)
    published = sorted({p.spec.published for p in svc.ports if p.spec.published})
    if published:
        notes.add(
            (*svc.path, "ports"),
            f"host ports ({', '.join(published)}) dropped: every environment gets free ones "
            f"(`envctl up` prints them; suites see ENVCTL_{name.upper().replace('-', '_')}_PORT)",
        )
    ports += svc.expose
    ready = compose_ready.plan(svc.healthcheck, (svc.name, name, *svc.aliases))
    if engine is None and ready.port is not None and not ports:
        ports = [ready.port]  # the port its healthcheck probes is the one it listens on
    elif engine is None and ready.port is not None and ready.port != ports[0]:
        # http and tcp probes use the first port, which is also ${svc.url}'s: the ports
        # others connect to stay first, and readiness is envctl's default on them.
        notes.add(
            (*svc.path, "healthcheck"),
            f"it probes port {ready.port}, not the first of its ports ({ports[0]}), which "
            f"http and tcp readiness use: now envctl's default, a TCP connect to {ports[0]}",
        )
        ready = compose_ready.ReadyPlan(
            {k: v for k, v in ready.ready.items() if k == "timeout"}, None, None
        )
    if engine is not None and not ports:
        ports = [DEFAULT_PORTS[engine.engine]]
    return _Plan(svc, name, engine, tuple(dict.fromkeys(ports)), ready)


def _common(p: _Plan, names: dict[str, str], notes: Notes) -> dict[str, Any]:
    svc = p.svc
    for path in svc.unsupported:
        notes.add(path, unsupported.message(path))
    out: dict[str, Any] = {}
    depends = []
    for dep in svc.depends_on:
        if dep.condition == ONE_SHOT:
            notes.add(
                dep.path,
                f"depends_on condition {ONE_SHOT}: one-shot jobs are not supported",
            )
        elif dep.service not in names:
            notes.add(dep.path, f"{dep.service} is not imported (see its note); dropped")
        else:
            depends.append(names[dep.service])
    out["ports"] = list(p.ports)
    out["depends_on"] = list(dict.fromkeys(depends))
    return out


def _engine(p: _Plan, env: dict[str, str], out: dict[str, Any]) -> dict[str, Any]:
    assert p.engine is not None
    shaped: dict[str, Any] = {"image": p.engine.image, "engine": p.engine.engine, **out}
    timeout = {k: v for k, v in p.ready.ready.items() if k == "timeout"}
    if timeout:  # the engine's own probe (a real query, PING), with Compose's patience
        shaped["ready"] = timeout
    shaped["env"] = env
    return _tidy({**shaped, "resources": _resources(p.svc)})


def _app(
    p: _Plan, rewriter: Rewriter, out_dir: Path, notes: Notes, out: dict[str, Any]
) -> dict[str, Any]:
    svc = p.svc
    shaped: dict[str, Any] = {"image": svc.image, **out}
    if p.ready.note:
        notes.add((*svc.path, "healthcheck"), p.ready.note)
    shaped["ready"] = p.ready.ready
    own_port = p.ports[0] if p.ports else None
    env = {}
    for key, value in svc.environment.items():
        if ENV_NAME.match(key):
            env[key] = value
        else:
            notes.add(
                (*svc.path, "environment", key),
                "not a name a blueprint allows ([A-Za-z_][A-Za-z0-9_]*); dropped",
            )
    rewrite = rewriter.env(p.name, env, own_port)
    for key, message in rewrite.notes:
        notes.add((*svc.path, "environment", key), message)
    shaped["env"] = rewrite.env
    shaped["resources"] = _resources(svc)
    plan = compose_apps.start_plan(svc)
    local = compose_apps.local_section(svc, plan, own_port, out_dir, notes)
    compose_apps.mount_notes(svc, plan.cwd, notes)
    if local is not None:
        shaped["local"] = local
        listens = "${self.port}" in local["command"] or "${self.port}" in str(rewrite.env)
        if own_port is not None and not listens:
            notes.add(
                svc.path,
                f"port {own_port} is in neither its command nor a PORT variable: on the local "
                "runtime it must listen on ${self.port} (add PORT: ${self.port} to env, or "
                "change local.command)",
            )
    return _tidy(shaped)


def _resources(svc: ComposeService) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if svc.cpus is not None:
        out["cpu"] = int(svc.cpus) if float(svc.cpus).is_integer() else svc.cpus
    if svc.memory is not None:
        out["memory"] = _size(svc.memory)
    return out


def _size(n: int) -> str | int:
    for unit, factor in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if n and n % factor == 0:
            return f"{n // factor}{unit}"
    return n


def _tidy(service: dict[str, Any]) -> dict[str, Any]:
    """Without the keys that say nothing (an empty env, no image …)."""
    return {k: v for k, v in service.items() if v not in (None, [], {})}
