"""Planning: dependency order, and turning ``${…}`` into values once addresses exist.

Two views of every address exist: the one services use among themselves (``internal``,
from ``Runtime.address``) and the one the host uses (suites, probes: the handle's
endpoint). On the local runtime they are the same; on Docker they are not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.blueprint import interpolation
from orchestrator.blueprint.interpolation import Reference
from orchestrator.blueprint.loader import LoadedBlueprint
from orchestrator.blueprint.model import Suite
from orchestrator.blueprint.source import Path as KeyPath
from orchestrator.engines import adapter
from orchestrator.exceptions import BlueprintError
from orchestrator.runtime.base import Endpoint, EnvironmentContext, ServiceSpec
from orchestrator.secrets import SecretStore


def dependency_graph(loaded: LoadedBlueprint) -> dict[str, set[str]]:
    return {name: set(svc.depends_on) for name, svc in loaded.model.services.items()}


def stop_levels(loaded: LoadedBlueprint) -> list[list[str]]:
    """Groups of services to stop together: each after every service that depends on it."""
    graph = dependency_graph(loaded)
    dependants: dict[str, set[str]] = {name: set() for name in graph}
    for name, deps in graph.items():
        for dep in deps:
            dependants[dep].add(name)
    depth: dict[str, int] = {}

    def height(name: str) -> int:
        if name not in depth:
            depth[name] = 1 + max((height(d) for d in dependants[name]), default=-1)
        return depth[name]

    levels: dict[int, list[str]] = {}
    for name in graph:
        levels.setdefault(height(name), []).append(name)
    return [sorted(levels[i]) for i in sorted(levels)]


def env_var_prefix(service: str) -> str:
    return "ENVCTL_" + re.sub(r"[^A-Z0-9]", "_", service.upper())


@dataclass
class Resolver:
    loaded: LoadedBlueprint
    env: EnvironmentContext
    secrets: SecretStore
    environ: Mapping[str, str]
    runtime: str = "local"  # whose per-runtime overrides (local/docker/kubernetes) apply
    internal: dict[str, Endpoint] = field(default_factory=dict)
    external: dict[str, Endpoint] = field(default_factory=dict)
    # (consumer, service) → the proxy listener that consumer uses instead ("suite" for
    # suites), in-environment view; suite_links: the host's view of the suites' listeners
    links: dict[tuple[str, str], Endpoint] = field(default_factory=dict)
    suite_links: dict[str, Endpoint] = field(default_factory=dict)
    proxy_api: Endpoint | None = None  # host view, once the proxy is up
    proxy_api_internal: Endpoint | None = None
    _env_cache: dict[str, dict[str, str]] = field(default_factory=dict)
    _resolving: set[str] = field(default_factory=set)

    # services -----------------------------------------------------------------------

    def service_env(self, name: str) -> dict[str, str]:
        """The service's env with references resolved in the in-environment view."""
        if name not in self._env_cache:
            if name in self._resolving:
                raise self.loaded.source.error(
                    ("services", name, "env"),
                    "circular ${…url} references between services' env",
                    "reference host and port instead of url in one of them",
                )
            self._resolving.add(name)
            try:
                svc = self.loaded.service(name)
                values = {
                    key: self.text(value, ("services", name, "env", key), name, self.internal)
                    for key, value in svc.env.items()
                }
                override = getattr(svc, self.runtime, None)
                for key, value in (override.env if override else {}).items():
                    path = ("services", name, self.runtime, "env", key)
                    values[key] = self.text(value, path, name, self.internal)
            finally:
                self._resolving.discard(name)
            self._env_cache[name] = values
        return self._env_cache[name]

    def service_spec(self, name: str) -> ServiceSpec:
        svc = self.loaded.service(name)
        command = None
        override = getattr(svc, self.runtime, None)
        if override is not None and override.command:
            path = ("services", name, self.runtime, "command")
            command = self.text(override.command, path, name, self.internal)
        cwd = self.loaded.directory
        if svc.local and svc.local.cwd:
            cwd = (self.loaded.directory / svc.local.cwd).resolve()
        return ServiceSpec(name, svc, self.service_env(name), command, cwd)

    def url(self, name: str, endpoints: Mapping[str, Endpoint]) -> str:
        return self.url_at(name, endpoints[name])

    def url_at(self, name: str, endpoint: Endpoint) -> str:
        """The service's URL (credentials and all) at a given address."""
        engine = self.loaded.service(name).engine
        if engine is not None:
            return adapter(engine).url(endpoint, self.service_env(name))
        return f"http://{endpoint.address}"

    # suites ---------------------------------------------------------------------------

    def endpoint_vars(self, inside: bool = False) -> dict[str, str]:
        """``ENVCTL_<SERVICE>_HOST/_PORT/_URL`` for every service: the host's view, or
        (``inside``) the view from a container on the environment's network."""
        out: dict[str, str] = {}
        for name, direct in self.external.items():
            if inside:
                endpoint = self.links.get(("suite", name), self.internal[name])
            else:
                endpoint = self.suite_links.get(name, direct)
            prefix = env_var_prefix(name)
            out[f"{prefix}_HOST"] = endpoint.host
            out[f"{prefix}_PORT"] = str(endpoint.port or "")
            out[f"{prefix}_URL"] = self.url_at(name, endpoint)
        api = self.proxy_api_internal if inside else self.proxy_api
        if api is not None:
            out["ENVCTL_PROXY_URL"] = f"http://{api.address}"
        return out

    def suite_command(self, index: int, suite: Suite, inside: bool = False) -> str:
        view = self.internal if inside else self.external
        return self.text(suite.run, ("suites", index, "run"), None, view)

    def suite_env(self, index: int, suite: Suite, inside: bool = False) -> dict[str, str]:
        view = self.internal if inside else self.external
        return {
            key: self.text(value, ("suites", index, "env", key), None, view)
            for key, value in suite.env.items()
        }

    def suite_junit(self, index: int, suite: Suite) -> Path:
        if suite.junit:
            text = self.text(suite.junit, ("suites", index, "junit"), None, self.external)
            return (self.loaded.directory / text).resolve()
        return self.env.run_dir / f"{suite.name}.xml"

    # the one interpolation routine ---------------------------------------------------

    def text(
        self,
        value: str,
        path: KeyPath,
        owner: str | None,
        endpoints: Mapping[str, Endpoint],
    ) -> str:
        location = self.loaded.source.locate(path)

        def lookup(ref: Reference) -> str:
            if ref.namespace == "secret":
                return self.secrets.get(ref.name, f"{location} {location.key_path}")
            if ref.namespace == "env":
                found = self.environ.get(ref.name, ref.default)
                if found is None:
                    raise BlueprintError(
                        f"environment variable {ref.name!r} is not set",
                        location,
                        hint=f"export {ref.name}=..., or write ${{env.{ref.name}:-default}}",
                    )
                return found
            if ref.namespace == "run":
                return str(self.env.run_dir) if ref.name == "dir" else self.env.env_id
            service = owner if ref.namespace == "self" else ref.namespace
            assert service is not None, "validate.py rejects ${self.…} outside services"
            # Across a link, the consumer talks to the fault proxy's listener instead.
            endpoint: Endpoint = endpoints[service]
            if owner is None and endpoints is self.external:  # a suite, on the host
                endpoint = self.suite_links.get(service, endpoint)
            else:
                endpoint = self.links.get((owner or "suite", service), endpoint)
            if ref.name == "host":
                return endpoint.host
            if ref.name == "port":
                return str(endpoint.port or "")
            return self.url_at(service, endpoint)

        return interpolation.render(value, lookup)
