"""Restoring a production sample (plain and custom dumps) with PII transforms, on a real
PostgreSQL 15. The dumps are made here, by the real pg_dump, from a small source database."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestrator.blueprint.data import FakeKind
from orchestrator.runtime.local import binaries
from orchestrator.seed.errors import SeedError
from orchestrator.seed.restore import restore
from tests.integration.seeding.conftest import Engines

pytestmark = pytest.mark.local

CUSTOMERS = 500
ORDERS = 1500

SOURCE_SCHEMA = """
CREATE TABLE customers (
    id integer PRIMARY KEY,
    email varchar(40) NOT NULL UNIQUE,
    name text NOT NULL,
    phone text,
    ssn char(11),
    nickname varchar(6),
    score integer,
    balance numeric(6, 2),
    token uuid,
    city text
);
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    customer_email varchar(40) NOT NULL REFERENCES customers (email),
    note text
);
INSERT INTO customers
SELECT i,
       'person' || i || '@real-company.test',
       'Real Person ' || i,
       CASE WHEN i % 10 = 0 THEN NULL ELSE '+44 7700 ' || lpad(i::text, 6, '0') END,
       lpad((i % 50)::text, 3, '0') || '-12-3456',            -- repeats: 10 rows per value
       'nick' || (i % 100),
       i * 7,
       i / 3.0,
       md5(i::text)::uuid,
       'Springfield'
FROM generate_series(1, 500) AS i;
INSERT INTO orders
SELECT i, 1 + i % 500, 'person' || (1 + i % 500) || '@real-company.test', 'order ' || i
FROM generate_series(1, 1500) AS i;
"""

TRANSFORMS = {
    "customers.email": "fake:email",
    "customers.name": "fake:name",
    "customers.phone": "null",
    "customers.ssn": "hash",
    "customers.nickname": "fake:first_name",
    "customers.score": "hash",
    "customers.balance": "hash",
    "customers.token": "hash",
    "orders.customer_email": "fake:email",
    "orders.note": "fake:sentence",
}


@dataclass(frozen=True)
class Dumps:
    plain: Path
    custom: Path
    bindir: Path


def _with_db(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


def _password(url: str) -> str:
    password = conninfo_to_dict(url).get("password")
    assert password, "the seeding engines' URL carries a password"
    return str(password)


@contextmanager
def _database(url: str, prefix: str) -> Iterator[str]:
    """A database of our own on the shared server, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_db(url, name)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def dumps(engines: Engines, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dumps]:
    bindir = binaries.postgres("auto").bindir
    out = tmp_path_factory.mktemp("dumps")
    with _database(engines.postgres_url, "restore_source") as source:
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute(SOURCE_SCHEMA.encode())
        params = conninfo_to_dict(source)
        env = {**os.environ, "PGPASSWORD": str(params.pop("password"))}
        conninfo = make_conninfo("", **params)
        plain, custom = out / "sample.sql", out / "sample.dump"
        for fmt, path in (("p", plain), ("c", custom)):
            subprocess.run(
                [str(bindir / "pg_dump"), f"-F{fmt}", "--no-owner", "-f", str(path), conninfo],
                env=env,
                check=True,
                capture_output=True,
                timeout=120,
            )
    assert plain.read_bytes()[:5] != b"PGDMP"
    assert custom.read_bytes()[:5] == b"PGDMP"
    yield Dumps(plain, custom, bindir)


@pytest.fixture
def target(pg_url: str) -> Iterator[str]:
    with _database(pg_url, "restore") as url:
        yield url


def _rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query.encode()).fetchall()


def _source_value(i: int, column: str) -> str:
    return {
        "email": f"person{i}@real-company.test",
        "name": f"Real Person {i}",
        "ssn": f"{i % 50:03d}-12-3456",
    }[column]


# -- formats --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["plain", "custom"])
def test_both_formats_restore_every_row_and_report_it(dumps: Dumps, target: str, fmt: str) -> None:
    dump = dumps.plain if fmt == "plain" else dumps.custom

    [stats] = restore(target, dump, {}, seed=1, bindir=dumps.bindir)

    assert _rows(target, "SELECT count(*) FROM customers") == [(CUSTOMERS,)]
    assert _rows(target, "SELECT count(*) FROM orders") == [(ORDERS,)]
    assert stats.name == f"restore {dump.name}"
    assert stats.kind == "restore"
    assert stats.rows == CUSTOMERS + ORDERS
    assert stats.bytes > 0
    assert stats.seconds > 0
    # Untransformed, the data is exactly the source's.
    assert _rows(target, "SELECT email FROM customers WHERE id = 7") == [
        ("person7@real-company.test",)
    ]


def test_restored_tables_are_analyzed_and_no_helper_is_left(dumps: Dumps, target: str) -> None:
    restore(target, dumps.custom, TRANSFORMS, seed=1, bindir=dumps.bindir)

    analyzed = _rows(
        target,
        "SELECT relname, reltuples FROM pg_class WHERE relname IN ('customers', 'orders') "
        "ORDER BY relname",
    )
    assert analyzed == [("customers", CUSTOMERS), ("orders", ORDERS)]
    # Column statistics exist only after an ANALYZE (a restore's CREATE INDEX counts rows).
    assert _rows(
        target,
        "SELECT tablename, count(*) FROM pg_stats WHERE tablename IN ('customers', 'orders') "
        "GROUP BY 1 ORDER BY 1",
    ) == [("customers", 10), ("orders", 4)]
    assert _rows(target, "SELECT count(*) FROM pg_proc WHERE proname LIKE 'envctl%'") == [(0,)]


# -- transforms -----------------------------------------------------------------------------


@pytest.fixture
def transformed(dumps: Dumps, target: str) -> str:
    restore(target, dumps.custom, TRANSFORMS, seed=1, bindir=dumps.bindir)
    return target


def test_no_original_pii_remains(transformed: str) -> None:
    rows = _rows(transformed, "SELECT id, email, name, phone, ssn, city FROM customers")
    assert len(rows) == CUSTOMERS
    for i, email, name, phone, ssn, city in rows:
        assert email != _source_value(i, "email")
        assert "real-company" not in email
        assert name != _source_value(i, "name")
        assert not name.startswith("Real Person")
        assert phone is None
        assert ssn != _source_value(i, "ssn")
        assert city == "Springfield"  # untouched
    orders = _rows(transformed, "SELECT customer_email, note FROM orders")
    assert not any("real-company" in email for email, _ in orders)
    assert not any(note.startswith("order ") for _, note in orders)


def test_fakes_look_real(transformed: str) -> None:
    rows = _rows(transformed, "SELECT email, name, nickname FROM customers")
    for email, name, nickname in rows:
        assert re.fullmatch(r"[a-z]+\.[a-z]+\.[0-9a-f]{8}@[a-z.]+|[0-9a-f]{28}@example\.com", email)
        first, last = name.split(" ")
        assert first.isalpha() and first[0].isupper()
        assert last.isalpha() and last[0].isupper()
        assert nickname.isalpha()
    [(note,)] = _rows(transformed, "SELECT note FROM orders WHERE id = 1")
    assert note[0].isupper() and note.endswith(".")
    assert 6 <= len(note.split(" ")) <= 14


def test_hash_is_stable_for_equal_inputs_and_keeps_the_type(transformed: str) -> None:
    rows = _rows(transformed, "SELECT id, ssn, score, balance, token FROM customers")
    by_source: dict[str, set[str]] = {}
    for i, ssn, score, balance, token in rows:
        by_source.setdefault(_source_value(i, "ssn"), set()).add(ssn)
        assert re.fullmatch(r"[0-9a-f]{11}", ssn)  # char(11): the hex, cut to fit
        assert 0 <= score < 2**31
        assert 0 <= balance < 10_000  # numeric(6, 2)
        assert str(token) != str(uuid.UUID(bytes=bytes(16)))
    assert len(by_source) == 50
    assert all(len(hashed) == 1 for hashed in by_source.values())  # equal in, equal out
    assert len(set().union(*by_source.values())) == 50  # distinct in, distinct out


def test_same_email_gets_the_same_fake_in_every_table(transformed: str) -> None:
    mismatched = _rows(
        transformed,
        "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
        "WHERE o.customer_email <> c.email",
    )
    assert mismatched == [(0,)]
    # The foreign key on email still holds: every order's email is a customer's.
    orphans = _rows(
        transformed,
        "SELECT count(*) FROM orders o LEFT JOIN customers c ON c.email = o.customer_email "
        "WHERE c.id IS NULL",
    )
    assert orphans == [(0,)]


def test_distinct_emails_stay_distinct(transformed: str) -> None:
    assert _rows(transformed, "SELECT count(DISTINCT email) FROM customers") == [(CUSTOMERS,)]


def test_varchar_limits_are_respected(transformed: str) -> None:
    [(email, nickname)] = _rows(
        transformed, "SELECT max(length(email)), max(length(nickname)) FROM customers"
    )
    assert email <= 40
    assert nickname <= 6


def test_fake_email_falls_back_to_hex_when_the_column_is_narrow(
    dumps: Dumps, target: str, tmp_path: Path
) -> None:
    narrow = tmp_path / "narrow.sql"
    narrow.write_text(
        "CREATE TABLE narrow (email varchar(20));\n"
        "INSERT INTO narrow SELECT 'p' || i || '@real.test' "
        "FROM generate_series(1, 500) AS i;\n"
    )
    restore(target, narrow, {"narrow.email": "fake:email"}, seed=1, bindir=dumps.bindir)
    rows = _rows(target, "SELECT email FROM narrow")
    assert all(re.fullmatch(r"[0-9a-f]{8}@example\.com", email) for (email,) in rows)
    assert len({email for (email,) in rows}) == CUSTOMERS


def test_every_fake_kind_gives_a_value_of_its_own_per_input(
    dumps: Dumps, target: str, tmp_path: Path
) -> None:
    kinds = [kind.value for kind in FakeKind]
    sample = tmp_path / "kinds.sql"
    columns = ", ".join(f"{k} text" for k in kinds)
    inputs = ", ".join("'input ' || (i % 2)" for _ in kinds)
    sample.write_text(
        f"CREATE TABLE kinds (id int, {columns});\n"
        f"INSERT INTO kinds SELECT i, {inputs} FROM generate_series(1, 4) AS i;\n"
    )
    restore(
        target,
        sample,
        {f"kinds.{k}": f"fake:{k}" for k in kinds},
        seed=1,
        bindir=dumps.bindir,
    )
    rows = _rows(target, f"SELECT id, {', '.join(kinds)} FROM kinds ORDER BY id")
    for _, *values in rows:
        assert all(value and not value.startswith("input") for value in values)
    odd, even = rows[0][1:], rows[1][1:]
    assert rows[2][1:] == odd and rows[3][1:] == even  # the same input, the same fake
    assert odd != even


# -- determinism ----------------------------------------------------------------------------


def _snapshot(url: str) -> list[tuple[Any, ...]]:
    return _rows(
        url,
        "SELECT c.id, c.email, c.name, c.ssn, c.score, c.token, o.note "
        "FROM customers c JOIN orders o ON o.id = c.id ORDER BY c.id",
    )


def test_same_seed_same_output_other_seed_other_output(dumps: Dumps, pg_url: str) -> None:
    snapshots = []
    for fmt, seed in (("custom", 1), ("plain", 1), ("custom", 2)):
        with _database(pg_url, "restore") as url:
            dump = dumps.custom if fmt == "custom" else dumps.plain
            restore(url, dump, TRANSFORMS, seed=seed, bindir=dumps.bindir)
            snapshots.append(_snapshot(url))
    first, again, other = snapshots
    assert first == again
    assert len(first) == CUSTOMERS
    assert all(a[1:] != b[1:] for a, b in zip(first, other, strict=True))


# -- errors ---------------------------------------------------------------------------------


def test_a_broken_plain_dump_fails_with_psqls_error_line(
    dumps: Dumps, target: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE TABLE ok (id int);\nCREAT TABLE oops (id int);\n")

    with pytest.raises(SeedError) as caught:
        restore(target, bad, {}, seed=1, bindir=dumps.bindir)

    message = caught.value.render()
    assert "psql failed to restore bad.sql" in message
    assert "ERROR:" in message
    assert 'syntax error at or near "CREAT"' in message
    assert "bad.sql:2:" in message  # psql's file:line
    assert caught.value.hint
    assert _password(target) not in message


def test_a_broken_custom_dump_fails_with_pg_restores_error_line(
    dumps: Dumps, target: str, tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated.dump"
    truncated.write_bytes(dumps.custom.read_bytes()[:200])

    with pytest.raises(SeedError) as caught:
        restore(target, truncated, {}, seed=1, bindir=dumps.bindir)

    message = caught.value.render()
    assert "pg_restore failed to restore truncated.dump" in message
    assert "error:" in message
    assert _password(target) not in message


def test_null_on_a_not_null_column_is_refused_and_changes_nothing(
    dumps: Dumps, target: str
) -> None:
    with pytest.raises(SeedError) as caught:
        restore(
            target,
            dumps.custom,
            {"customers.name": "fake:name", "customers.email": "null"},
            seed=1,
            bindir=dumps.bindir,
        )

    message = caught.value.render()
    assert "customers.email is NOT NULL" in message
    assert "hash" in message and "fake:" in message
    # Every key is checked before anything is written.
    assert _rows(target, "SELECT name FROM customers WHERE id = 3") == [("Real Person 3",)]


def test_an_unknown_column_is_named_with_the_tables_columns(dumps: Dumps, target: str) -> None:
    with pytest.raises(SeedError) as caught:
        restore(target, dumps.custom, {"customers.emial": "hash"}, seed=1, bindir=dumps.bindir)

    message = caught.value.render()
    assert "'customers.emial'" in message
    assert "id, email, name, phone, ssn, nickname, score, balance, token, city" in message


def test_an_unknown_table_is_named_with_the_databases_tables(dumps: Dumps, target: str) -> None:
    with pytest.raises(SeedError) as caught:
        restore(target, dumps.custom, {"clients.email": "hash"}, seed=1, bindir=dumps.bindir)

    message = caught.value.render()
    assert "'clients.email'" in message
    assert "customers, orders" in message


def test_one_end_of_a_foreign_key_alone_is_refused(dumps: Dumps, target: str) -> None:
    with pytest.raises(SeedError) as caught:
        restore(
            target, dumps.custom, {"customers.email": "fake:email"}, seed=1, bindir=dumps.bindir
        )

    message = caught.value.render()
    assert "orders.customer_email references customers.email" in message
    assert "orders.customer_email: fake:email" in message


def test_fake_on_a_number_column_is_refused(dumps: Dumps, target: str) -> None:
    with pytest.raises(SeedError, match="fake values are text; customers.score is integer"):
        restore(target, dumps.custom, {"customers.score": "fake:word"}, seed=1, bindir=dumps.bindir)


@pytest.mark.parametrize(
    ("transforms", "expected"),
    [
        ({"email": "hash"}, "transform key 'email' is not 'table.column'"),
        ({"customers.email": "fake:nickname"}, "unknown transform 'fake:nickname'"),
        ({"customers.email": "scramble"}, "unknown transform 'scramble'"),
    ],
)
def test_malformed_transforms_fail_before_anything_is_restored(
    dumps: Dumps, target: str, transforms: dict[str, str], expected: str
) -> None:
    with pytest.raises(SeedError, match=re.escape(expected)):
        restore(target, dumps.custom, transforms, seed=1, bindir=dumps.bindir)
    assert _rows(target, "SELECT count(*) FROM pg_tables WHERE tablename = 'customers'") == [(0,)]


def test_a_missing_dump_file_is_a_seed_error(dumps: Dumps, target: str, tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="cannot read dump"):
        restore(target, tmp_path / "nope.dump", {}, seed=1, bindir=dumps.bindir)


def test_missing_tools_are_a_seed_error_with_an_install_hint(
    dumps: Dumps, target: str, tmp_path: Path
) -> None:
    with pytest.raises(SeedError) as caught:
        restore(target, dumps.plain, {}, seed=1, bindir=tmp_path)

    assert "no psql in" in caught.value.render()
    assert caught.value.hint and "install" in caught.value.hint


def test_the_password_is_never_on_a_command_line_nor_in_a_message(
    dumps: Dumps, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = _password(target)
    argvs: list[list[str]] = []
    popen = subprocess.Popen

    def spy(argv: list[str], **kwargs: Any) -> Any:
        argvs.append(argv)
        return popen(argv, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", spy)
    restore(target, dumps.plain, {}, seed=1, bindir=dumps.bindir)
    assert argvs and not any(password in arg for argv in argvs for arg in argv)

    wrong = target.replace(password, "not-the-password")
    with pytest.raises(SeedError) as caught:
        restore(wrong, dumps.plain, {}, seed=1, bindir=dumps.bindir)
    assert "not-the-password" not in caught.value.render()
    assert password not in caught.value.render()
