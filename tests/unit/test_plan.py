"""Planning: stop order and interpolation against addresses."""

from __future__ import annotations

import textwrap
from pathlib import Path

from orchestrator.blueprint.loader import loads
from orchestrator.plan import Resolver, env_var_prefix, stop_levels
from orchestrator.runtime.base import Endpoint, EnvironmentContext
from orchestrator.secrets import Redactor, SecretStore

TEXT = textwrap.dedent(
    """
    apiVersion: envctl/v1
    kind: Blueprint
    metadata: {name: p}
    services:
      db: {engine: postgres, env: {POSTGRES_USER: app, POSTGRES_PASSWORD: "${secret.PW}"}}
      cache: {engine: redis}
      api:
        depends_on: [db, cache]
        env: {DB: "${db.url}", SELF: "${self.host}:${self.port}", RUN: "${run.id}", X: "$${lit}"}
        local: {command: "serve --port ${self.port}"}
      web: {depends_on: [api], local: {command: "web"}}
    """
)


def test_dependants_stop_before_what_they_depend_on() -> None:
    loaded = loads(TEXT, "p.yaml")
    assert stop_levels(loaded) == [["web"], ["api"], ["cache", "db"]]


def test_references_resolve_to_the_planned_addresses(tmp_path: Path) -> None:
    loaded = loads(TEXT, str(tmp_path / "p.yaml"))
    env = EnvironmentContext("p-1", "p", None, tmp_path / "w", tmp_path / "r")
    secrets = SecretStore({"ENVCTL_SECRET_PW": "pw/1"}, Redactor())
    resolver = Resolver(loaded, env, secrets, {})
    resolver.internal.update(
        db=Endpoint("10.0.0.1", 5432),
        cache=Endpoint("10.0.0.2", 6379),
        api=Endpoint("10.0.0.3", 8000),
        web=Endpoint("10.0.0.4", 80),
    )
    spec = resolver.service_spec("api")
    assert spec.env["DB"] == "postgresql://app:pw%2F1@10.0.0.1:5432/app"
    assert spec.env["SELF"] == "10.0.0.3:8000"
    assert spec.env["RUN"] == "p-1"
    assert spec.env["X"] == "${lit}"
    assert spec.command == "serve --port 8000"


def test_env_var_names_for_services() -> None:
    assert env_var_prefix("payments-provider") == "ENVCTL_PAYMENTS_PROVIDER"
