"""From a data entry's ``tables`` and the live schema to generators for every column.

``plan`` checks each table and column against the catalog (errors at the spec's line),
fills in the columns the spec leaves out (``infer``), and resolves references between
tables — to generators of tables seeded here, or to the key values already in a table
that is not (a lookup table the schema file filled).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrator.blueprint.data import ColumnSpec, DataSeed
from orchestrator.exceptions import Location
from orchestrator.seed import generators, infer, introspect
from orchestrator.seed.errors import SeedError
from orchestrator.seed.generators import Generator, SpecError, Values
from orchestrator.seed.introspect import TableInfo
from orchestrator.seed.pgtypes import SUPPORTED, PgType
from orchestrator.seed.ragged import Ragged

EXISTING_LIMIT = 5_000_000  # parent keys read from a table not seeded here, at most

Locate = Callable[[tuple[str | int, ...]], Location]


@dataclass(frozen=True)
class PlannedColumn:
    name: str
    generator: Generator
    type: PgType
    sequence_backed: bool  # a serial/identity column: its sequence is moved past max()


@dataclass(frozen=True)
class TablePlan:
    name: str
    info: TableInfo
    rows: int
    columns: list[PlannedColumn]
    location: Location


def plan(
    conn: Any,
    entry: DataSeed,
    rows: Mapping[str, int],
    service: str,
    locate: Locate,
    base: tuple[str | int, ...],
) -> list[TablePlan]:
    """``rows``: each table's resolved row count; ``base``: the entry's key path."""
    infos = introspect.tables(conn, entry.tables)
    for name, info in infos.items():
        if info is None:
            raise SeedError(
                service,
                f"table {name!r} does not exist",
                location=locate((*base, "tables", name)),
                hint="create it in the schema file (or the restored dump) first",
            )
    catalog = _Catalog(conn, entry, {n: i for n, i in infos.items() if i}, rows, service)
    plans = []
    for name, spec in entry.tables.items():
        info = infos[name]
        assert info is not None
        where = (*base, "tables", name)
        for column in spec.columns:
            if column not in info.columns:
                raise SeedError(
                    service,
                    f"table {name!r} has no column {column!r}",
                    location=locate((*where, "columns", column)),
                    hint=f"its columns: {', '.join(info.columns)}",
                )
        columns = []
        for column, col_info in info.columns.items():
            given = spec.columns.get(column)
            if given is None and not spec.infer:
                continue
            path = (*where, "columns", column) if given else where
            try:
                gen = catalog.generator(name, column)
            except SpecError as exc:
                raise SeedError(service, f"{name}.{column}: {exc}", location=locate(path)) from None
            if gen is None:
                continue
            if col_info.type.name not in SUPPORTED and not col_info.type.enum_labels:
                raise SeedError(
                    service,
                    f"{name}.{column} is of type {col_info.type.display}, which envctl "
                    "cannot generate",
                    location=locate(path),
                    hint="give the column a default in the schema, or leave it nullable "
                    "and set `infer: false` on the table",
                )
            columns.append(PlannedColumn(column, gen, col_info.type, col_info.sequence_default))
        plans.append(TablePlan(name, info, rows[name], columns, locate(where)))
    return plans


class _Catalog:
    """Generators by (table, column), built on first use so refs can reach parents."""

    def __init__(
        self,
        conn: Any,
        entry: DataSeed,
        infos: dict[str, TableInfo],
        rows: Mapping[str, int],
        service: str,
    ) -> None:
        self.conn, self.entry, self.infos, self.row_counts = conn, entry, infos, rows
        self.service = service
        self._built: dict[tuple[str, str], Generator | None] = {}
        self._building: set[tuple[str, str]] = set()
        self._existing: dict[str, int] = {}

    def spec(self, table: str, column: str) -> ColumnSpec | None:
        given = self.entry.tables[table].columns.get(column)
        if given is not None:
            return given
        if not self.entry.tables[table].infer:
            return None
        return infer.spec_for(self.infos[table], self.infos[table].columns[column])

    def generator(self, table: str, column: str) -> Generator | None:
        key = (table, column)
        if key in self._built:
            return self._built[key]
        if key in self._building:
            raise SpecError(f"references go round in a circle through {table}.{column}")
        self._building.add(key)
        try:
            spec = self.spec(table, column)
            info = self.infos[table].columns[column]
            built = None
            if spec is not None:
                col = generators.Column(
                    self.entry.seed,
                    table,
                    column,
                    self.row_counts[table],
                    parents=self,
                    max_length=info.type.max_length,
                )
                built = generators.build(spec, col)
        finally:
            self._building.discard(key)
        self._built[key] = built
        return built

    # generators.Parents -----------------------------------------------------------------

    def rows(self, table: str) -> int:
        if table in self.entry.tables:
            return self.row_counts[table]
        return self._existing[table]

    def parent(self, table: str, column: str) -> Generator:
        if table in self.entry.tables:
            if column not in self.infos[table].columns:
                raise SpecError(f"table {table!r} has no column {column!r}")
            gen = self.generator(table, column)
            if gen is None:
                raise SpecError(
                    f"{table}.{column} is not generated (left to its default), so nothing "
                    "can refer to it; describe it, e.g. {sequence: 1}"
                )
            return gen
        return self._existing_values(table, column)

    def _existing_values(self, table: str, column: str) -> Generator:
        info = introspect.tables(self.conn, [table])[table]
        if info is None:
            raise SpecError(f"table {table!r} does not exist and is not seeded here")
        if column not in info.columns:
            raise SpecError(f"table {table!r} has no column {column!r}")
        pg = info.columns[column].type
        values = self.conn.execute(
            f'SELECT "{column}" FROM {info.qualified} WHERE "{column}" IS NOT NULL '
            f"ORDER BY 1 LIMIT {EXISTING_LIMIT}"
        ).fetchall()
        if not values:
            raise SpecError(f"{table}.{column} has no rows to refer to (it is not seeded here)")
        self._existing[table] = len(values)
        return generators.existing(_kind(pg), _as_values(pg, [v for (v,) in values]))


def _kind(pg: PgType) -> str:
    if pg.name in ("int2", "int4", "int8"):
        return "int"
    if pg.name == "uuid":
        return "uuid"
    return "text"


def _as_values(pg: PgType, values: list[Any]) -> Values:
    kind = _kind(pg)
    if kind == "int":
        return Values("int", np.array(values, dtype=np.int64))
    if kind == "uuid":
        raw = b"".join(v.bytes for v in values)
        return Values("uuid", np.frombuffer(raw, dtype=np.uint8).reshape(-1, 16))
    return Values("text", Ragged.from_strings([str(v) for v in values]))
