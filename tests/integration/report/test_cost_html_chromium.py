"""The cost report page as a browser shows it: Debian's Chromium, headless, at 1280x800.

Chromium parses and lays the page out; the test reads back the numbers the charts carry
from the DOM it dumps, and checks the screenshot is a real picture of the page (its size,
its variety of colours, and the bar colours present), with no image library: PNG decoding
is a few lines of ``zlib`` and ``struct``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import struct
import subprocess
import zlib
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from orchestrator.cost.report import Caught, CostReport, Group
from orchestrator.report.cost_html import PALETTE, render

pytestmark = pytest.mark.browser

XSS = "<script>alert(1)</script>"
WIDTH, HEIGHT = 1280, 800
TIMEOUT = 90  # seconds for one Chromium run; it takes one or two
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--window-size={WIDTH},{HEIGHT}",
]

Chromium = Callable[..., str]


@pytest.fixture(scope="module")
def sample() -> CostReport:
    """A month of nine blueprints: more than there are colours, one hostile name, one
    costing a few hundredths of a cent."""
    names = ["checkout", "search", "payments", XSS, "inventory", "auth", "mail", "batch", "tiny"]
    start = date(2026, 1, 1)
    days = [(start + timedelta(days=i)).isoformat() for i in range(30)]
    per_group = {
        name: [
            (d, 0.0 if (i + j) % 5 == 0 else round(2.0 / (j + 1) * (1 + i % 4), 4))
            for i, d in enumerate(days)
        ]
        for j, name in enumerate(names[:-1])
    }
    per_group["tiny"] = [(d, 0.0001 if i in (3, 9, 27) else 0.0) for i, d in enumerate(days)]
    groups = sorted(
        (Group(n, 30, 28, 1, 1, sum(v for _, v in per_group[n])) for n in names),
        key=lambda g: -g.cost_usd,
    )
    timeline = [(d, sum(per_group[n][i][1] for n in names)) for i, d in enumerate(days)]
    return CostReport(
        since="2026-01-01T00:00:00+00:00",
        until="2026-01-31T00:00:00+00:00",
        by="blueprint",
        total_usd=sum(g.cost_usd for g in groups),
        runs=sum(g.runs for g in groups),
        groups=groups,
        timeline=timeline,
        timeline_by_group=per_group,
        caught=[Caught(XSS, "x-1a", XSS, "x-2b", "0123456789abcdef", "2026-01-05T10:00:00+00:00")],
        incident_cost_usd=2500.0,
        budgets=[
            {
                "name": "platform",
                "monthly_usd": 300.0,
                "month_to_date_usd": 120.0,
                "projected_usd": 250.0,
                "status": "ok",
            },
            {
                "name": XSS,
                "monthly_usd": 10.0,
                "month_to_date_usd": 12.0,
                "projected_usd": 31.0,
                "status": "exceeded",
            },
        ],
    )


@pytest.fixture(scope="module")
def page(sample: CostReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "cost.html"
    generated = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)
    path.write_text(render(sample, title="Cost report", generated_at=generated), "utf-8")
    return path


@pytest.fixture
def chromium(tmp_path: Path) -> Chromium:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.skip("chromium not installed (apt-get install chromium)")

    def run(*args: str) -> str:
        profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
        command = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
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


def test_the_screenshot_is_the_page_at_1280_by_800(
    page: Path, chromium: Chromium, tmp_path: Path
) -> None:
    png = tmp_path / "cost.png"
    chromium(f"--screenshot={png}", page.as_uri())
    width, height, pixels = decode_png(png.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    colours = Counter(pixels)
    background, most = colours.most_common(1)[0]
    assert most < 0.9 * width * height, f"mostly one colour #{background.hex()}: a blank page?"
    assert len(colours) > 200, "too few colours for text, charts and tables"
    # The biggest group's colour fills its bars: the charts were drawn, not just text.
    first = bytes.fromhex(PALETTE[0][1:])
    assert colours[first] > 2000, f"the bars' colour {PALETTE[0]} is hardly there"


def test_the_laid_out_dom_carries_the_reports_numbers(
    page: Path, chromium: Chromium, sample: CostReport
) -> None:
    dom = Dom(chromium("--dump-dom", page.as_uri()))
    assert dom.tags["svg"] == 2 and dom.tags["script"] == 0  # the hostile name stayed text
    (tile,) = dom.with_class("tile", "data-total-usd")
    assert float(tile["data-total-usd"]) == sample.total_usd

    columns = dom.with_class("day", "data-day")
    assert [c["data-day"] for c in columns] == [d for d, _ in sample.timeline]
    assert sum(float(c["data-usd"]) for c in columns) == pytest.approx(sample.total_usd)
    segments = dom.with_class("seg", "data-usd")
    assert sum(float(s["data-usd"]) for s in segments) == pytest.approx(sample.total_usd)

    bars = dom.with_class("bar", "data-usd")
    assert {b["data-group"]: float(b["data-usd"]) for b in bars} == {
        g.name: g.cost_usd for g in sample.groups
    }
    assert XSS in dom.text and "$0.0003" in dom.text  # the tiny group, not $0.00


class Dom(HTMLParser):
    """Tag counts, every element's attributes, and the text of the dumped DOM."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.elements: list[dict[str, str]] = []
        self.chunks: list[str] = []
        self.feed(html)
        self.close()
        self.text = " ".join(self.chunks)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.elements.append({k: v or "" for k, v in attrs})

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    def with_class(self, cls: str, attr: str) -> list[dict[str, str]]:
        return [e for e in self.elements if cls in e.get("class", "").split() and attr in e]


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
