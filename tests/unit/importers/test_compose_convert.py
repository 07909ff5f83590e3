"""Each conversion the Compose importer makes, on small Compose projects.

Every result here went through the real blueprint loader (import_compose validates
before it returns), so each is a blueprint `envctl validate` accepts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from orchestrator.importers.naming import dns_label
from tests.unit.importers.compose_snippets import compose, imported, notes_of, write


def services(tmp_path: Path, snippet: str, environ: dict[str, str] | None = None) -> Any:
    write(snippet, tmp_path)
    return imported(tmp_path, environ).conversion.blueprint["services"]


def test_the_written_yaml_is_the_blueprint_dict(tmp_path: Path) -> None:
    write("references", tmp_path)
    result = imported(tmp_path)
    assert yaml.safe_load(result.text) == result.conversion.blueprint
    assert result.conversion.blueprint["apiVersion"] == "envctl/v1"
    assert result.conversion.blueprint["metadata"] == {"name": dns_label(tmp_path.name)}


def test_container_ports_in_order_host_ports_dropped(tmp_path: Path) -> None:
    web = services(tmp_path, "ports")["web"]
    # short forms, a range expanded, the long form, then expose; the udp port is dropped
    assert web["ports"] == [8000, 9001, 9101, 7000, 7001, 7002, 9200, 9300, 8443, 3000, 3001]


def test_environment_merges_env_files_then_environment(tmp_path: Path) -> None:
    svcs = services(tmp_path, "environment")
    assert svcs["a"]["env"] == {
        "OVERRIDDEN": "by-environment",  # environment wins over env_file
        "FROM_FILE": "local",  # the later env_file wins
        "EXPORTED": "1",
        "QUOTED": "two words",
        "FROM_MAP": "1",
        "RETRIES": "3",
        "PASSED_THROUGH": "${env.PASSED_THROUGH:-}",  # the caller's value, as in Compose
    }
    assert svcs["b"]["env"] == {"LIST_FORM": "yes", "EQUALS": "a=b", "BARE": "${env.BARE:-}"}


def test_variables_interpolate_from_dotenv_and_shell(tmp_path: Path) -> None:
    svcs = services(tmp_path, "interpolation", {"SHELL_ONLY": "from-shell", "NGINX_TAG": "1.26"})
    assert svcs["web"]["image"] == "nginx:1.26", "a field that takes no reference: the value"
    assert svcs["web"]["env"] == {
        "FROM_DOTENV": "hello",
        "BRACELESS": "hello",
        "DEFAULTED": "fallback",
        "DASH_DEFAULT": "",
        "COLON_DEFAULT": "was-empty",
        # `$$` is Compose's literal `$`; a literal `${` is `$${` in a blueprint
        "LITERAL": "$HOME and $${NOT_A_VAR}",
        "UNSET": "",
        "NESTED": "hello",
        "SHELL_WINS": "${env.SHELL_ONLY}",  # the shell's: read from envctl's when it runs
    }


def test_compose_v2_interpolation_forms(tmp_path: Path) -> None:
    compose(
        tmp_path,
        "services:\n  web:\n    image: nginx:1.27\n    environment:\n"
        "      ALT: ${SET:+yes}\n      NOALT: ${UNSET_VAR:+yes}\n",
        **{".env": "SET=1\n"},
    )
    env = imported(tmp_path).conversion.blueprint["services"]["web"]["env"]
    assert env == {"ALT": "yes", "NOALT": ""}


def test_depends_on_list_map_and_links(tmp_path: Path) -> None:
    svcs = services(tmp_path, "depends")
    assert "migrate" not in svcs  # a one-shot job web waits to complete
    assert svcs["web"]["depends_on"] == ["db", "cache"]
    assert svcs["worker"]["depends_on"] == ["db", "cache", "web"]  # links: a dependency


def test_healthchecks_become_readiness_probes(tmp_path: Path) -> None:
    svcs = services(tmp_path, "healthchecks")
    # start_period + retries * (interval + timeout) = 10 + 10 * (5 + 3)
    assert svcs["curl"]["ready"] == {"http": "/healthz", "timeout": "90s"}
    assert svcs["wget"]["ready"] == {"http": "/status?full=1"}
    assert svcs["wget"]["ports"] == [8080, 9000]
    assert svcs["shell"]["ready"] == {"http": "/ping"}
    assert svcs["tcp"]["ready"] == {"tcp": True}
    assert svcs["tcp"]["ports"] == [6000]
    assert svcs["custom"]["ready"] == {"command": "python check.py --url ${self.host}:${self.port}"}
    assert "ready" not in svcs["none"]
    # an engine keeps its native probe (a real query), with Compose's patience: 20 * 2s
    assert svcs["db"]["ready"] == {"timeout": "40s"}


def test_an_https_probe_is_a_host_command(tmp_path: Path) -> None:
    compose(
        tmp_path,
        "services:\n  web:\n    image: nginx:1.27\n    healthcheck:\n"
        '      test: ["CMD", "curl", "-kf", "https://localhost:8443/"]\n',
    )
    ready = imported(tmp_path).conversion.blueprint["services"]["web"]["ready"]
    assert ready == {"command": "curl -kf https://${self.host}:${self.port}/"}


def test_volumes_init_sql_becomes_a_schema(tmp_path: Path) -> None:
    write("volumes", tmp_path)
    blueprint = imported(tmp_path).conversion.blueprint
    assert blueprint["data"] == [{"service": "db", "schema": "db/schema.sql"}]
    assert "env" not in blueprint["services"]["db"]


def test_an_initdb_directory_with_one_sql_file(tmp_path: Path) -> None:
    compose(
        tmp_path,
        "services:\n  db:\n    image: postgres:15\n"
        "    volumes: ['./initdb:/docker-entrypoint-initdb.d']\n",
        **{"initdb/001.sql": "CREATE TABLE a (id int);\n"},
    )
    assert imported(tmp_path).conversion.blueprint["data"] == [
        {"service": "db", "schema": "initdb/001.sql"}
    ]


def test_paths_are_relative_to_where_the_blueprint_goes(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    write("volumes", project)
    out = tmp_path / "elsewhere" / "bp.yaml"
    result = imported(project, out=str(out))
    bp = result.conversion.blueprint
    assert bp["data"][0]["schema"] == "../project/db/schema.sql"
    assert bp["services"]["web"]["local"]["cwd"] == "../project/app"
    assert out.is_file()


def test_engines_images_versions_and_credentials(tmp_path: Path) -> None:
    svcs = services(tmp_path, "engines")
    assert svcs["pg"] == {
        "image": "postgres:16.2",
        "engine": "postgres",
        "ports": [5432],
        "env": {
            "POSTGRES_USER": "shop",
            "POSTGRES_DB": "orders",
            "POSTGRES_PASSWORD": "${secret.PG_PASSWORD}",
        },
    }
    assert svcs["bitnami-pg"]["image"] == "postgres:15"
    assert svcs["bitnami-pg"]["env"] == {
        "POSTGRES_USER": "app",
        "POSTGRES_DB": "app",
        "POSTGRES_PASSWORD": "${secret.BITNAMI_PG_PASSWORD}",
    }
    assert svcs["redis"]["image"] == "redis:7.2.4"
    assert svcs["redis"]["env"] == {"REDIS_PASSWORD": "${secret.REDIS_PASSWORD}"}
    assert svcs["bitnami-redis"]["env"] == {"REDIS_PASSWORD": "${secret.BITNAMI_REDIS_PASSWORD}"}
    assert svcs["latest"] == {"image": "redis", "engine": "redis", "ports": [6379]}
    assert "engine" not in svcs["not-an-engine"]
    assert svcs["not-an-engine"]["image"] == "postgis/postgis:16-3.4"


def test_engine_passwords_become_generated_secrets(tmp_path: Path) -> None:
    write("engines", tmp_path)
    bp = imported(tmp_path).conversion.blueprint
    assert bp["secrets"] == {
        "PG_PASSWORD": {"generate": True},
        "BITNAMI_PG_PASSWORD": {"generate": True},
        "REDIS_PASSWORD": {"generate": True},
        "BITNAMI_REDIS_PASSWORD": {"generate": True},
    }


def test_references_to_other_services(tmp_path: Path) -> None:
    env = services(tmp_path, "references")["web"]["env"]
    assert env == {
        "WHOLE_PG": "${db.url}",
        "WHOLE_PG_QUERY": "${db.url}?sslmode=disable",
        "OTHER_DB": "postgresql://app:${secret.DB_PASSWORD}@${db.host}:${db.port}/analytics",
        "DRIVER_URL": "postgresql+psycopg://app:${secret.DB_PASSWORD}@${db.host}:${db.port}/app",
        "WHOLE_REDIS": "${cache.url}",
        "REDIS_DB_2": "redis://${cache.host}:${cache.port}/2",
        "API_URL": "${api.url}",
        "API_PATH": "${api.url}/v1/orders?limit=5",
        "HOST_PORT": "${db.host}:${db.port}",
        "BROKERS": "${cache.host}:${cache.port},${api.host}:${api.port}",
        "DB_HOST": "${db.host}",
        "DB_PORT": "${db.port}",
        "PGHOST": "${db.host}",
        "PGPORT": "${db.port}",
        "DB_PASSWORD": "${secret.DB_PASSWORD}",
        "ROLE": "api",  # not a host variable: a word that happens to be a service's name
        "UNRELATED_URL": "https://example.com/db:5432",
    }


def test_references_through_aliases_and_renamed_services(tmp_path: Path) -> None:
    compose(
        tmp_path,
        """\
services:
  main_db:
    image: postgres:15
    container_name: shop-postgres
    networks:
      default:
        aliases: [database]
  web_app:
    image: nginx:1.27
    environment:
      A: postgresql://postgres@database:5432/postgres
      B: shop-postgres:5432
      C_HOST: main_db
""",
    )
    bp = imported(tmp_path).conversion.blueprint
    assert set(bp["services"]) == {"main-db", "web-app"}  # blueprint names are DNS labels
    assert bp["services"]["web-app"]["env"] == {
        "A": "${main-db.url}",
        "B": "${main-db.host}:${main-db.port}",
        "C_HOST": "${main-db.host}",
    }


def test_a_redis_url_gets_the_password_the_engine_has_now(tmp_path: Path) -> None:
    compose(
        tmp_path,
        """\
services:
  cache:
    image: redis:7
    command: ["redis-server", "--requirepass", "cache-Secret-9"]
  web:
    image: nginx:1.27
    environment:
      WHOLE: redis://:cache-Secret-9@cache:6379/0
      DB_3: redis://:cache-Secret-9@cache:6379/3
      NO_PASSWORD_GIVEN: redis://cache:6379/4
""",
    )
    env = imported(tmp_path).conversion.blueprint["services"]["web"]["env"]
    assert env == {
        "WHOLE": "${cache.url}",
        "DB_3": "redis://:${secret.CACHE_PASSWORD}@${cache.host}:${cache.port}/3",
        "NO_PASSWORD_GIVEN": "redis://:${secret.CACHE_PASSWORD}@${cache.host}:${cache.port}/4",
    }


def test_the_apps_own_port_becomes_self_port(tmp_path: Path) -> None:
    svcs = services(tmp_path, "own_port")
    assert svcs["env-port"]["env"] == {"PORT": "${self.port}"}
    assert svcs["env-port"]["local"]["command"] == "python app.py"
    assert svcs["flag-port"]["local"]["command"] == (
        "uvicorn app:app --host ${self.host} --port ${self.port}"
    )
    assert svcs["bind-port"]["local"]["command"] == "gunicorn -b ${self.host}:${self.port} app:app"
    assert svcs["fixed-port"]["local"]["command"] == "python app.py"  # and a note says so


def test_commands_from_compose_and_dockerfiles(tmp_path: Path) -> None:
    svcs = services(tmp_path, "commands")
    assert svcs["string"]["local"] == {"command": "python app.py --name 'two words'", "cwd": "app"}
    assert svcs["listed"]["local"]["command"] == "python -m http.server 8000"
    # the last stage's CMD, in shell form, continuation joined
    assert svcs["dockerfile"]["local"] == {"command": "python web.py --workers 2", "cwd": "app"}
    assert "local" not in svcs["image-only"]
    # no build context, but the working dir is a bind mount of ./app
    assert svcs["mounted-workdir"]["local"] == {"command": "node server.js", "cwd": "app"}


def test_a_dockerfile_entrypoint_with_cmd(tmp_path: Path) -> None:
    compose(
        tmp_path,
        "services:\n  web:\n    build: ./app\n",
        **{
            "app/Dockerfile": 'FROM python:3.11\nENTRYPOINT ["python", "-u"]\nCMD ["app.py"]\n',
        },
    )
    local = imported(tmp_path).conversion.blueprint["services"]["web"]["local"]
    assert local["command"] == "python -u app.py"


def test_resources_from_deploy_limits_and_v2_keys(tmp_path: Path) -> None:
    write("unsupported", tmp_path)
    web = imported(tmp_path).conversion.blueprint["services"]["web"]
    assert web["resources"] == {"cpu": 0.25, "memory": "512Mi"}
    assert web["local"]["stop_signal"] == "SIGINT"
    compose(
        tmp_path,
        "services:\n  web:\n    image: nginx:1.27\n    mem_limit: 1g\n    cpus: 2\n",
    )
    assert imported(tmp_path).conversion.blueprint["services"]["web"]["resources"] == {
        "cpu": 2,
        "memory": "1Gi",
    }


def test_services_behind_profiles_are_not_imported(tmp_path: Path) -> None:
    assert set(services(tmp_path, "unsupported")) == {"web"}


def test_the_name_comes_from_name_then_project_variable_then_directory(tmp_path: Path) -> None:
    project = tmp_path / "My_Shop"
    project.mkdir()
    compose(project, "services:\n  web:\n    image: nginx:1.27\n")
    assert imported(project).conversion.blueprint["metadata"]["name"] == "my-shop"
    compose(project, "name: Checkout\nservices:\n  web:\n    image: nginx:1.27\n")
    assert imported(project).conversion.blueprint["metadata"]["name"] == "checkout"
    compose(
        project,
        "services:\n  web:\n    image: nginx:1.27\n",
        **{".env": "COMPOSE_PROJECT_NAME=p1\n"},
    )
    assert imported(project).conversion.blueprint["metadata"]["name"] == "p1"
    assert imported(project, name="given").conversion.blueprint["metadata"]["name"] == "given"


def test_reserved_and_clashing_service_names_are_renamed(tmp_path: Path) -> None:
    compose(
        tmp_path,
        "services:\n  run:\n    image: nginx:1.27\n  Web:\n    image: nginx:1.27\n"
        "  web_:\n    image: nginx:1.27\n",
    )
    assert set(imported(tmp_path).conversion.blueprint["services"]) == {"run-svc", "web", "web-2"}


def test_v2_long_forms_port_host_ip_env_file_required_depends_required(tmp_path: Path) -> None:
    compose(
        tmp_path,
        """\
services:
  web:
    image: nginx:1.27
    ports:
      - {target: 80, published: "8080", host_ip: 127.0.0.1}
    env_file:
      - path: ./missing.env
        required: false
      - path: ./present.env
    depends_on:
      ghost: {condition: service_started, required: false}
""",
        **{"present.env": "A=1\n"},
    )
    web = imported(tmp_path).conversion.blueprint["services"]["web"]
    assert web["ports"] == [80]
    assert web["env"] == {"A": "1"}
    assert "depends_on" not in web


def test_service_names_win_over_other_names_and_hostname_is_not_one(tmp_path: Path) -> None:
    compose(
        tmp_path,
        """\
services:
  legacy-db:
    image: postgres:15
    hostname: db
    container_name: cache
    environment: {POSTGRES_PASSWORD: legacy-Secret-1}
  db:
    image: postgres:15
    environment: {POSTGRES_PASSWORD: main-Secret-2}
  cache:
    image: redis:7
  web:
    image: nginx:1.27
    environment:
      URL: postgres://postgres:main-Secret-2@db:5432/postgres
      CACHE: cache:6379
      OLD_HOST: legacy-db
""",
    )
    result = imported(tmp_path)
    env = result.conversion.blueprint["services"]["web"]["env"]
    assert env == {
        "URL": "${db.url}",
        "CACHE": "${cache.host}:${cache.port}",
        "OLD_HOST": "${legacy-db.host}",
    }
    note = notes_of(result)["services.legacy-db.hostname"]
    assert "other containers cannot resolve it" in note


def test_a_healthcheck_on_another_port_keeps_the_declared_ports_first(tmp_path: Path) -> None:
    compose(
        tmp_path,
        """\
services:
  api:
    build: ./app
    command: python app.py --port 8000
    ports: ["8000:8000"]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:9090/health"]
""",
        **{"app/app.py": ""},
    )
    result = imported(tmp_path)
    api = result.conversion.blueprint["services"]["api"]
    assert api["ports"][0] == 8000, "${api.url} is the port the others use"
    assert api.get("ready", {}).get("http") is None, "http probes the first port, not 9090"
    assert "9090" in notes_of(result)["services.api.healthcheck"]


def test_its_own_ipv6_loopback_address_becomes_self_port(tmp_path: Path) -> None:
    compose(
        tmp_path,
        """\
services:
  api:
    build: ./app
    command: python app.py
    ports: ["8000"]
    environment:
      SELF_URL: http://[::1]:8000/x
      BIND: "[::]:8000"
      LOOPBACK: "[::1]:8000"
""",
        **{"app/app.py": ""},
    )
    env = imported(tmp_path).conversion.blueprint["services"]["api"]["env"]
    assert env == {
        "SELF_URL": "http://[::1]:${self.port}/x",
        "BIND": "[::]:${self.port}",
        "LOOPBACK": "[::1]:${self.port}",
    }
