"""Whatever the Compose file holds, the import answers with an envctl error (a message,
a location, a hint: exit code 2, the user's to fix) or a blueprint the loader accepts;
never with a traceback, never with the guard that a secret is still in the blueprint
(a bug of the converter's), and never with a value from the shell in a blueprint string."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.exceptions import EnvctlError
from orchestrator.importers.compose_import import import_compose
from orchestrator.importers.compose_model import SERVICE_KEYS


def _mostly(likely: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> Any:
    """``likely`` nine times in ten: hypothesis's one_of would pick each branch equally."""
    return st.integers(0, 9).flatmap(lambda i: likely if i else other)


KEYS = [*sorted(SERVICE_KEYS), "restart", "x-extra", "privileged", "healthcheck", "test"]
WORDS = [
    "db",
    "web",
    "postgres:15",
    "redis:7",
    "8000:8000",
    "./app",
    "CMD",
    "curl",
    "http://localhost:8000/h",
    "${X}",
    "${X:-y}",
    "$$",
    "pgdata:/data",
    "a=b",
    "service_healthy",
    "condition",
    "limits",
    "10s",
    "512M",
    "--requirepass",
    "${S}",
    "password=pw",
    "host=db port=5432 user=u password=pw",
    "jdbc:postgresql://db:5432/u?user=u&password=pw",
    "redis-cli -a pw ping",
    "--password=pw",
    "postgres://u:${S}@db:5432/u",
    "",
]
SHELL = {"X": "1", "S": "sk_live_fuzz-0123"}  # S looks like a key: it is never written
GUARD = "refusing to write"

scalars = st.one_of(
    st.sampled_from(WORDS),
    st.integers(-5, 70000),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS + WORDS), inner, max_size=4),
    ),
    max_leaves=12,
)
NAMES = ["db", "web", "cache", "Web_1", "run", "x"]
# Mostly plausible values per key (so the fuzz reaches the converter), sometimes anything.
plausible = {
    "image": st.sampled_from(["postgres:15", "redis:7", "bitnami/redis:7.0", "nginx", "x:1"]),
    "build": st.sampled_from(
        ["./app", ".", {"context": "./app"}, {"context": "./app", "dockerfile": "D"}]
    ),
    "command": st.one_of(
        st.sampled_from(["python app.py --port 8000", "redis-server --requirepass ${X}"]),
        st.lists(st.sampled_from(WORDS), max_size=4),
    ),
    "ports": st.lists(
        st.one_of(
            st.sampled_from(["8000:8000", "127.0.0.1:5432:5432", "53/udp", "7000-7001", 80]),
            st.fixed_dictionaries({"target": st.integers(0, 70000)}),
        ),
        max_size=3,
    ),
    "expose": st.lists(st.sampled_from(["3000", 3001, "x"]), max_size=2),
    "environment": st.one_of(
        st.dictionaries(
            st.sampled_from(
                [
                    "PORT",
                    "DATABASE_URL",
                    "DB_HOST",
                    "A.B",
                    "SECRET_KEY",
                    "REDIS_PASSWORD",
                    "POSTGRES_PASSWORD",
                    "DB_DSN",
                    "TOKEN_TTL",
                ]
            ),
            st.one_of(
                st.sampled_from(
                    [
                        "8000",
                        "postgres://u:p@db:5432/u",
                        "db",
                        "redis://cache:6379/0",
                        "http://web:8000/x",
                        "s3cret-value",
                        "pw",
                        "${S}",
                        "host=db password=pw",
                    ]
                ),
                scalars,
            ),
            max_size=4,
        ),
        st.lists(st.sampled_from(["A=1", "B", "PORT=8000", "DB_HOST=db"]), max_size=3),
    ),
    "depends_on": st.one_of(
        st.lists(st.sampled_from(NAMES), max_size=2),
        st.dictionaries(
            st.sampled_from(NAMES),
            st.fixed_dictionaries(
                {
                    "condition": st.sampled_from(
                        ["service_started", "service_healthy", "service_completed_successfully"]
                    )
                }
            ),
            max_size=2,
        ),
    ),
    "healthcheck": st.fixed_dictionaries(
        {
            "test": st.one_of(
                st.sampled_from(
                    [
                        "curl -f http://localhost:8000/h",
                        ["CMD", "nc", "-z", "localhost", "80"],
                        ["NONE"],
                        ["CMD-SHELL", "pg_isready"],
                    ]
                ),
                values,
            )
        },
        optional={"interval": st.sampled_from(["2s", "1m", 5]), "retries": st.integers(0, 5)},
    ),
    "volumes": st.lists(
        st.sampled_from(
            [
                "pgdata:/var/lib/postgresql/data",
                "./app:/app",
                "/tmp/x",
                "./init.sql:/docker-entrypoint-initdb.d/i.sql",
            ]
        ),
        max_size=3,
    ),
    "profiles": st.lists(st.sampled_from(["debug"]), max_size=1),
    "deploy": st.one_of(
        st.just({"resources": {"limits": {"cpus": "0.5", "memory": "256M"}}}), values
    ),
}
service = st.fixed_dictionaries(
    {}, optional={k: st.one_of(v, v, v, values) for k, v in plausible.items()}
)
services = st.dictionaries(
    st.sampled_from(NAMES),
    _mostly(service, st.one_of(st.dictionaries(st.sampled_from(KEYS), values), scalars)),
    min_size=1,
    max_size=4,
)
documents = _mostly(
    st.fixed_dictionaries({"services": services}),
    st.one_of(
        st.dictionaries(
            st.sampled_from(["services", "networks", "x-a", "name", "volumes"]), values
        ),
        values,
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_document_gives_a_blueprint_or_an_envctl_error(document: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "app").mkdir()
        (directory / "compose.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
        try:
            result = import_compose(
                None, out="-", name="fuzz", force=False, environ=SHELL, cwd=directory
            )
        except EnvctlError as exc:
            assert exc.render().strip()
            assert GUARD not in exc.message, "a secret was left in the blueprint"
            assert exc.exit_code == 2, exc.render()
        else:
            assert result.conversion.blueprint["services"]
            for text in _interpolated(result.conversion.blueprint):
                assert SHELL["S"] not in text


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_blueprint_or_an_envctl_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "compose.yaml").write_text(text, encoding="utf-8")
        try:
            import_compose(None, out="-", name=None, force=False, environ={}, cwd=Path(tmp))
        except EnvctlError as exc:
            assert exc.render().strip()
            assert GUARD not in exc.message
            assert exc.exit_code == 2, exc.render()


def _interpolated(blueprint: dict[str, Any]) -> list[str]:
    """The blueprint's strings that may hold references: env, local and ready commands."""
    out = []
    for svc in blueprint["services"].values():
        out += [v for v in svc.get("env", {}).values() if isinstance(v, str)]
        out += [svc.get(k, {}).get("command") or "" for k in ("local", "ready")]
    return out
