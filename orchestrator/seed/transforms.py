"""PII transforms on a restored sample: ``hash``, ``null`` and ``fake:<kind>`` per column.

A production sample is only safe to hand to a test environment once its personal data
is gone, and only useful if it still joins: so every output is a pure function of
(seed, input value). The same email becomes the same fake email in every table and
column, and a foreign key keeps pointing at its row. The work runs inside PostgreSQL —
one UPDATE per table, in one transaction, through SQL helper functions created in
``pg_temp`` so that nothing is left behind — because shipping every row to Python and
back would cost more than the restore itself.

The one caveat of consistency: an output cut to a column's ``varchar(n)`` differs from
the same input's output in a wider column.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from orchestrator.blueprint.data import FakeKind
from orchestrator.exceptions import first_line
from orchestrator.seed import wordlists
from orchestrator.seed.errors import SeedError

log = logging.getLogger(__name__)

UNLIMITED = 2**31 - 1  # "room" of a column without a length limit
_HINT = "transforms are 'table.column': hash | null | fake:<kind>"
_INTEGERS = {"int2": 2**15, "int4": 2**31, "int8": None}  # bound of hashed values


@dataclass(frozen=True)
class Column:
    """What the live schema says about a transformed column."""

    name: str
    type: str  # format_type(): 'character varying(40)', 'integer', …
    base: str  # base type name after domains: varchar, int4, numeric …
    category: str  # pg_type.typcategory: S string, N numeric, U user-defined …
    typmod: int
    not_null: bool
    generated: bool

    @property
    def room(self) -> int:
        """Characters a text column holds: varchar(n)/char(n), else unlimited."""
        if self.base in ("varchar", "bpchar") and self.typmod >= 4:
            return self.typmod - 4
        return UNLIMITED


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: dict[str, Column]

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)


def apply(
    conn: psycopg.Connection[Any],
    transforms: Mapping[str, str],
    seed: int,
    *,
    service: str,
) -> int:
    """Apply ``transforms`` ('table.column' → transform) in one transaction; the number
    of columns transformed. Every key is checked against the live schema first, so a
    typo changes nothing."""
    if not transforms:
        return 0
    plan = _plan(conn, transforms, service)
    started = time.perf_counter()
    with conn.transaction():
        _check_foreign_keys(conn, plan, service)
        for statement in _helpers():
            conn.execute(statement)
        _skip_triggers(conn)
        for table, columns in plan.values():
            _update(conn, table, columns, seed, service)
    log.info(
        "transformed %d columns in %d tables in %.2fs",
        len(transforms),
        len(plan),
        time.perf_counter() - started,
    )
    return len(transforms)


# -- planning -----------------------------------------------------------------------------


def _plan(
    conn: psycopg.Connection[Any], transforms: Mapping[str, str], service: str
) -> dict[str, tuple[Table, list[tuple[Column, str]]]]:
    check(transforms, service)
    plan: dict[str, tuple[Table, list[tuple[Column, str]]]] = {}
    for key, transform in transforms.items():
        table_name, _, column_name = key.partition(".")
        if table_name not in plan:
            plan[table_name] = (_table(conn, key, table_name, service), [])
        table, columns = plan[table_name]
        column = table.columns.get(column_name) or table.columns.get(column_name.lower())
        if column is None:
            raise SeedError(
                service,
                f"transform {key!r}: table {table.name!r} has no column {column_name!r}; "
                f"its columns: {', '.join(table.columns)}",
                hint="transform keys name columns of the restored dump",
            )
        columns.append((column, transform))
    for table, columns in plan.values():
        for column, transform in columns:
            _check_column(table, column, transform, service)
    return plan


def check(transforms: Mapping[str, str], service: str) -> None:
    """What can be checked without the database: keys are 'table.column', transforms
    known. Run before a restore, so that a typo does not wait for the whole load."""
    for key, transform in transforms.items():
        table_name, sep, column_name = key.partition(".")
        if not sep or not table_name or not column_name:
            raise SeedError(service, f"transform key {key!r} is not 'table.column'", hint=_HINT)
        _check_transform(key, transform, service)


def _check_transform(key: str, transform: str, service: str) -> None:
    if transform in ("hash", "null"):
        return
    kind = transform.removeprefix("fake:")
    if transform.startswith("fake:") and kind in FakeKind.__members__:
        return
    raise SeedError(
        service,
        f"transform {key!r}: unknown transform {transform!r}",
        hint=f"use hash, null or fake:<kind> with a kind of: {', '.join(FakeKind.__members__)}",
    )


def _table(conn: psycopg.Connection[Any], key: str, name: str, service: str) -> Table:
    # The search path first, then any user schema: a dump may keep its tables elsewhere.
    found = None
    for candidate in dict.fromkeys((name, name.lower())):
        found = conn.execute(
            """
            SELECT c.oid, n.nspname, c.relname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'
            ORDER BY array_position(current_schemas(false), n.nspname::text) NULLS LAST,
                     n.nspname
            LIMIT 1
            """,
            (candidate,),
        ).fetchone()
        if found:
            break
    if found is None:
        tables = [
            row[0]
            for row in conn.execute(
                """
                SELECT DISTINCT c.relname
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
                  AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
                ORDER BY 1
                """
            )
        ]
        raise SeedError(
            service,
            f"transform {key!r}: no table {name!r} in the restored database; "
            f"its tables: {', '.join(tables) or '(none)'}",
            hint="transform keys name tables of the restored dump",
        )
    oid, schema, relname = found
    rows = conn.execute(
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), b.typname, b.typcategory,
               CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
               a.attnotnull OR t.typnotnull, a.attgenerated <> ''
        FROM pg_attribute a
        JOIN pg_type t ON t.oid = a.atttypid
        JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
        WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (oid,),
    ).fetchall()
    columns = {row[0]: Column(*row) for row in rows}
    return Table(schema, relname, columns)


def _check_column(table: Table, column: Column, transform: str, service: str) -> None:
    key = f"{table.name}.{column.name}"
    if column.generated:
        raise SeedError(
            service,
            f"transform {key!r}: {column.name} is a generated column",
            hint="transform the columns it is computed from instead",
        )
    if transform == "null" and column.not_null:
        raise SeedError(
            service,
            f"transform {key!r}: {key} is NOT NULL, so it cannot be set to null",
            hint=f"use `{key}: hash` or `{key}: fake:<kind>` to replace its values instead",
        )
    if transform == "hash" and not _hashable(column):
        raise SeedError(
            service,
            f"transform {key!r}: hash keeps text, integer, numeric, float, uuid and bytea "
            f"columns valid; {key} is {column.type}",
            hint="use null for this column, or transform a column it is derived from",
        )
    if transform.startswith("fake:") and column.category != "S":
        raise SeedError(
            service,
            f"transform {key!r}: fake values are text; {key} is {column.type}",
            hint="use hash (keeps the type) or null for this column",
        )


def _hashable(column: Column) -> bool:
    return column.category == "S" or column.base in (
        *_INTEGERS,
        "numeric",
        "float4",
        "float8",
        "uuid",
        "bytea",
    )


def _check_foreign_keys(
    conn: psycopg.Connection[Any],
    plan: Mapping[str, tuple[Table, list[tuple[Column, str]]]],
    service: str,
) -> None:
    """Both ends of a foreign key need the same transform, or the references break
    (triggers are off during the update: see ``_skip_triggers``)."""
    chosen = {
        (table.schema, table.name, column.name): transform
        for table, columns in plan.values()
        for column, transform in columns
    }
    pairs = conn.execute(
        """
        SELECT cn.nspname, c.relname, ca.attname, pn.nspname, p.relname, pa.attname
        FROM pg_constraint k
        CROSS JOIN LATERAL unnest(k.conkey, k.confkey) AS u(child, parent)
        JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
        JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
        JOIN pg_attribute ca ON ca.attrelid = k.conrelid AND ca.attnum = u.child
        JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = u.parent
        WHERE k.contype = 'f' AND k.conparentid = 0
        """
    ).fetchall()
    for c_schema, c_table, c_col, p_schema, p_table, p_col in pairs:
        child = chosen.get((c_schema, c_table, c_col))
        parent = chosen.get((p_schema, p_table, p_col))
        if child == parent:
            continue
        raise SeedError(
            service,
            f"{c_table}.{c_col} references {p_table}.{p_col}, so both need the same "
            f"transform; got {c_table}.{c_col}: {child or '(none)'}, "
            f"{p_table}.{p_col}: {parent or '(none)'}",
            hint=f"add `{c_table}.{c_col}: {parent}`"
            if parent
            else f"add `{p_table}.{p_col}: {child}`",
        )


def _skip_triggers(conn: psycopg.Connection[Any]) -> None:
    # Both ends of a foreign key are rewritten to the same values, but one UPDATE at a
    # time: with triggers on, the first would violate the key (or cascade and then be
    # transformed twice). Replica mode turns off foreign-key and user triggers for this
    # transaction; it needs a superuser, and without one such keys fail with their error.
    try:
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        log.info("cannot set session_replication_role: foreign-key triggers stay on")


# -- the update ---------------------------------------------------------------------------


def _update(
    conn: psycopg.Connection[Any],
    table: Table,
    columns: list[tuple[Column, str]],
    seed: int,
    service: str,
) -> None:
    started = time.perf_counter()
    sets = [
        sql.SQL("{} = {}").format(sql.Identifier(col.name), _expression(col, transform, seed))
        for col, transform in columns
    ]
    # Every transform keeps NULL as NULL: rows with nothing to change stay unwritten.
    touched = [sql.SQL("{} IS NOT NULL").format(sql.Identifier(col.name)) for col, _ in columns]
    statement = sql.SQL("UPDATE {} SET {} WHERE {}").format(
        table.ident, sql.SQL(", ").join(sets), sql.SQL(" OR ").join(touched)
    )
    try:
        with conn.transaction():
            done = conn.execute(statement)
    except psycopg.Error as exc:
        first = first_line(exc)
        raise SeedError(
            service,
            f"transforming {table.name} ({', '.join(c.name for c, _ in columns)}) failed: {first}",
            hint="a unique or foreign key on a transformed column may need the same "
            "transform on its other end, or a wider column",
        ) from None
    log.debug(
        "%s: %d rows, %s in %.2fs",
        table.name,
        done.rowcount,
        ", ".join(f"{c.name}={t}" for c, t in columns),
        time.perf_counter() - started,
    )


def _expression(column: Column, transform: str, seed: int) -> sql.Composable:
    if transform == "null":
        return sql.NULL
    digest = sql.SQL("pg_temp.envctl_digest({}, {}::text)").format(
        sql.Literal(str(seed)), sql.Identifier(column.name)
    )
    room = sql.Literal(column.room)
    if transform == "hash":
        return _hash(column, digest, room)
    fake = sql.Identifier(f"envctl_fake_{transform.removeprefix('fake:')}")
    return sql.SQL("pg_temp.{}({}, {}::text, {})").format(
        fake, sql.Literal(str(seed)), sql.Identifier(column.name), room
    )


def _hash(column: Column, digest: sql.Composable, room: sql.Composable) -> sql.Composable:
    number = sql.SQL("pg_temp.envctl_u63({}, 0)").format(digest)
    if column.category == "S":
        return sql.SQL("left(encode({}, 'hex'), {})").format(digest, room)
    if column.base in _INTEGERS:
        bound = _INTEGERS[column.base]
        return number if bound is None else sql.SQL("({} % {})").format(number, sql.Literal(bound))
    if column.base == "numeric":
        if column.typmod < 4:
            return number
        # numeric(p, s) holds |x| < 10^(p - s): p digits, the last s after the point.
        precision = ((column.typmod - 4) >> 16) & 0xFFFF
        scale = (((column.typmod - 4) & 0x7FF) ^ 1024) - 1024  # negative scales: PG 15
        return sql.SQL("(mod({}::numeric, {}) * {})").format(
            number, sql.Literal(10**precision), sql.Literal(Decimal(1).scaleb(-scale))
        )
    if column.base in ("float4", "float8"):
        return sql.SQL("{}::float8").format(number)
    if column.base == "uuid":
        return sql.SQL("left(encode({}, 'hex'), 32)::uuid").format(digest)
    return digest  # bytea


# -- helper functions in pg_temp ------------------------------------------------------------

# The digest's bytes each part of a fake draws from: the parts of one value use different
# bytes, so an email's first name, last name, domain and hex suffix vary independently.
_BASE = [
    """CREATE FUNCTION pg_temp.envctl_digest(seed text, v text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT sha256(convert_to(seed || ':' || v, 'UTF8')) $$""",
    """CREATE FUNCTION pg_temp.envctl_u63(d bytea, pos int) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT ('x' || encode(substring(d FROM pos + 1 FOR 8), 'hex'))::bit(64)::bigint
                 & 9223372036854775807 $$""",
    """CREATE FUNCTION pg_temp.envctl_pick(words text[], d bytea, pos int) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT words[1 + ((get_byte(d, pos) << 8) | get_byte(d, pos + 1))
                         % cardinality(words)] $$""",
]
_FIRST = "pg_temp.envctl_pick({first}, d, 0)"
_LAST = "pg_temp.envctl_pick({last}, d, 2)"
_STREET = (
    "(1 + ((get_byte(d, 18) << 8) | get_byte(d, 19)) % 9999)::text || ' ' || "
    "pg_temp.envctl_pick({streets}, d, 20) || ' ' || pg_temp.envctl_pick({suffixes}, d, 22)"
)
_CITY = "pg_temp.envctl_pick({cities}, d, 24)"
_FAKES = {
    FakeKind.first_name: _FIRST,
    FakeKind.last_name: _LAST,
    FakeKind.name: f"{_FIRST} || ' ' || {_LAST}",
    FakeKind.phone: "'+1 ' || lpad((pg_temp.envctl_u63(d, 10) % 10000000000)::text, 10, '0')",
    FakeKind.street: _STREET,
    FakeKind.city: _CITY,
    FakeKind.country: "pg_temp.envctl_pick({countries}, d, 26)",
    FakeKind.address: f"{_STREET} || ', ' || {_CITY}",
    FakeKind.company: "pg_temp.envctl_pick({company}, d, 28) || ' ' || "
    "pg_temp.envctl_pick({company_suffixes}, d, 30)",
    FakeKind.word: "pg_temp.envctl_pick({lorem}, d, 0)",
}
# first.last.<8 hex>@domain: distinct inputs give distinct emails but for a chance
# collision (about one in 10^15 per pair). Too long for the column: <hex>@example.com.
_EMAIL = f"""
    e text := lower({_FIRST} || '.' || {_LAST}) || '.'
              || encode(substring(d FROM 7 FOR 4), 'hex') || '@'
              || pg_temp.envctl_pick({{domains}}, d, 4);
BEGIN
    IF length(e) <= room THEN RETURN e; END IF;
    IF room >= 20 THEN RETURN left(encode(d, 'hex'), room - 12) || '@example.com'; END IF;
    RETURN left(encode(d, 'hex'), room);
END"""
# Six to fourteen words, capitalised, with a full stop.
_WORDS = ", ".join(f"pg_temp.envctl_pick({{lorem}}, d, {2 * i})" for i in range(14))
_SENTENCE = f"""
    s text := array_to_string((ARRAY[{_WORDS}])[1:6 + get_byte(d, 31) % 9], ' ');
BEGIN
    RETURN left(upper(left(s, 1)) || substr(s, 2) || '.', room);
END"""


def _helpers() -> list[sql.Composed]:
    """The functions the UPDATEs call. Each fake is one PL/pgSQL function that hashes its
    input once: nested SQL functions, which PostgreSQL cannot inline, cost tens of
    times more per row."""
    lists = {
        "first": wordlists.FIRST_NAMES,
        "last": wordlists.LAST_NAMES,
        "domains": wordlists.EMAIL_DOMAINS,
        "streets": wordlists.STREETS,
        "suffixes": wordlists.STREET_SUFFIXES,
        "cities": wordlists.CITIES,
        "countries": wordlists.COUNTRIES,
        "company": wordlists.COMPANY_WORDS,
        "company_suffixes": wordlists.COMPANY_SUFFIXES,
        "lorem": wordlists.LOREM,
    }
    arrays = {name: _array(words) for name, words in lists.items()}
    bodies = {kind: f"BEGIN RETURN left({expr}, room); END" for kind, expr in _FAKES.items()}
    bodies.update({FakeKind.email: _EMAIL, FakeKind.sentence: _SENTENCE})
    fakes = [
        "CREATE FUNCTION pg_temp.envctl_fake_" + kind.value + "(seed text, v text, room int) "
        "RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$\n"
        "DECLARE d bytea := pg_temp.envctl_digest(seed, v);" + body + "\n$$"
        for kind, body in bodies.items()
    ]
    return [sql.SQL(text).format(**arrays) for text in [*_BASE, *fakes]]


def _array(words: list[str]) -> sql.Composable:
    # Inside a $$-quoted body: ARRAY['a', 'b'], each word quoted as a SQL literal.
    return sql.SQL("ARRAY[{}]::text[]").format(sql.SQL(", ").join(map(sql.Literal, words)))
