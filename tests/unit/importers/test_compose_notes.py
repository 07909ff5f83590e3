"""Each note: what the import could not carry over says so, one line, at its key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.importers.compose_snippets import compose, imported, notes_of, write


def notes(tmp_path: Path, snippet: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    write(snippet, tmp_path)
    return notes_of(imported(tmp_path, environ))


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("services.web.restart", "envctl restarts nothing; a crash fails the run"),
        ("services.web.labels", "dropped"),
        ("services.web.container_name", "names never collide"),
        ("services.web.privileged", "unprivileged"),
        ("services.web.cap_add", "unprivileged"),
        ("services.web.user", "runs services as you"),
        ("services.web.networks", "one private network of its own"),
        ("services.web.secrets", "${secret.NAME}"),
        ("services.web.deploy.replicas", "one replica per service"),
        ("services.web.deploy.resources.reservations", "reservations dropped"),
        ("services.web.x-owner", "an extension field"),
        ("x-common", "an extension field"),
        ("services.admin.profiles", "started only with its profile (debug): not imported"),
        ("networks", "one private network of its own"),
        ("secrets", "blueprints have `secrets:`"),
    ],
)
def test_unsupported_keys_each_get_a_note(tmp_path: Path, key: str, says: str) -> None:
    found = notes(tmp_path, "unsupported")
    assert key in found, sorted(found)
    assert says in found[key]


def test_notes_carry_the_compose_files_line(tmp_path: Path) -> None:
    write("unsupported", tmp_path)
    by_key = {n.key: n for n in imported(tmp_path).notes}
    text = (tmp_path / "compose.yaml").read_text().splitlines()
    assert text[by_key["services.web.privileged"].line - 1].strip() == "privileged: true"
    assert text[by_key["services.admin.profiles"].line - 1].strip() == "profiles: [debug]"
    lines = [n.line or 0 for n in imported(tmp_path).notes]
    assert lines == sorted(lines), "notes come in the file's order"


def test_one_shot_jobs_and_the_condition_that_waits_for_them(tmp_path: Path) -> None:
    found = notes(tmp_path, "depends")
    assert found["services.web.depends_on.migrate"] == (
        "depends_on condition service_completed_successfully: one-shot jobs are not supported"
    )
    assert "a one-shot job (web waits for it to complete)" in found["services.migrate"]
    assert "legacy links" in found["services.worker.links"]


def test_dropped_volumes_and_the_schema(tmp_path: Path) -> None:
    found = notes(tmp_path, "volumes")
    assert found["services.db.volumes[0]"] == (
        "pgdata: dropped — environments start empty; seed with data:"
    )
    assert (
        "now data[0].schema, applied once every service is ready" in found["services.db.volumes[1]"]
    )
    assert "does not read it; dropped" in found["services.db.volumes[2]"]
    assert "the local runtime runs it in place" in found["services.web.volumes[0]"]
    assert found["services.web.volumes[1]"] == "uploads: dropped — environments start empty"
    assert "anonymous volume" in found["services.web.volumes[2]"]


def test_several_init_scripts_and_shell_scripts(tmp_path: Path) -> None:
    compose(
        tmp_path,
        "services:\n  db:\n    image: postgres:15\n"
        "    volumes: ['./initdb:/docker-entrypoint-initdb.d']\n",
        **{
            "initdb/001.sql": "CREATE TABLE a (id int);\n",
            "initdb/002.sql": "CREATE TABLE b (id int);\n",
            "initdb/003.sh": "echo hi\n",
        },
    )
    result = imported(tmp_path)
    assert "data" not in result.conversion.blueprint
    messages = [n.message for n in result.notes if n.key == "services.db.volumes[0]"]
    assert any("2 SQL init scripts (001.sql, 002.sql)" in m for m in messages)
    assert any("003.sh: only .sql init scripts carry over" in m for m in messages)


def test_ports_notes(tmp_path: Path) -> None:
    found = notes(tmp_path, "ports")
    assert found["services.web.ports[6]"] == "udp: envctl forwards TCP only; dropped"
    assert (
        "host ports (127.0.0.1:9000, 18443, 5353, 7000-7002, 8000, [::1]:9100) dropped"
        in (found["services.web.ports"])
    )
    assert "ENVCTL_WEB_PORT" in found["services.web.ports"]


def test_a_port_the_command_does_not_take_is_noted(tmp_path: Path) -> None:
    found = notes(tmp_path, "own_port")
    assert "port 7000 is in neither its command nor a PORT variable" in found["services.fixed-port"]
    assert "services.env-port" not in found and "services.flag-port" not in found


def test_engine_notes(tmp_path: Path) -> None:
    found = notes(tmp_path, "engines")
    assert found["services.pg.environment"] == (
        "POSTGRES_INITDB_ARGS: not read by envctl's postgres; dropped"  # PGDATA is harmless
    )
    assert found["services.pg.environment.POSTGRES_PASSWORD"].startswith(
        "a literal password: now ${secret.PG_PASSWORD}, generated per environment"
    )
    assert "Bitnami's variables" in found["services.bitnami-pg.image"]
    redis_notes = [n.message for n in imported(tmp_path).notes if n.key == "services.redis.command"]
    assert any("--appendonly yes --maxmemory 64mb" in m for m in redis_notes)
    assert any("${secret.REDIS_PASSWORD}" in m for m in redis_notes)
    assert "no version in its tag" in found["services.latest.image"]
    assert "not an engine envctl runs itself" in found["services.not-an-engine"]


def test_healthcheck_notes(tmp_path: Path) -> None:
    found = notes(tmp_path, "healthchecks")
    assert "run on the host, not in the container" in found["services.custom.healthcheck"]
    assert "services.curl.healthcheck" not in found


def test_variable_notes(tmp_path: Path) -> None:
    found = notes(tmp_path, "interpolation", {"SHELL_ONLY": "from-shell"})
    assert found["services.web.environment.UNSET"] == "variable NOWHERE is not set: it became ''"
    assert "came from your shell's environment" in found["services.web.environment.SHELL_WINS"]
    assert "from-shell" not in found["services.web.environment.SHELL_WINS"], "names, not values"


def test_commands_from_dockerfiles_and_what_cannot_run_locally(tmp_path: Path) -> None:
    found = notes(tmp_path, "commands")
    assert found["services.dockerfile"] == (
        "its command comes from the Dockerfile's CMD: python web.py --workers 2"
    )
    assert "not runnable on the local runtime" in found["services.image-only"]
    assert "local: {command: ..., cwd: ...}" in found["services.image-only"]


def test_invalid_env_names_and_an_unknown_stop_signal(tmp_path: Path) -> None:
    compose(
        tmp_path,
        "services:\n  web:\n    build: ./app\n    command: python app.py\n"
        "    stop_signal: SIGUSR1\n    environment:\n      my.setting: x\n      OK: y\n",
        **{"app/app.py": ""},
    )
    result = imported(tmp_path)
    found = notes_of(result)
    assert "not a name a blueprint allows" in found["services.web.environment.my.setting"]
    assert "SIGTERM, SIGINT, SIGQUIT; dropped" in found["services.web.stop_signal"]
    assert result.conversion.blueprint["services"]["web"]["env"] == {"OK": "y"}


def test_an_override_file_next_to_it_is_named(tmp_path: Path) -> None:
    compose(
        tmp_path,
        "services:\n  web:\n    image: nginx:1.27\n",
        **{"docker-compose.override.yml": "services: {}\n"},
    )
    assert (
        "docker-compose.override.yml next to it is not merged"
        in notes_of(imported(tmp_path))["(document)"]
    )


def test_the_written_blueprint_starts_with_every_note(tmp_path: Path) -> None:
    write("unsupported", tmp_path)
    result = imported(tmp_path)
    top = result.text.split("\napiVersion:", 1)[0]
    header = [line for line in top.splitlines() if line.startswith("#   ")]
    assert len(header) == len(result.notes)
    for line, note in zip(header, result.notes, strict=True):
        assert line.endswith(f"{note.key}: {note.message}")
        assert str(note.line) in line


def test_a_clean_file_says_everything_converted(tmp_path: Path) -> None:
    compose(tmp_path, "services:\n  cache:\n    image: redis:7\n")
    result = imported(tmp_path)
    assert result.notes == ()
    assert "# Everything converted." in result.text


def test_a_variable_naming_a_service_not_imported(tmp_path: Path) -> None:
    compose(
        tmp_path,
        "services:\n  web:\n    image: nginx:1.27\n    environment:\n"
        "      MAIL_HOST: Mailer\n      MAIL_URL: smtp://u@mailer:25\n      OTHER: mailers\n"
        "  mailer:\n    image: mailhog/mailhog:v1\n    profiles: [mail]\n",
    )
    found = notes_of(imported(tmp_path))
    assert found["services.web.environment.MAIL_HOST"] == (
        "names mailer, which is not imported: kept as written"
    )
    assert "services.web.environment.MAIL_URL" in found
    assert "services.web.environment.OTHER" not in found
