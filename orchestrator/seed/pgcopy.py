"""PostgreSQL's binary COPY stream, assembled for a whole batch of rows at once.

The format (``COPY … FROM STDIN (FORMAT BINARY)``): a signature and two int32 words,
then per row an int16 field count and per field an int32 byte length (-1 for NULL)
followed by the bytes, then an int16 -1. Rows are joined with ``ragged.join``; when no
field of a batch is NULL or variable-length, that is one strided copy per field.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from orchestrator.seed.ragged import Ragged, join

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"


def rows(fields: Sequence[tuple[Ragged, npt.NDArray[np.bool_] | None]]) -> bytes:
    """The COPY bytes of one batch: each field's bodies and NULL mask, row-aligned."""
    if not fields:
        raise ValueError("a COPY row needs at least one field")
    n = len(fields[0][0])
    parts = [Ragged.constant(len(fields).to_bytes(2, "big"), n)]
    for given, nulls in fields:
        body = given
        if nulls is not None and nulls.any():
            lengths = np.where(nulls, -1, given.lengths)
            keep = np.repeat(~nulls, given.lengths)
            body = Ragged(np.where(nulls, 0, given.lengths), given.data[keep])
        else:
            lengths = given.lengths
        words = lengths.astype(">i4").view(np.uint8).reshape(n, 4)
        parts += [Ragged.fixed(words), body]
    return join(parts).data.tobytes()
