"""Generated values in PostgreSQL's binary COPY representation, per column type.

Each encoder returns the field bodies of one batch as ``Ragged`` (fixed-width types as
one strided array); ``pgcopy`` adds the length words and the row headers. Formats are
those of the types' ``*_recv`` functions: big-endian integers and floats, dates as days
and timestamps as microseconds since 2000-01-01, numeric as base-10000 digit groups.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid as uuid_module
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from orchestrator.seed.generators import SpecError, Values
from orchestrator.seed.ragged import Ragged, decimal, join

PG_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01 in Unix microseconds
DAY_US = 86_400 * 1_000_000

INT_TYPES = {"int2": (">i2", 2**15), "int4": (">i4", 2**31), "int8": (">i8", 2**63)}
FLOAT_TYPES = {"float4": ">f4", "float8": ">f8"}
TEXT_TYPES = {"text", "varchar", "bpchar", "name", "citext", "char"}
SUPPORTED = (set(INT_TYPES) | set(FLOAT_TYPES) | TEXT_TYPES) | {
    "numeric",
    "bool",
    "date",
    "timestamp",
    "timestamptz",
    "uuid",
    "json",
    "jsonb",
    "bytea",
}


@dataclass(frozen=True)
class PgType:
    """A column's type as the catalog tells it (domains resolved to their base)."""

    name: str  # pg_type.typname of the base type: int4, varchar, numeric …
    display: str  # format_type(): 'character varying(40)', for messages
    max_length: int | None = None  # varchar(n) / char(n)
    scale: int | None = None  # numeric(p, s)
    precision: int | None = None
    enum_labels: tuple[str, ...] = ()


def encode(values: Values, pg: PgType) -> Ragged:
    """The batch's field bodies for a column of type ``pg`` (NULL rows: any body)."""
    kind, name = values.kind, pg.name
    if pg.enum_labels:
        return _as_text(values)
    if name in INT_TYPES:
        return _int(values, pg)
    if name in FLOAT_TYPES:
        if kind not in ("int", "float", "bool"):
            raise _mismatch(values, pg)
        data = np.asarray(values.data, dtype=np.float64)
        return Ragged.fixed(data.astype(FLOAT_TYPES[name]).view(np.uint8).reshape(len(data), -1))
    if name == "numeric":
        return _numeric(values, pg)
    if name == "bool":
        if kind not in ("bool", "int"):
            raise _mismatch(values, pg)
        data = np.asarray(values.data) != 0
        return Ragged.fixed(data.astype(np.uint8).reshape(-1, 1))
    if name in ("timestamp", "timestamptz", "date"):
        if kind != "timestamp":
            raise _mismatch(values, pg)
        micros = np.asarray(values.data, dtype=np.int64) - PG_EPOCH_US
        if name == "date":
            days = np.floor_divide(micros, DAY_US).astype(">i4")
            return Ragged.fixed(days.view(np.uint8).reshape(-1, 4))
        return Ragged.fixed(micros.astype(">i8").view(np.uint8).reshape(-1, 8))
    if name == "uuid":
        if kind != "uuid":
            raise _mismatch(values, pg)
        assert isinstance(values.data, np.ndarray)
        return Ragged.fixed(values.data.astype(np.uint8))
    if name in ("json", "jsonb"):
        body = _json(values)
        return join([Ragged.constant(b"\x01", len(body)), body]) if name == "jsonb" else body
    if name in TEXT_TYPES or name == "bytea":
        text = _as_text(values)
        if pg.max_length is not None and len(text) and int(text.lengths.max()) > pg.max_length:
            raise SpecError(
                f"values up to {int(text.lengths.max())} characters do not fit {pg.display}"
            )
        return text
    raise SpecError(f"envctl cannot generate values of type {pg.display}")


def _mismatch(values: Values, pg: PgType) -> SpecError:
    return SpecError(f"{values.kind} values cannot fill a column of type {pg.display}")


def _int(values: Values, pg: PgType) -> Ragged:
    if values.kind not in ("int", "bool", "float"):
        raise _mismatch(values, pg)
    dtype, limit = INT_TYPES[pg.name]
    data = np.asarray(values.data)
    ints = np.rint(data).astype(np.int64) if values.kind == "float" else data.astype(np.int64)
    valid = ints if values.nulls is None else ints[~values.nulls]
    if len(valid) and (int(valid.max()) >= limit or int(valid.min()) < -limit):
        raise SpecError(
            f"values from {int(valid.min())} to {int(valid.max())} overflow {pg.display}"
        )
    return Ragged.fixed(ints.astype(dtype).view(np.uint8).reshape(len(ints), -1))


def _scaled(values: Values, scale: int) -> npt.NDArray[np.int64]:
    """Values times 10^scale, as integers (numeric's digits without the point)."""
    data = np.asarray(values.data)
    if values.kind == "float":
        return np.rint(data.astype(np.float64) * 10.0**scale).astype(np.int64)
    return data.astype(np.int64) * np.int64(10**scale)


def _numeric(values: Values, pg: PgType) -> Ragged:
    if values.kind not in ("int", "float", "bool"):
        raise _mismatch(values, pg)
    scale = pg.scale if pg.scale is not None else (values.decimals or 0)
    if values.kind == "float" and pg.scale is None and values.decimals is None:
        scale = 6
    m = _scaled(values, scale)
    if pg.precision is not None:
        limit = 10**pg.precision
        valid = m if values.nulls is None else m[~values.nulls]
        if len(valid) and int(np.abs(valid).max()) >= limit:
            raise SpecError(f"values overflow {pg.display}")
    # Align the fraction to whole base-10000 groups, then split into five groups.
    frac_groups = -(-scale // 4)
    magnitude = np.abs(m).astype(np.uint64) * np.uint64(10 ** (4 * frac_groups - scale))
    groups = np.zeros((len(m), 5), dtype=np.int64)
    rest = magnitude.copy()
    for column in range(4, -1, -1):
        groups[:, column] = (rest % np.uint64(10000)).astype(np.int64)
        rest //= np.uint64(10000)
    nonzero = groups != 0
    zero = ~nonzero.any(axis=1)
    lead = np.argmax(nonzero, axis=1)
    trail = np.argmax(nonzero[:, ::-1], axis=1)
    ndigits = np.where(zero, 0, 5 - lead - trail)
    weight = np.where(zero, 0, 4 - lead - frac_groups)
    sign = np.where(m < 0, 0x4000, 0)
    header = np.stack([ndigits, weight, sign, np.full(len(m), scale)], axis=1).astype(">i2")
    digit_bytes = groups.astype(">i2").view(np.uint8).reshape(len(m), 10)
    position = np.arange(5)
    keep = (position >= lead[:, None]) & (position < (5 - trail)[:, None]) & ~zero[:, None]
    body = Ragged(ndigits.astype(np.int64) * 2, digit_bytes[np.repeat(keep, 2, axis=1)])
    return join([Ragged.fixed(header.view(np.uint8).reshape(len(m), 8)), body])


def _as_text(values: Values) -> Ragged:
    kind, data = values.kind, values.data
    if isinstance(data, Ragged):
        return data
    if kind == "int":
        return decimal(np.asarray(data, dtype=np.int64))
    if kind == "bool":
        table = Ragged.from_strings(["false", "true"])
        return table.take(np.asarray(data).astype(np.int64))
    if kind == "float":
        return _float_text(values)
    if kind == "timestamp":
        micros = np.asarray(data, dtype=np.int64).tolist()
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return Ragged.from_strings(
            [(epoch + dt.timedelta(microseconds=m)).isoformat() for m in micros]
        )
    if kind == "uuid":
        rows = np.asarray(data, dtype=np.uint8)
        return Ragged.from_strings([str(uuid_module.UUID(bytes=r.tobytes())) for r in rows])
    raise AssertionError(kind)


def _float_text(values: Values) -> Ragged:
    digits = values.decimals if values.decimals is not None else 6
    m = _scaled(values, digits)
    whole = decimal(np.abs(m) // 10**digits)
    sign = m < 0
    minus = Ragged(sign.astype(np.int64), np.full(int(sign.sum()), ord("-"), np.uint8))
    if digits == 0:
        return join([minus, whole])
    frac = decimal(np.abs(m) % 10**digits, pad=digits)
    return join([minus, whole, Ragged.constant(b".", len(m)), frac])


def _json(values: Values) -> Ragged:
    if values.kind in ("int", "float"):
        return _as_text(values)
    if values.kind == "bool":
        return _as_text(values)
    text = _as_text(values)
    if len(text) and np.isin(text.data[text.offsets[text.lengths > 0]], _JSON_OPENERS).all():
        return text  # documents given as values ('{}', '{"plan": "pro"}'): as they are
    if np.isin(text.data, _JSON_ESCAPED).any():  # a user's choice or constant, rarely
        return Ragged.from_strings([json.dumps(v) for v in text.to_list()])
    quote = Ragged.constant(b'"', len(text))
    return join([quote, text, quote])


_JSON_OPENERS = np.array([ord("{"), ord("[")], dtype=np.uint8)
_JSON_ESCAPED = np.array([ord('"'), ord("\\"), *range(32)], dtype=np.uint8)
