"""Generated tables in a real PostgreSQL: volumes, keys, shapes, determinism, errors."""

from __future__ import annotations

import hashlib
import secrets
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from orchestrator.blueprint.loader import load
from orchestrator.exceptions import BlueprintError
from orchestrator.seed import distributions, postgres, volumes
from orchestrator.seed.errors import SeedError
from orchestrator.seed.run import SeedRequest, seed_entry
from orchestrator.seed.stats import SeedStats

pytestmark = pytest.mark.local

SCHEMA = """\
CREATE TABLE customers (
    id bigserial PRIMARY KEY,
    email varchar(80) NOT NULL UNIQUE,
    name text NOT NULL,
    vip boolean NOT NULL,
    note text,
    created_at timestamptz NOT NULL
);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    total numeric(10, 2) NOT NULL CHECK (total > 0),
    status text NOT NULL,
    placed_at date NOT NULL
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE TABLE items (
    id bigserial PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES orders (id),
    sku char(8) NOT NULL,
    quantity smallint NOT NULL
);
"""

DATA = """\
data:
  - service: db
    schema: schema.sql
    seed: {seed}
    tables:
      customers:
        rows: 20000
        columns:
          vip: {{bool: 0.1}}
          note: {{text: [5, 60], null_fraction: 0.3}}
      orders:
        rows: 60000
        columns:
          customer_id: {{ref: customers.id, distribution: zipf}}
          total: {{float: [1, 5000], distribution: lognormal, mean: 4, sd: 1, decimals: 2}}
          status: {{choice: {{paid: 8, refunded: 2}}}}
      items:
        rows: 90000
        columns:
          order_id: {{ref: orders.id}}
          quantity: {{int: [1, 5]}}
"""


def blueprint(tmp_path: Path, data: str, schema: str = SCHEMA) -> Path:
    (tmp_path / "schema.sql").write_text(schema)
    head = textwrap.dedent("""\
        apiVersion: envctl/v1
        kind: Blueprint
        metadata: {name: seeded}
        services:
          db: {image: "postgres:15", engine: postgres}
        """)
    path = tmp_path / "blueprint.yaml"
    path.write_text(head + data)
    return path


@pytest.fixture
def database(pg_url: str) -> Iterator[str]:
    """A database of its own on the shared server, dropped afterwards."""
    name = f"seed_{secrets.token_hex(4)}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(pg_url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def seed(path: Path, url: str, batch_rows: int | None = None, workers: int = 2) -> SeedStats:
    loaded = load(path)
    request = SeedRequest(
        loaded, 0, url, volumes.rows(loaded, 0), lambda _: None, batch_rows, workers
    )
    return seed_entry(request)


def reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def fingerprint(url: str) -> dict[str, str]:
    """A digest of every row of every seeded table, in key order."""
    out = {}
    for table in ("customers", "orders", "items"):
        rows = query(url, f"SELECT * FROM {table} ORDER BY id")
        out[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


def test_volumes_keys_and_shapes(tmp_path: Path, database: str) -> None:
    stats = seed(blueprint(tmp_path, DATA.format(seed=7)), database)

    assert {t.name: t.rows for t in stats.targets} == {
        "customers": 20000,
        "orders": 60000,
        "items": 90000,
    }
    assert all(t.bytes > 0 for t in stats.targets)
    assert query(database, "SELECT count(*) FROM customers") == [(20000,)]
    assert query(database, "SELECT count(*) FROM orders") == [(60000,)]
    assert query(database, "SELECT count(*) FROM items") == [(90000,)]
    # Keys, indexes and foreign keys are back, and hold.
    constraints = query(
        database,
        "SELECT conrelid::regclass::text, contype FROM pg_constraint "
        "WHERE contype IN ('p', 'u', 'f') ORDER BY 1, 2",
    )
    assert ("orders", "f") in constraints and ("items", "f") in constraints
    assert ("customers", "u") in constraints
    assert query(database, "SELECT indexname FROM pg_indexes WHERE tablename = 'orders'") == [
        ("orders_pkey",),
        ("orders_customer_idx",),
    ] or sorted(query(database, "SELECT indexname FROM pg_indexes WHERE tablename = 'orders'")) == [
        ("orders_customer_idx",),
        ("orders_pkey",),
    ]
    orphans = query(
        database,
        "SELECT count(*) FROM items i LEFT JOIN orders o ON o.id = i.order_id WHERE o.id IS NULL",
    )
    assert orphans == [(0,)]
    # Shapes within tolerance.
    ((nulls,),) = query(database, "SELECT avg((note IS NULL)::int)::float FROM customers")
    assert nulls == pytest.approx(0.3, abs=0.015)
    ((vip,),) = query(database, "SELECT avg(vip::int)::float FROM customers")
    assert vip == pytest.approx(0.1, abs=0.01)
    ((paid,),) = query(database, "SELECT avg((status = 'paid')::int)::float FROM orders")
    assert paid == pytest.approx(0.8, abs=0.01)
    # zipf: the top 1% of customers hold the share the distribution predicts.
    ((top,),) = query(
        database,
        "SELECT sum(n) FILTER (WHERE r <= 200)::float / sum(n) FROM (SELECT count(*) AS n, "
        "row_number() OVER (ORDER BY count(*) DESC) AS r FROM orders GROUP BY customer_id) x",
    )
    assert top == pytest.approx(distributions.zipf_share(20000, 1.0, 200), abs=0.03)
    # Inferred columns: unique emails that look like emails, names with a space.
    ((distinct, at),) = query(
        database, "SELECT count(DISTINCT email), avg((email LIKE '%@%.%')::int) FROM customers"
    )
    assert (distinct, at) == (20000, 1)
    # The planner knows the volumes: ANALYZE ran.
    assert query(database, "SELECT reltuples::bigint FROM pg_class WHERE relname = 'orders'") == [
        (60000,)
    ]
    # Sequences moved past the seeded ids: the next insert does not collide.
    assert query(
        database,
        "INSERT INTO customers (email, name, vip, created_at) "
        "VALUES ('new@example.com', 'n', false, now()) RETURNING id",
    ) == [(20001,)]


def test_same_seed_same_rows_whatever_the_batches(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second load splits every table over two connections, in parts of its own.
    path = blueprint(tmp_path, DATA.format(seed=11))
    prints = []
    for batch_rows, workers in ((997, 1), (50000, 2)):
        monkeypatch.setattr(postgres, "SPLIT_ROWS", 10_000 if workers > 1 else 10**9)
        name = f"seed_{secrets.token_hex(4)}"
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = urlunsplit(urlsplit(pg_url)._replace(path=f"/{name}"))
        try:
            seed(path, url, batch_rows=batch_rows, workers=workers)
            prints.append(fingerprint(url))
        finally:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
    assert prints[0] == prints[1]


def test_another_seed_other_rows_and_one_more_column_changes_no_other(
    tmp_path: Path, database: str
) -> None:
    seed(blueprint(tmp_path, DATA.format(seed=11)), database)
    before = query(database, "SELECT id, email, total FROM customers JOIN orders USING (id)")
    reset(database)
    seed(blueprint(tmp_path, DATA.format(seed=12)), database)
    other = query(database, "SELECT id, email, total FROM customers JOIN orders USING (id)")
    assert before != other
    # Describing one more column (vip's share) leaves every other column as it was.
    reset(database)
    seed(blueprint(tmp_path, DATA.format(seed=11).replace("bool: 0.1", "bool: 0.5")), database)
    again = query(database, "SELECT id, email, total FROM customers JOIN orders USING (id)")
    assert again == before


def test_a_ref_to_a_table_that_is_not_seeded_uses_its_rows(tmp_path: Path, database: str) -> None:
    schema = SCHEMA + "INSERT INTO customers (email, name, vip, created_at) SELECT 'c' || g || "
    schema += "'@example.com', 'c', false, now() FROM generate_series(1, 50) g;\n"
    data = textwrap.dedent("""\
        data:
          - service: db
            schema: schema.sql
            tables:
              orders: {rows: 1000, columns: {status: {value: paid}}}
        """)
    seed(blueprint(tmp_path, data, schema), database)
    assert query(database, "SELECT count(DISTINCT customer_id) <= 50, count(*) FROM orders") == [
        (True, 1000)
    ]


@pytest.mark.parametrize(
    ("data", "line", "text"),
    [
        ("tables: {orders: {rows: -1}}", 8, "greater than or equal to 0"),
        ("tables: {orders: {rows: 5, columns: {total: {int: [9, 1]}}}}", 8, "greater than max"),
        (
            "tables: {orders: {rows: 5, columns: {x: {int: [1, 2], distribution: normal}}}}",
            8,
            "needs sd",
        ),
        ("tables: {orders: {rows: 5, columns: {c: {ref: nowhere.id}}}}", 8, "does not seed"),
        ("tables: {orders: {rows: 5, columns: {c: {int: [1, 2], bool: 0.5}}}}", 8, "exactly one"),
        ("tables: {orders: {}}", 8, "needs `rows`"),
    ],
)
def test_bad_data_specs_are_refused_at_their_line(
    tmp_path: Path, data: str, line: int, text: str
) -> None:
    path = blueprint(tmp_path, f"data:\n  - service: db\n    {data}\n")
    with pytest.raises(BlueprintError) as info:
        load(path)
    assert info.value.location.line == line
    assert text in info.value.message
    assert str(path) in info.value.render()


def test_live_schema_problems_name_the_spec_line(tmp_path: Path, database: str) -> None:
    data = "data:\n  - service: db\n    schema: schema.sql\n    tables:\n"
    data += "      orders:\n        rows: 10\n        columns: {nope: {int: [1, 2]}}\n"
    with pytest.raises(SeedError) as info:
        seed(blueprint(tmp_path, data), database)
    assert "has no column 'nope'" in info.value.message
    assert info.value.location is not None and info.value.location.line == 12
    assert "customer_id" in (info.value.hint or "")


def test_a_schema_that_fails_names_its_line(tmp_path: Path, database: str) -> None:
    bad = SCHEMA + "CREATE TABLE broken (id int,\n  oops integer integer);\n"
    data = "data:\n  - service: db\n    schema: schema.sql\n"
    with pytest.raises(SeedError) as info:
        seed(blueprint(tmp_path, data, bad), database)
    assert f"schema.sql:{SCHEMA.count(chr(10)) + 2}" in info.value.message
    assert "syntax error" in info.value.message


def test_values_that_break_a_constraint_say_how_to_fix_it(tmp_path: Path, database: str) -> None:
    data = DATA.format(seed=1).replace(
        "quantity: {int: [1, 5]}", "quantity: {int: [1, 5]}\n          id: {int: [1, 3]}"
    )
    with pytest.raises(SeedError) as info:
        seed(blueprint(tmp_path, data), database)
    assert "items" in info.value.message
    assert "unique" in (info.value.hint or "")
