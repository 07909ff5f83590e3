"""Passwords found by their context in a longer value, whatever their length."""

from __future__ import annotations

import pytest

from orchestrator.importers import passwords


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("host=db user=u password=pw", ["pw"]),
        ("host=db password='a b' sslmode=disable", ["a b"]),
        ("jdbc:postgresql://db/app?user=u&password=pw", ["pw"]),
        ("Server=db;Uid=u;Pwd=pw;", ["pw"]),
        ("PGPASSWORD=pw psql -h db", ["pw"]),
        ("app --password pw --verbose", ["pw"]),
        ("app --password=pw", ["pw"]),
        ("redis-server --requirepass pw --save ''", ["pw"]),
        ("redis-cli -h cache -a pw ping", ["pw"]),
        ("mysqladmin ping -h db -uroot -ppw", ["pw"]),
        ("redis://:pw@cache:6379/0", ["pw"]),
        ("postgres://u:pw@db/app", ["pw"]),
    ],
)
def test_a_password_in_its_context_is_found(text: str, found: list[str]) -> None:
    assert list(passwords.literals(text)) == found


@pytest.mark.parametrize(
    "text",
    [
        "password=${secret.DB_PASSWORD}",  # already a reference
        "PGPASSWORD=$DB_PASSWORD psql",  # the shell's, at run time
        "password=$${NOT_A_REF}",
        "mysql --password --host db",  # --password alone prompts
        "psql -h db -p 5432",  # psql's -p is a port
        "PWD=/app make",  # the shell's working directory
        "http://db:5432/app",
        "--password-file=/run/secrets/pw",
        "password=***",  # already masked
    ],
)
def test_what_is_no_literal_password_is_left_alone(text: str) -> None:
    assert list(passwords.literals(text)) == []
    assert passwords.replace(text, lambda _: "X") == text


def test_replace_keeps_quotes_and_the_rest() -> None:
    text = "host=db password='pw' && redis-cli -a pw2 ping"
    assert passwords.replace(text, lambda p: f"<{p}>") == (
        "host=db password='<pw>' && redis-cli -a <pw2> ping"
    )
