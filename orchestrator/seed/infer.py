"""Column specs for the columns a blueprint does not describe, from the live schema.

A table spec may give only ``rows``: every other column gets a generator chosen from its
type, name and constraints — keys become sequences, foreign keys references, an
``email`` column fake emails — so ``tables: {orders: {rows: 1000000}}`` is a whole spec.
Columns with a server-side default other than a sequence keep that default.
"""

from __future__ import annotations

from orchestrator.blueprint.data import ColumnSpec
from orchestrator.seed.introspect import ColumnInfo, TableInfo

# Fixed, not relative to today: the same seed must give the same rows next year too.
TIME_RANGE = ["2023-01-01T00:00:00", "2025-12-31T23:59:59"]

_BY_NAME = {
    "email": "email",
    "e_mail": "email",
    "first_name": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "name": "name",
    "full_name": "name",
    "fullname": "name",
    "customer_name": "name",
    "phone": "phone",
    "phone_number": "phone",
    "mobile": "phone",
    "street": "street",
    "address": "address",
    "city": "city",
    "country": "country",
    "country_code": "country",
    "company": "company",
    "company_name": "company",
}


def spec_for(table: TableInfo, column: ColumnInfo) -> ColumnSpec | None:
    """The generator for ``column``, or None to leave it to its default (or NULL)."""
    if column.generated:
        return None
    unique = column.name in table.unique_columns()
    if column.sequence_default or (
        unique
        and column.type.name in ("int2", "int4", "int8")
        and not table.foreign_key(column.name)
    ):
        return ColumnSpec(sequence=1)
    if column.default is not None:
        return None
    fk = table.foreign_key(column.name)
    if fk is not None and fk.ref_table and fk.ref_columns:
        return ColumnSpec(ref=f"{_bare(fk.ref_table)}.{fk.ref_columns[0]}", unique=unique)
    return _by_type(column, unique)


def _bare(regclass: str) -> str:
    # regclass text is schema-qualified only off the search_path; specs use bare names.
    return regclass.rsplit(".", 1)[-1].strip('"')


def _by_type(column: ColumnInfo, unique: bool) -> ColumnSpec | None:
    pg = column.type
    name = column.name.lower()
    if pg.enum_labels:
        return ColumnSpec(choice=list(pg.enum_labels))
    if pg.name in ("text", "varchar", "bpchar", "citext", "name"):
        fake = _BY_NAME.get(name)
        if fake is None and name.endswith("_email"):
            fake = "email"
        if fake is not None and (not unique or fake in ("email", "phone")):
            fits = pg.max_length is None or pg.max_length >= (13 if fake == "phone" else 8)
            if fits:
                return ColumnSpec.model_validate({"fake": fake, "unique": unique})
        limit = pg.max_length or 40
        low = limit if pg.name == "bpchar" else min(5, limit)
        high = limit if pg.name == "bpchar" else min(limit, 40)
        return ColumnSpec.model_validate({"text": [low, high], "unique": unique})
    if pg.name in ("int2", "int4", "int8"):
        top = 100 if pg.name == "int2" else 1000
        return ColumnSpec.model_validate({"int": [1, top]})
    if pg.name in ("float4", "float8"):
        return ColumnSpec.model_validate({"float": [0, 1000]})
    if pg.name == "numeric":
        scale = pg.scale if pg.scale is not None else 2
        whole = (pg.precision - scale) if pg.precision is not None else 4
        upper: float = min(10**whole - 1, 1000) if whole > 0 else 0.99
        return ColumnSpec.model_validate({"float": [0, upper], "decimals": scale})
    if pg.name == "bool":
        return ColumnSpec.model_validate({"bool": 0.5})
    if pg.name in ("timestamp", "timestamptz", "date"):
        return ColumnSpec.model_validate({"timestamp": TIME_RANGE})
    if pg.name == "uuid":
        return ColumnSpec(uuid=True)
    if pg.name in ("json", "jsonb"):
        return ColumnSpec(value="{}")  # a valid document; describe the column for more
    if pg.name == "bytea":
        return ColumnSpec.model_validate({"text": [8, 32]})
    return None
