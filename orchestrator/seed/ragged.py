"""Variable-length byte strings for a whole batch of rows at once.

Python string formatting costs about a microsecond per value; a million-row table with
six text columns would spend seconds there before PostgreSQL saw a byte. ``Ragged``
keeps a batch as one ``uint8`` buffer plus a length per row, and every operation —
picking from a word list, joining parts row by row, writing integers in decimal — is a
handful of numpy calls over the whole batch. The binary COPY encoder (``pgcopy.py``) is
built from the same row-wise join.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

PADDED_LIMIT = 64  # strings up to this long are taken through a padded table
SLICE_LIMIT = 4096  # slices up to this long are gathered as windows of the pool

_LOWER = np.arange(256, dtype=np.uint8)
_LOWER[ord("A") : ord("Z") + 1] += 32


def _exclusive_cumsum(lengths: I64) -> I64:
    out = np.empty(len(lengths), dtype=np.int64)
    if len(lengths):
        out[0] = 0
        np.cumsum(lengths[:-1], out=out[1:])
    return out


def segment_positions(starts: I64, lengths: I64) -> I64:
    """Concatenated ranges ``starts[i] … starts[i] + lengths[i] - 1``, without a loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    shift = np.repeat(starts - _exclusive_cumsum(lengths), lengths)
    return shift + np.arange(total, dtype=np.int64)


@dataclass(frozen=True)
class Ragged:
    """``len(lengths)`` byte strings stored back to back in ``data``."""

    lengths: I64
    data: U8

    def __len__(self) -> int:
        return len(self.lengths)

    @cached_property
    def offsets(self) -> I64:
        return _exclusive_cumsum(self.lengths)

    @staticmethod
    def from_strings(values: Sequence[str | bytes]) -> Ragged:
        encoded = [v if isinstance(v, bytes) else v.encode() for v in values]
        lengths = np.fromiter((len(v) for v in encoded), dtype=np.int64, count=len(encoded))
        return Ragged(lengths, np.frombuffer(b"".join(encoded), dtype=np.uint8).copy())

    @staticmethod
    def constant(value: bytes, n: int) -> Ragged:
        one = np.frombuffer(value, dtype=np.uint8)
        return Ragged(np.full(n, len(value), dtype=np.int64), np.tile(one, n))

    @staticmethod
    def fixed(matrix: U8) -> Ragged:
        """Rows of a 2-D ``uint8`` array, each ``matrix.shape[1]`` bytes long."""
        n, width = matrix.shape
        return Ragged(np.full(n, width, dtype=np.int64), np.ascontiguousarray(matrix).ravel())

    def take(self, index: npt.NDArray[np.integer]) -> Ragged:
        """The strings at ``index`` (a word list indexed by random draws, say)."""
        index = np.asarray(index, dtype=np.int64)
        lengths = self.lengths[index]
        if len(self) and int(self.lengths.max()) <= PADDED_LIMIT:
            # Short strings: rows of one padded table, then the padding masked out — a
            # byte mask instead of an int64 index per byte.
            rows = self.padded[index]
            return Ragged(lengths, rows[np.arange(rows.shape[1]) < lengths[:, None]])
        return Ragged(lengths, self.data[segment_positions(self.offsets[index], lengths)])

    @cached_property
    def padded(self) -> U8:
        width = int(self.lengths.max()) if len(self) else 0
        table = np.zeros((len(self), width), dtype=np.uint8)
        table[np.arange(width) < self.lengths[:, None]] = self.data
        return table

    def slices(self, starts: I64, lengths: I64) -> Ragged:
        """Substrings of the single string ``self`` (a text pool) at ``starts``."""
        longest = int(lengths.max()) if len(lengths) else 0
        if 0 < longest <= SLICE_LIMIT and int(starts.max()) + longest <= len(self.data):
            # Windows of the pool gathered as rows (one copy, no per-byte index), then
            # cut to each row's length.
            rows = sliding_window_view(self.data, longest)[starts]
            if bool(np.all(lengths == longest)):
                return Ragged(lengths, rows.ravel())
            return Ragged(lengths, rows[np.arange(longest) < lengths[:, None]])
        return Ragged(lengths, self.data[segment_positions(starts, lengths)])

    def lower(self) -> Ragged:
        return Ragged(self.lengths, _LOWER[self.data])

    def to_list(self) -> list[str]:
        raw = self.data.tobytes()
        return [
            raw[o : o + n].decode()
            for o, n in zip(self.offsets.tolist(), self.lengths.tolist(), strict=True)
        ]


def join(parts: Sequence[Ragged]) -> Ragged:
    """Row-wise concatenation: row i is parts[0][i] + parts[1][i] + …"""
    n = len(parts[0])
    lengths = np.zeros(n, dtype=np.int64)
    for part in parts:
        lengths += part.lengths
    if n == 0:
        return Ragged(lengths, np.empty(0, dtype=np.uint8))
    if all(_constant_length(p) for p in parts):
        # Every row the same shape: one strided copy per part, no index arrays.
        return Ragged(lengths, np.hstack([p.data.reshape(n, -1) for p in parts]).ravel())
    out = np.empty(int(lengths.sum()), dtype=np.uint8)
    cursor = _exclusive_cumsum(lengths)
    for part in parts:
        if part.data.size:
            out[segment_positions(cursor, part.lengths)] = part.data
        cursor = cursor + part.lengths
    return Ragged(lengths, out)


def _constant_length(part: Ragged) -> bool:
    return len(part.lengths) == 0 or bool(np.all(part.lengths == part.lengths[0]))


def decimal(values: npt.NDArray[np.integer], pad: int = 0) -> Ragged:
    """Integers in decimal, '-' for negatives, left-padded with zeros to ``pad`` digits."""
    v = np.asarray(values, dtype=np.int64)
    negative = v < 0
    # |int64 min| does not fit in int64; uint64 holds every magnitude.
    magnitude = np.where(negative, -(v + 1), v).astype(np.uint64) + negative.astype(np.uint64)
    digits = np.zeros((len(v), 20), dtype=np.uint8)
    rest = magnitude.copy()
    for column in range(19, -1, -1):
        digits[:, column] = (rest % np.uint64(10)).astype(np.uint8)
        rest //= np.uint64(10)
    count = np.maximum(20 - np.argmax(digits != 0, axis=1), 1)
    count[magnitude == 0] = 1
    count = np.maximum(count, pad)
    keep = np.arange(20) >= (20 - count)[:, None]
    body = Ragged(count.astype(np.int64), (digits[keep] + ord("0")).astype(np.uint8))
    if not negative.any():
        return body
    sign = Ragged(negative.astype(np.int64), np.full(int(negative.sum()), ord("-"), np.uint8))
    return join([sign, body])
