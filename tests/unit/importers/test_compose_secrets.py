"""Literal secrets in a Compose file never reach the blueprint, the notes or the output."""

from __future__ import annotations

import json
from pathlib import Path

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
