"""Capturing a production profile from a real PostgreSQL and Redis: the profile says what
the data is like (and nothing of the data beyond pg_stats), reads back as written, and
the CLI takes URLs from variables. Each test has its own database (audit_<random>) and
its own key prefix in Redis db 5, both removed afterwards."""

from __future__ import annotations

import contextlib
import json
import logging
import random
import secrets
import socket
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from psycopg import sql

from orchestrator import profile
from orchestrator.audit import capture as captures
from orchestrator.audit.capture import (
    CaptureSources,
    capture,
    capture_postgres,
    capture_redis,
    dump,
)
from orchestrator.exceptions import RuntimeUnavailable, UsageError
from orchestrator.profile import ProductionProfile
from tests.conftest import Cli

pytestmark = pytest.mark.local

TIERS = {"gold": 0.40, "silver": 0.25, "bronze": 0.15, "iron": 0.12, "wood": 0.08}
PEOPLE = """
CREATE EXTENSION citext;
CREATE EXTENSION pg_trgm;
CREATE TABLE people (
    id int PRIMARY KEY,
    nickname text,                     -- 30% NULL
    tier text NOT NULL,                -- TIERS, in those proportions
    api_token text NOT NULL UNIQUE     -- a secret per row
);
INSERT INTO people
SELECT i,
       CASE WHEN i % 10 < 3 THEN NULL ELSE 'nick' || (i % 997) END,
       CASE WHEN i % 100 < 40 THEN 'gold' WHEN i % 100 < 65 THEN 'silver'
            WHEN i % 100 < 80 THEN 'bronze' WHEN i % 100 < 92 THEN 'iron' ELSE 'wood' END,
       'sk_live_' || md5('pepper' || i)
FROM generate_series(1, 20000) AS i;
ANALYZE people;
"""


def with_path(url: str, path: str) -> str:
    return urlsplit(url)._replace(path=path).geturl()


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username or ''}:{password}@{parts.hostname}:{parts.port}"
    return parts._replace(netloc=netloc).geturl()


@pytest.fixture
def db_url(pg_url: str) -> Iterator[str]:
    name = f"audit_{secrets.token_hex(6)}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_path(pg_url, f"/{name}")
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def run_sql(url: str, script: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(script)


def query(url: str, text: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(text, params or None).fetchall()


@pytest.fixture
def people_url(db_url: str) -> str:
    run_sql(db_url, PEOPLE)
    return db_url


@pytest.fixture
def cache_url(redis_url: str) -> str:
    return with_path(redis_url, "/5")


@pytest.fixture
def cache(cache_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(cache_url)
    yield client
    client.close()


@pytest.fixture
def prefix(cache: redis.Redis) -> Iterator[str]:
    """Letters only: digits in the prefix would become {id} in the patterns."""
    tag = "cap" + "".join(random.choices(string.ascii_lowercase, k=10)) + ":"
    yield tag
    keys = list(cache.scan_iter(match=f"{tag}*", count=10_000))
    for at in range(0, len(keys), 10_000):
        cache.delete(*keys[at : at + 10_000])


def fill(cache: redis.Redis, keys: list[str]) -> None:
    pipe = cache.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, "x")
    pipe.execute()


# --- PostgreSQL -------------------------------------------------------------------------


def test_a_captured_postgres_profile_matches_the_data_in_it(people_url: str) -> None:
    captured = capture_postgres(people_url)

    [(server_version,)] = query(people_url, "SHOW server_version")
    assert captured.version == server_version.split()[0]
    assert captured.extensions == ["citext", "pg_trgm"]
    people = captured.tables["people"]
    assert people.rows == pytest.approx(20_000, rel=0.02)
    [(size,)] = query(people_url, "SELECT pg_total_relation_size('people')")
    assert people.bytes == size
    assert set(people.columns) == {"id", "nickname", "tier", "api_token"}

    nickname = people.columns["nickname"]
    assert nickname.null_frac == pytest.approx(0.30, abs=0.03)
    tier = people.columns["tier"]
    assert tier.null_frac == 0
    assert tier.n_distinct == 5
    assert tier.most_common_vals is not None and tier.most_common_freqs is not None
    frequencies = dict(zip(tier.most_common_vals, tier.most_common_freqs, strict=True))
    assert frequencies == pytest.approx(TIERS, abs=0.03)
    assert people.columns["id"].n_distinct == -1  # unique: a share of the rows, all of them
    assert people.columns["tier"].avg_width and people.columns["tier"].avg_width > 0


def test_no_row_data_reaches_the_profile_beyond_what_pg_stats_holds(people_url: str) -> None:
    captured = capture_postgres(people_url)
    token = captured.tables["people"].columns["api_token"]
    assert token.n_distinct == -1
    assert token.most_common_vals is None  # a unique column has no common values

    # Every value in the profile is pg_stats' own, verbatim …
    for column, stats in captured.tables["people"].columns.items():
        [(mcv, bounds)] = query(
            people_url,
            "SELECT most_common_vals::text::text[], histogram_bounds::text::text[] "
            "FROM pg_stats WHERE tablename = 'people' AND attname = %s",
            column,
        )
        assert stats.most_common_vals == mcv
        assert stats.histogram_bounds == bounds
    # … so the tokens it holds are the histogram's bounds, a hundred of 20,000.
    text = dump(ProductionProfile.model_validate(document({"db": captured})))
    tokens = {t for (t,) in query(people_url, "SELECT api_token FROM people")}
    leaked = {t for t in tokens if t in text}
    assert leaked <= set(token.histogram_bounds or [])
    assert 0 < len(leaked) <= 101


def test_a_table_never_analyzed_is_counted_and_analyze_fills_its_statistics(
    db_url: str,
) -> None:
    run_sql(
        db_url,
        "CREATE TABLE fresh (id int, code text) WITH (autovacuum_enabled = false);"
        "INSERT INTO fresh SELECT i, 'c' || (i % 3) FROM generate_series(1, 500) AS i;",
    )
    [(reltuples,)] = query(db_url, "SELECT reltuples FROM pg_class WHERE relname = 'fresh'")
    assert reltuples < 0  # PostgreSQL's "never analyzed"

    read_only = capture_postgres(db_url).tables["fresh"]
    assert read_only.rows == 500
    assert read_only.columns == {}  # nothing in pg_stats, and a capture never writes it

    analyzed = capture_postgres(db_url, analyze=True).tables["fresh"]
    assert analyzed.rows == 500
    assert analyzed.columns["code"].n_distinct == 3


def test_a_big_table_never_analyzed_is_recorded_as_zero_with_a_warning(
    db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    run_sql(
        db_url,
        "CREATE TABLE huge (id int) WITH (autovacuum_enabled = false);"
        "INSERT INTO huge SELECT generate_series(1, 1000);",
    )
    monkeypatch.setattr(captures, "EXACT_COUNT_MAX_PAGES", 1)  # as if it were 800 MB
    with caplog.at_level(logging.WARNING, logger="orchestrator.audit.capture"):
        captured = capture_postgres(db_url)
    assert captured.tables["huge"].rows == 0
    assert "public.huge was never analyzed and is too big to count" in caplog.text


def test_partitioned_tables_and_other_schemas(db_url: str) -> None:
    run_sql(
        db_url,
        """
        CREATE TABLE events (id int, kind text) PARTITION BY RANGE (id);
        CREATE TABLE events_a PARTITION OF events FOR VALUES FROM (0) TO (1000);
        CREATE TABLE events_b PARTITION OF events FOR VALUES FROM (1000) TO (5000);
        INSERT INTO events SELECT i, CASE WHEN i % 4 = 0 THEN 'open' ELSE 'close' END
        FROM generate_series(0, 4999) AS i;
        ANALYZE events;
        CREATE SCHEMA billing;
        CREATE TABLE billing.invoices (id int);
        INSERT INTO billing.invoices SELECT generate_series(1, 300);
        ANALYZE billing.invoices;
        """,
    )
    public = capture_postgres(db_url)
    assert set(public.tables) == {"events"}  # partitions count in their parent, not apart
    events = public.tables["events"]
    assert events.rows == 5000
    [(size,)] = query(
        db_url,
        "SELECT pg_total_relation_size('events_a') + pg_total_relation_size('events_b')",
    )
    assert events.bytes == size
    kind = events.columns["kind"]
    assert dict(zip(kind.most_common_vals or [], kind.most_common_freqs or [], strict=True)) == (
        pytest.approx({"close": 0.75, "open": 0.25}, abs=0.01)
    )

    both = capture_postgres(db_url, schemas=("public", "billing"))
    assert set(both.tables) == {"events", "billing.invoices"}
    assert both.tables["billing.invoices"].rows == 300


def test_a_read_only_database_can_be_captured(people_url: str) -> None:
    """As production replicas are: the capture writes nothing."""
    name = urlsplit(people_url).path.lstrip("/")
    run_sql(people_url, f"ALTER DATABASE {name} SET default_transaction_read_only = on")
    captured = capture_postgres(people_url)
    assert captured.tables["people"].rows == pytest.approx(20_000, rel=0.02)


def test_a_wrong_password_is_one_message_without_the_password(db_url: str) -> None:
    wrong = "Not-The-Password-42"
    with pytest.raises(RuntimeUnavailable) as caught:
        capture_postgres(with_password(db_url, wrong))
    error = caught.value
    rendered = error.render()
    assert wrong not in rendered and wrong not in str(error.as_dict())
    assert "password authentication failed" in error.message
    assert "\n" not in error.message
    assert error.hint == "check the user and password the URL carries"
    assert ":***@" in error.message  # the URL is named, masked


def test_a_server_that_does_not_answer_says_where(db_url: str) -> None:
    with socket_closed_port() as port:
        url = urlsplit(db_url)._replace(netloc=f"app:secret-pw@127.0.0.1:{port}").geturl()
        with pytest.raises(RuntimeUnavailable) as caught:
            capture_postgres(url)
    assert f"127.0.0.1:{port}" in caught.value.message
    assert "secret-pw" not in caught.value.render()
    assert "reachable" in (caught.value.hint or "")


def test_a_string_that_is_no_postgres_url_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        capture_postgres("nonsense password=hunter22")
    assert "hunter22" not in caught.value.render()


# --- Redis ----------------------------------------------------------------------------


def test_redis_key_counts_per_pattern_are_exact_when_the_database_is_small(
    cache: redis.Redis, cache_url: str, prefix: str
) -> None:
    fill(cache, [f"{prefix}session:{i}" for i in range(30)])
    fill(cache, [f"{prefix}cart:{i}:item:{j}" for i in range(4) for j in range(3)])
    fill(cache, [f"{prefix}config"])

    captured = capture_redis(cache_url)
    mine = {p: n for p, n in captured.keyspaces.items() if p.startswith(prefix)}
    assert mine == {
        f"{prefix}cart:{{id}}:item:{{id}}": 12,
        f"{prefix}config": 1,
        f"{prefix}session:{{id}}": 30,
    }
    assert captured.version == cache.info("server")["redis_version"]


def test_redis_key_counts_are_a_sample_scaled_to_dbsize_beyond_the_sample(
    cache: redis.Redis, cache_url: str, prefix: str
) -> None:
    fill(cache, [f"{prefix}session:{i}" for i in range(3000)])
    fill(cache, [f"{prefix}cart:{i}" for i in range(1000)])
    total = int(cache.dbsize())

    captured = capture_redis(cache_url, sample=500)
    assert sum(captured.keyspaces.values()) == total  # scaled shares still add up
    # 500 of 4000 keys: a share's standard error is ~2%, so 15% is > 5 of them
    assert captured.keyspaces[f"{prefix}session:{{id}}"] == pytest.approx(3000, rel=0.15)
    assert captured.keyspaces[f"{prefix}cart:{{id}}"] == pytest.approx(1000, rel=0.15)

    exact = capture_redis(cache_url, sample=total)
    assert exact.keyspaces[f"{prefix}session:{{id}}"] == 3000


def test_redis_with_a_wrong_or_missing_password(cache_url: str) -> None:
    wrong = "Not-The-Password-42"
    with pytest.raises(RuntimeUnavailable) as caught:
        capture_redis(with_password(cache_url, wrong))
    assert wrong not in caught.value.render()
    assert "refused the credentials" in caught.value.message
    assert ":***@" in caught.value.message

    parts = urlsplit(cache_url)
    bare = parts._replace(netloc=f"{parts.hostname}:{parts.port}").geturl()
    with pytest.raises(RuntimeUnavailable) as caught:
        capture_redis(bare)
    assert "asks for a password and the URL has none" in caught.value.message


def test_redis_that_does_not_answer_and_urls_that_are_not_redis() -> None:
    with socket_closed_port() as port, pytest.raises(RuntimeUnavailable) as caught:
        capture_redis(f"redis://:pw-secret@127.0.0.1:{port}/0")
    assert "cannot connect to Redis at redis://:***@127.0.0.1" in caught.value.message
    assert "pw-secret" not in caught.value.render()
    with pytest.raises(UsageError):
        capture_redis("http://:pw-secret@example.com/")


# --- Whole profiles, dump and the CLI ---------------------------------------------------


def document(services: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "envctl/v1",
        "kind": "ProductionProfile",
        "metadata": {"name": "checkout-production"},
        "services": services,
        **extra,
    }


def test_a_whole_capture_dumps_to_yaml_that_loads_back_equal(
    people_url: str,
    cache: redis.Redis,
    cache_url: str,
    prefix: str,
    tmp_path: Path,
) -> None:
    fill(cache, [f"{prefix}session:{i}" for i in range(25)])
    samples = tmp_path / "latency.txt"
    samples.write_text("\n".join(f"{ms}ms" for ms in range(100, 200)) + "\n")
    sources = CaptureSources(
        name="checkout-production",
        postgres={"db": people_url},
        redis={"cache": cache_url},
        edges=[("orders", "db", samples)],
        images={"db": "postgres:15@sha256:" + "ab" * 32, "orders": "ghcr.io/acme/orders:1.4"},
    )
    captured = capture(sources)

    assert captured.metadata.name == "checkout-production"
    assert captured.metadata.captured_at and captured.metadata.captured_at.endswith("Z")
    source = captured.metadata.source or ""
    for url in (people_url, cache_url):
        password = urlsplit(url).password or ""
        assert password and password not in source
    assert "postgres db=postgresql://app:***@" in source and "latency orders->db=" in source
    assert captured.services["db"].image == "postgres:15"
    assert captured.services["db"].digest == "sha256:" + "ab" * 32
    assert captured.services["orders"].image == "ghcr.io/acme/orders:1.4"
    assert captured.services["cache"].keyspaces[f"{prefix}session:{{id}}"] == 25
    [edge] = captured.edges
    assert (edge.from_, edge.to) == ("orders", "db")
    assert edge.latency.p50 == pytest.approx(0.1495)

    text = dump(captured)
    path = tmp_path / "production.yaml"
    path.write_text(text)
    loaded, _ = profile.load(path)
    assert loaded == captured
    assert dump(loaded) == text  # stable: a re-dump is the same text


def test_dump_round_trips_values_yaml_would_otherwise_retype(tmp_path: Path) -> None:
    tricky = ["null", "123", "yes", "a: b", "#x", "", "line\nbreak", "ünïcode", " pad ", "1e3"]
    written = ProductionProfile.model_validate(
        document(
            {
                "db": {
                    "version": "15.4",
                    "resources": {"cpu": "500m", "memory": "1Gi"},
                    "tables": {"t": {"rows": 3, "columns": {"c": {"most_common_vals": tricky}}}},
                },
                "api": {"image": "api:1", "replicas": 3},
            },
            edges=[{"from": "api", "to": "db", "latency": {"p50": "120ms"}, "error_rate": 0.01}],
        )
    )
    path = tmp_path / "p.yaml"
    path.write_text(dump(written))
    loaded, _ = profile.load(path)
    assert loaded == written
    assert yaml_keys(path.read_text()) == ["apiVersion", "kind", "metadata", "services", "edges"]
    assert list(loaded.services) == ["api", "db"]  # maps by name, whatever the input order


def yaml_keys(text: str) -> list[str]:
    return [line.split(":", 1)[0] for line in text.splitlines() if line and line[0].isalpha()]


def test_the_cli_captures_a_profile_from_urls_in_variables(
    people_url: str, cache: redis.Redis, cache_url: str, prefix: str, tmp_path: Path
) -> None:
    fill(cache, [f"{prefix}order:{i}" for i in range(7)])
    samples = tmp_path / "orders-db.json"
    samples.write_text("[12, 15, 20, 80]")
    out = tmp_path / "production.yaml"
    cli = Cli(tmp_path / "state")
    env = {"PROD_DB_URL": people_url, "PROD_CACHE_URL": cache_url}
    args = ["--postgres", "db=env:PROD_DB_URL", "--redis", "cache=env:PROD_CACHE_URL"]
    args += ["--edge", f"orders:db={samples}", "--image", "db=postgres:15"]

    done = cli("profile", "capture", "--name", "prod", *args, "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "wrote" in done.stderr and "captured 2 services" in done.stderr
    loaded, _ = profile.load(out)
    assert loaded.services["db"].tables["people"].rows == pytest.approx(20_000, rel=0.02)
    assert loaded.services["db"].image == "postgres:15"
    assert loaded.services["cache"].keyspaces[f"{prefix}order:{{id}}"] == 7
    assert loaded.edges[0].latency.p99 is not None
    passwords = [urlsplit(u).password or "" for u in (people_url, cache_url)]
    for shown in (done.stdout, done.stderr, out.read_text()):
        assert not any(p in shown for p in passwords)

    as_json = cli("profile", "capture", "--name", "prod", *args, "-o", "json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["kind"] == "ProductionProfile"
    assert data["services"]["db"]["tables"]["people"]["columns"]["tier"]["n_distinct"] == 5
    assert data["edges"][0]["from"] == "orders"


def test_the_cli_reports_errors_in_one_message(db_url: str, tmp_path: Path) -> None:
    cli = Cli(tmp_path / "state")
    wrong = "Not-The-Password-42"
    env = {"PROD_DB_URL": with_password(db_url, wrong)}

    done = cli("profile", "capture", "--name", "p", "--postgres", "db=env:PROD_DB_URL", env=env)
    assert done.returncode == 3
    assert wrong not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("envctl: error: cannot connect to PostgreSQL at ")
    assert "hint: check the user and password" in done.stderr

    unset = cli("profile", "capture", "--name", "p", "--postgres", "db=env:NOT_SET_ANYWHERE")
    assert unset.returncode == 2
    assert "$NOT_SET_ANYWHERE is not set" in unset.stderr

    as_json = cli("profile", "capture", "--name", "p", "-o", "json")
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["error"]["message"] == "nothing to capture"

    bad_edge = cli("profile", "capture", "--name", "p", "--edge", "orders=x.txt")
    assert bad_edge.returncode == 2 and "FROM:TO=SAMPLES_FILE" in bad_edge.stderr


@contextlib.contextmanager
def socket_closed_port() -> Iterator[int]:
    """A local port nothing listens on (bound, never listening) while the block runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
