"""What the live schema says about the tables to seed: columns, types, keys, indexes.

Read from ``pg_catalog`` after the schema file is applied, so column specs can be
checked against real types and the ones not given can be inferred (``infer.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.seed.pgtypes import PgType


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: PgType
    not_null: bool
    default: str | None  # pg_get_expr of the default, e.g. "nextval('t_id_seq'::regclass)"
    identity: bool
    generated: bool  # GENERATED ALWAYS AS (...) STORED: never written

    @property
    def sequence_default(self) -> bool:
        return self.identity or (self.default or "").startswith("nextval(")


@dataclass(frozen=True)
class Constraint:
    name: str
    kind: str  # p (primary key), u (unique), f (foreign key), c (check), x (exclusion)
    definition: str  # pg_get_constraintdef: what ALTER TABLE … ADD CONSTRAINT takes
    columns: tuple[str, ...]
    table: str
    ref_table: str | None = None
    ref_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Index:
    name: str  # schema-qualified and quoted, for DROP INDEX
    table: str
    definition: str  # pg_get_indexdef: a CREATE INDEX statement


@dataclass(frozen=True)
class TableInfo:
    name: str  # as the blueprint names it (unqualified, search_path)
    qualified: str  # "schema"."table", quoted, for SQL
    columns: dict[str, ColumnInfo]
    constraints: list[Constraint] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)

    def unique_columns(self) -> set[str]:
        return {c.columns[0] for c in self.constraints if c.kind in "pu" and len(c.columns) == 1}

    def primary_key(self) -> tuple[str, ...]:
        return next((c.columns for c in self.constraints if c.kind == "p"), ())

    def foreign_key(self, column: str) -> Constraint | None:
        return next((c for c in self.constraints if c.kind == "f" and c.columns == (column,)), None)


_TABLES = """
SELECT c.oid, n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass(%s)::oid AND c.relkind IN ('r', 'p')
"""

_COLUMNS = """
SELECT a.attname,
       bt.typname,
       format_type(a.atttypid, a.atttypmod),
       COALESCE(NULLIF(a.atttypmod, -1), NULLIF(t.typtypmod, -1), -1),
       a.attnotnull OR COALESCE(t.typnotnull, false),
       pg_get_expr(d.adbin, d.adrelid),
       a.attidentity <> '',
       a.attgenerated <> '',
       CASE WHEN bt.typtype = 'e' THEN
         ARRAY(SELECT enumlabel::text FROM pg_enum WHERE enumtypid = bt.oid ORDER BY enumsortorder)
       END
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_CONSTRAINTS = """
SELECT con.conname, con.contype, pg_get_constraintdef(con.oid),
       ARRAY(SELECT attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute ON attrelid = con.conrelid AND attnum = k.n ORDER BY k.i),
       con.conrelid::regclass::text,
       con.confrelid::regclass::text,
       ARRAY(SELECT attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute ON attrelid = con.confrelid AND attnum = k.n ORDER BY k.i)
FROM pg_constraint con
WHERE con.conrelid = %s OR con.confrelid = %s
"""

_INDEXES = """
SELECT quote_ident(n.nspname) || '.' || quote_ident(i.relname), pg_get_indexdef(i.oid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE x.indrelid = %s
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
"""


def _pg_type(name: str, display: str, typmod: int, labels: list[str] | None) -> PgType:
    max_length = scale = precision = None
    if name in ("varchar", "bpchar") and typmod > 4:
        max_length = typmod - 4
    if name == "numeric" and typmod > 4:
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    return PgType(name, display, max_length, scale, precision, tuple(labels or ()))


def tables(conn: Any, names: Iterable[str]) -> dict[str, TableInfo | None]:
    """Each named table's catalog entry, or None when no such table exists."""
    out: dict[str, TableInfo | None] = {}
    for name in names:
        row = conn.execute(_TABLES, (name,)).fetchone()
        if row is None:
            out[name] = None
            continue
        oid, schema, relname = row
        columns = {}
        for col in conn.execute(_COLUMNS, (oid,)).fetchall():
            attname, typname, display, typmod, not_null, default, identity, generated, labels = col
            columns[attname] = ColumnInfo(
                attname,
                _pg_type(typname, display, typmod, labels),
                bool(not_null),
                default,
                bool(identity),
                bool(generated),
            )
        constraints = [
            Constraint(cname, ctype, cdef, tuple(cols), table, ref, tuple(ref_cols or ()))
            for cname, ctype, cdef, cols, table, ref, ref_cols in conn.execute(
                _CONSTRAINTS, (oid, oid)
            ).fetchall()
        ]
        indexes = [Index(iname, relname, idef) for iname, idef in conn.execute(_INDEXES, (oid,))]
        out[name] = TableInfo(name, _quote(schema, relname), columns, constraints, indexes)
    return out


def _quote(*parts: str) -> str:
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)
