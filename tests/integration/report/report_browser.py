"""Debian's Chromium, headless, for the report pages' tests: run it, read its PNG.

Chromium parses and lays a page out; a test reads the numbers back from the DOM it dumps
(with ``tests.unit.report.html_page.Page``, as the unit tests read the pages) and checks
its screenshot is a real picture of the page, with no image library: PNG decoding is a
few lines of ``zlib`` and ``struct``. ``FLAGS`` are also what
``docs/images/run_report.py`` runs Chromium with.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

TIMEOUT = 90  # seconds for one Chromium run; it takes one or two
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--hide-scrollbars",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

Chromium = Callable[..., str]


def chromium_runner(tmp_path: Path, width: int, height: int) -> Chromium:
    """``run(*args) -> stdout`` of Chromium at ``width`` x ``height`` (skips without it)."""
    binary = shutil.which("chromium")
    if binary is None:
        pytest.skip("chromium not installed (apt-get install chromium)")

    def run(*args: str) -> str:
        profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
        command = [
            binary,
            *FLAGS,
            f"--window-size={width},{height}",
            f"--user-data-dir={profile}",
            *args,
        ]
        # Its own process group: on a timeout the renderer and GPU children go too.
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            out, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            pytest.fail(f"chromium did not finish in {TIMEOUT}s: {err.decode()[-2000:]}")
        finally:
            _kill_group(proc.pid)
        assert proc.returncode == 0, f"chromium exited {proc.returncode}: {err.decode()[-2000:]}"
        return out.decode("utf-8")

    return run


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # all of it exited already, as it should
        os.killpg(pgid, signal.SIGKILL)


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the RGB of every pixel of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    chunks: dict[bytes, bytes] = {}
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunks[kind] = chunks.get(kind, b"") + data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and colour_type in (2, 6), f"depth {depth}, colour type {colour_type}"
    channels = 4 if colour_type == 6 else 3
    rows = _unfilter(zlib.decompress(chunks[b"IDAT"]), width * channels, height, channels)
    pixels = [row[i : i + 3] for row in rows for i in range(0, len(row), channels)]
    return width, height, pixels


def _unfilter(raw: bytes, stride: int, height: int, bpp: int) -> list[bytes]:
    """Undo PNG's per-row filters (None, Sub, Up, Average, Paeth)."""
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        previous = bytes(line)
        rows.append(previous)
    return rows
