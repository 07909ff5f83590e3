"""Literal secrets in a Compose file never reach the blueprint, the notes or the output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.cli.main import main
from tests.unit.importers.compose_snippets import compose, imported

SECRETS = {
    "PG": "pg-Literal-Pass-0001",
    "PG_FILE": "pg-from-envfile-0002",
    "REDIS": "redis-Literal-0003",
    "BITNAMI": "bitnami-Literal-0004",
    "API_KEY": "api-key-Literal-0005",
    "DOTENV": "dotenv-Literal-0006",
}
PROJECT = """\
services:
  db:
    image: postgres:15
    env_file: db.env
  cache:
    image: redis:7
    command: ["sh", "-c", "redis-server --requirepass $$REDIS_PW --save ''"]
    environment:
      REDIS_PW: {REDIS}
    healthcheck:
      test: ["CMD", "redis-cli", "-a", "{REDIS}", "ping"]
  other-db:
    image: bitnami/postgresql:15
    environment:
      - POSTGRESQL_PASSWORD=${{OTHER_PASSWORD}}
  api:
    build: ./app
    command: python app.py --db-password {PG_FILE}
    environment:
      DATABASE_URL: postgresql://postgres:{PG_FILE}@db:5432/postgres
      OTHER_URL: postgres://postgres:${{OTHER_PASSWORD}}@other-db/postgres
      CACHE: redis://:{REDIS}@cache:6379/0
      PGPASSWORD: {PG_FILE}
      THIRD_PARTY_API_KEY: {API_KEY}
      NOTE: "the cache password is {REDIS}"
    healthcheck:
      test: ["CMD-SHELL", "PGPASSWORD={PG_FILE} psql -h db -c 'select 1' && curl -f localhost:9/x"]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    compose(
        tmp_path,
        PROJECT.format(**SECRETS),
        **{
            "db.env": f"POSTGRES_PASSWORD={SECRETS['PG_FILE']}\n",
            ".env": f"OTHER_PASSWORD={SECRETS['BITNAMI']}\n",
            "app/app.py": "",
        },
    )
    return tmp_path


def leaked(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def test_no_secret_value_is_in_the_blueprint(project: Path) -> None:
    result = imported(project)
    assert leaked(result.text) == []
    assert leaked(json.dumps(result.to_dict())) == []
    bp = yaml.safe_load(result.text)
    api = bp["services"]["api"]
    assert api["env"]["DATABASE_URL"] == "${db.url}"
    assert api["env"]["PGPASSWORD"] == "${secret.DB_PASSWORD}"
    assert api["env"]["CACHE"] == "${cache.url}"
    assert api["env"]["NOTE"] == "the cache password is ${secret.CACHE_PASSWORD}"
    assert api["env"]["THIRD_PARTY_API_KEY"] == "${secret.API_THIRD_PARTY_API_KEY}"
    assert api["local"]["command"] == "python app.py --db-password ${secret.DB_PASSWORD}"
    assert "${secret.DB_PASSWORD}" in api["ready"]["command"]
    assert bp["services"]["cache"]["env"] == {"REDIS_PASSWORD": "${secret.CACHE_PASSWORD}"}
    assert bp["services"]["other-db"]["env"] == {"POSTGRES_PASSWORD": "${secret.OTHER_DB_PASSWORD}"}
    assert bp["secrets"] == {
        "DB_PASSWORD": {"generate": True},
        "CACHE_PASSWORD": {"generate": True},
        "OTHER_DB_PASSWORD": {"generate": True},
        "API_THIRD_PARTY_API_KEY": {"generate": True},
    }


def test_the_cli_prints_no_secret(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    for args in (["-o", "-"], ["-o", "json"], []):
        with pytest.raises(SystemExit) as done:
            main(["import", "compose", *args, "--force"])
        assert done.value.code == 0
        out, err = capsys.readouterr()
        assert leaked(out + err) == [], args
        assert "note:" in err
    written = (project / f"{project.name.lower().replace('_', '-')}.yaml").read_text()
    assert leaked(written) == []


def test_a_weak_password_shared_with_public_names_is_still_replaced_where_it_is_one(
    tmp_path: Path,
) -> None:
    compose(
        tmp_path,
        """\
services:
  postgres:
    image: postgres:15
    environment: {POSTGRES_PASSWORD: postgres}
  web:
    image: nginx:1.27
    environment:
      DB_USER: postgres
      DB_PASSWORD: postgres
      URL: postgresql://postgres:postgres@postgres:5432/postgres
""",
    )
    bp = imported(tmp_path).conversion.blueprint
    assert bp["services"]["postgres"]["env"] == {"POSTGRES_PASSWORD": "${secret.POSTGRES_PASSWORD}"}
    assert bp["services"]["web"]["env"] == {
        "DB_USER": "postgres",  # a user name that happens to equal the password stays
        "DB_PASSWORD": "${secret.POSTGRES_PASSWORD}",
        "URL": "${postgres.url}",
    }


def test_a_password_for_another_user_becomes_a_secret_to_provide(tmp_path: Path) -> None:
    compose(
        tmp_path,
        """\
services:
  db:
    image: postgres:15
    environment: {POSTGRES_USER: owner, POSTGRES_PASSWORD: owner-Secret-77}
  web:
    image: nginx:1.27
    environment:
      URL: postgresql://reader:reader-Secret-88@db:5432/owner
""",
    )
    result = imported(tmp_path)
    assert "reader-Secret-88" not in result.text and "owner-Secret-77" not in result.text
    bp = result.conversion.blueprint
    assert bp["services"]["web"]["env"]["URL"] == (
        "postgresql://reader:${secret.WEB_URL_PASSWORD}@${db.host}:${db.port}/owner"
    )
    assert bp["secrets"]["WEB_URL_PASSWORD"] == {}, "not generated: it must match the database"
    assert (
        "ENVCTL_SECRET_WEB_URL_PASSWORD"
        in {n.key: n.message for n in result.notes}["services.web.environment.URL"]
    )


def test_values_from_the_shell_become_env_references_never_values(tmp_path: Path) -> None:
    compose(
        tmp_path,
        """\
services:
  api:
    build: ./app
    command: python app.py --stripe-key ${STRIPE_KEY}
    environment:
      SENTRY_DSN: ${SENTRY_DSN}
      STRIPE_API_KEY: ${STRIPE_KEY}
      SENTRY_ENV: ${SENTRY_ENV:-dev}
      REGION: ${REGION}
      WITH_DEFAULT: ${UNSET_HERE:-from-default}
    healthcheck:
      test: ["CMD-SHELL", "python check.py --key ${STRIPE_KEY}"]
""",
        **{".env": "REGION=eu-west-1\n", "app/app.py": ""},
    )
    shell = {
        "SENTRY_DSN": "https://key0123456@o1.ingest.sentry.io/42",
        "STRIPE_KEY": "sk_live_0123456789abcdef",
        "SENTRY_ENV": "prod-eu-7",
    }
    result = imported(tmp_path, shell)
    for value in shell.values():
        assert value not in result.text
        assert value not in json.dumps(result.to_dict())
    api = result.conversion.blueprint["services"]["api"]
    assert api["env"] == {
        "SENTRY_DSN": "${env.SENTRY_DSN}",
        "STRIPE_API_KEY": "${env.STRIPE_KEY}",  # the shell's key, not a generated one
        "SENTRY_ENV": "${env.SENTRY_ENV}",  # the shell won over the default
        "REGION": "eu-west-1",  # .env values are the project's own defaults: kept
        "WITH_DEFAULT": "from-default",
    }
    assert api["local"]["command"] == "python app.py --stripe-key '${env.STRIPE_KEY}'"
    assert "${env.STRIPE_KEY}" in api["ready"]["command"]
    assert "secrets" not in result.conversion.blueprint
    found = {n.key: n.message for n in result.notes}
    assert "now ${env.SENTRY_DSN}" in found["services.api.environment.SENTRY_DSN"]
    assert "now ${env.STRIPE_KEY}" in found["services.api.command"]


def test_a_shell_password_shared_by_an_engine_and_its_app_is_one_secret(tmp_path: Path) -> None:
    compose(
        tmp_path,
        """\
services:
  db:
    image: postgres:15
    environment: {POSTGRES_PASSWORD: "${PG_PASS}"}
  web:
    image: nginx:1.27
    environment:
      URL: postgres://postgres:${PG_PASS}@db:5432/postgres
      PGPASSWORD: ${PG_PASS}
""",
    )
    result = imported(tmp_path, {"PG_PASS": "pw"})
    bp = result.conversion.blueprint
    assert bp["services"]["web"]["env"] == {
        "URL": "${db.url}",
        "PGPASSWORD": "${secret.DB_PASSWORD}",
    }
    assert bp["services"]["db"]["env"] == {"POSTGRES_PASSWORD": "${secret.DB_PASSWORD}"}
    assert ":pw@" not in result.text and "PGPASSWORD: pw" not in result.text


WEAK = """\
services:
  db:
    image: postgres:15
    environment: {POSTGRES_PASSWORD: postgres}
  cache:
    image: redis:7
    command: redis-server --requirepass pw
  web:
    build: ./app
    command: python app.py --password=postgres --db-host db
    environment:
      DB_DSN: "host=db port=5432 dbname=postgres user=postgres password=postgres"
      QUOTED_DSN: "host=db dbname=postgres password='postgres' sslmode=disable"
      JDBC: "jdbc:postgresql://db:5432/postgres?user=postgres&password=postgres"
      JDBC_OTHER: "jdbc:postgresql://db:5432/app?user=reader&password=rd"
      ODBC: "Server=db;Port=5432;Database=postgres;Uid=postgres;Password=postgres;"
      CACHE_URL: redis://:pw@cache:6379/1
      EXTERNAL: https://bot:xy@hooks.example.com/in
      SHELL_LINE: "PGPASSWORD=postgres psql -h db -U postgres"
      DB_USER: postgres
    healthcheck:
      test:
        - CMD-SHELL
        - "redis-cli -h cache -a pw ping && PGPASSWORD=postgres psql -h db -c 'select 1'"
"""


@pytest.fixture
def weak(tmp_path: Path) -> Any:
    compose(tmp_path, WEAK, **{"app/app.py": ""})
    return imported(tmp_path)


def test_a_weak_password_is_replaced_in_dsns_jdbc_and_command_lines(weak: Any) -> None:
    web = weak.conversion.blueprint["services"]["web"]
    assert web["env"]["DB_DSN"] == (
        "host=${db.host} port=${db.port} dbname=postgres user=postgres "
        "password=${secret.DB_PASSWORD}"
    )
    assert web["env"]["QUOTED_DSN"] == (
        "host=${db.host} dbname=postgres password='${secret.DB_PASSWORD}' sslmode=disable"
    )
    assert web["env"]["JDBC"] == (
        "jdbc:postgresql://${db.host}:${db.port}/postgres?user=postgres"
        "&password=${secret.DB_PASSWORD}"
    )
    assert web["env"]["JDBC_OTHER"] == (
        "jdbc:postgresql://${db.host}:${db.port}/app?user=reader&password=${secret.WEB_JDBC_OTHER_PASSWORD}"
    )
    assert web["env"]["ODBC"].endswith("Password=${secret.DB_PASSWORD};")
    assert web["env"]["CACHE_URL"] == (
        "redis://:${secret.CACHE_PASSWORD}@${cache.host}:${cache.port}/1"
    )
    assert (
        web["env"]["EXTERNAL"] == "https://bot:${secret.WEB_EXTERNAL_PASSWORD}@hooks.example.com/in"
    )
    assert web["env"]["SHELL_LINE"] == "PGPASSWORD=${secret.DB_PASSWORD} psql -h db -U postgres"
    assert web["local"]["command"] == "python app.py --password=${secret.DB_PASSWORD} --db-host db"
    ready = web["ready"]["command"]
    assert "-a ${secret.CACHE_PASSWORD} ping" in ready
    assert "PGPASSWORD=${secret.DB_PASSWORD} psql" in ready
    # a password the file does not give the engine is one the user provides
    secrets = weak.conversion.blueprint["secrets"]
    assert secrets["WEB_JDBC_OTHER_PASSWORD"] == {} and secrets["WEB_EXTERNAL_PASSWORD"] == {}


def test_no_password_literal_is_left_in_a_password_context(weak: Any) -> None:
    body = weak.text.split("\napiVersion:", 1)[1]
    for literal in (
        "password=postgres",
        "password='postgres'",
        "Password=postgres",
        ":pw@",
        ":xy@",
    ):
        assert literal not in body
    assert "-a pw" not in body and "PGPASSWORD=postgres" not in body


def test_what_is_left_of_a_short_secret_value_is_named_in_a_note(weak: Any) -> None:
    found = {n.key: n.message for n in weak.notes}
    note = found["services.web.environment.DB_USER"]
    assert "${secret.DB_PASSWORD}" in note
    assert "postgres" not in note, "notes name secrets, never their values"


def test_secret_words_only_at_the_end_of_a_name_and_never_numbers(tmp_path: Path) -> None:
    compose(
        tmp_path,
        """\
services:
  web:
    image: nginx:1.27
    environment:
      TOKEN_TTL: "3600"
      PASSWORD_MIN_LENGTH: "8"
      SECRET_ROTATION_DAYS: "30"
      SESSION_TOKEN: "1234"
      GITHUB_TOKEN: ghp-literal-0007
      DJANGO_SECRET_KEY: django-literal-0008
      SMTP_PASS: smtp-literal-0009
""",
    )
    bp = imported(tmp_path).conversion.blueprint
    assert bp["services"]["web"]["env"] == {
        "TOKEN_TTL": "3600",
        "PASSWORD_MIN_LENGTH": "8",
        "SECRET_ROTATION_DAYS": "30",
        "SESSION_TOKEN": "1234",
        "GITHUB_TOKEN": "${secret.WEB_GITHUB_TOKEN}",
        "DJANGO_SECRET_KEY": "${secret.WEB_DJANGO_SECRET_KEY}",
        "SMTP_PASS": "${secret.WEB_SMTP_PASS}",
    }


def test_a_secret_in_a_healthcheck_url_makes_it_a_command_probe(tmp_path: Path) -> None:
    compose(
        tmp_path,
        """\
services:
  web:
    build: ./app
    command: python app.py --port 8000
    environment:
      API_TOKEN: api-token-Literal-77
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8000/health?token=api-token-Literal-77"]
""",
        **{"app/app.py": ""},
    )
    result = imported(tmp_path)  # before: the guard refused to write it
    assert "api-token-Literal-77" not in result.text
    ready = result.conversion.blueprint["services"]["web"]["ready"]
    assert ready == {
        "command": "curl -fsS 'http://${self.host}:${self.port}/health?token=${secret.WEB_API_TOKEN}'"
    }
