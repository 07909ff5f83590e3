"""Edge latencies from measured samples: plain lines, JSON lists, Prometheus histograms,
and the errors a bad file gets (one message, at its line)."""

from __future__ import annotations

import functools
import random
from pathlib import Path

import numpy as np
import pytest

from orchestrator.audit.capture import latency_from_samples
from orchestrator.exceptions import UsageError

# Latencies are kept to the microsecond.
approx = functools.partial(pytest.approx, abs=1e-6)

HISTOGRAM = """\
# HELP http_client_duration_seconds Calls to payments-provider.
# TYPE http_client_duration_seconds histogram
http_client_duration_seconds_bucket{le="0.1"} 50
http_client_duration_seconds_bucket{le="0.2"} 90
http_client_duration_seconds_bucket{le="0.5"} 99
http_client_duration_seconds_bucket{le="1"} 100
http_client_duration_seconds_bucket{le="+Inf"} 100
http_client_duration_seconds_sum 17.5
http_client_duration_seconds_count 100
"""


def write(tmp_path: Path, text: str, name: str = "samples.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> UsageError:
    with pytest.raises(UsageError) as caught:
        latency_from_samples(path)
    return caught.value


def test_plain_lines_are_milliseconds_interpolated_between_ranks(tmp_path: Path) -> None:
    path = write(tmp_path, "\n".join(str(ms) for ms in range(1, 101)) + "\n")
    latency = latency_from_samples(path)
    assert latency.p50 == approx(0.0505)
    assert latency.p95 == approx(0.09505)
    assert latency.p99 == approx(0.09901)


def test_plain_lines_take_units_comments_and_blank_lines(tmp_path: Path) -> None:
    text = "# measured from the orders pod\n120ms\n\n0.12s\n120000us\n 120 \n120µs\n"
    latency = latency_from_samples(write(tmp_path, text))
    assert latency.p50 == approx(0.12)
    assert latency.p99 == approx(0.12)
    # the one 120µs sample is the minimum, below every percentile we report
    lows = latency_from_samples(write(tmp_path, "120µs\n1ms\n2ms\n", "lows.txt"))
    assert lows.p50 == approx(0.001)


def test_percentiles_match_numpy_on_random_samples(tmp_path: Path) -> None:
    rng = random.Random(7)
    samples = [rng.lognormvariate(4, 0.8) for _ in range(5001)]
    latency = latency_from_samples(write(tmp_path, "\n".join(f"{s:.4f}" for s in samples)))
    rounded = [float(f"{s:.4f}") for s in samples]
    for got, q in ((latency.p50, 50), (latency.p95, 95), (latency.p99, 99)):
        assert got == approx(float(np.percentile(rounded, q)) / 1000)


def test_a_json_list_is_milliseconds(tmp_path: Path) -> None:
    latency = latency_from_samples(write(tmp_path, "[10, 20,\n 30, 40]\n", "s.json"))
    assert latency.p50 == approx(0.025)
    assert latency.p95 == approx(0.0385)
    with_units = latency_from_samples(write(tmp_path, '["10ms", 0.02e3, "0.03s"]', "u.json"))
    assert with_units.p50 == approx(0.02)


def test_a_single_sample_is_every_percentile(tmp_path: Path) -> None:
    latency = latency_from_samples(write(tmp_path, "[250]"))
    assert (latency.p50, latency.p95, latency.p99) == (0.25, 0.25, 0.25)


def test_a_prometheus_histogram_is_read_as_histogram_quantile_does(tmp_path: Path) -> None:
    latency = latency_from_samples(write(tmp_path, HISTOGRAM, "metrics.prom"))
    assert latency.p50 == approx(0.1)  # rank 50 ends the first bucket exactly
    assert latency.p95 == approx(0.2 + 0.3 * 5 / 9)  # 5 of the 9 in (0.2, 0.5]
    assert latency.p99 == approx(0.5)


def test_histogram_series_are_summed_by_le_and_timestamps_ignored(tmp_path: Path) -> None:
    text = "\n".join(
        f'rpc_seconds_bucket{{route="{route}",le="{le}"}} {count} 1700000000000'
        for route, counts in (("/pay", (10, 40, 40)), ("/refund", (30, 40, 60)))
        for le, count in zip(("0.05", "0.1", "+Inf"), counts, strict=True)
    )
    latency = latency_from_samples(write(tmp_path, text))
    # summed: le=0.05 → 40, le=0.1 → 80, +Inf → 100
    assert latency.p50 == approx(0.05 + 0.05 * 10 / 40)
    # ranks 95 and 99 fall in the +Inf bucket: the highest finite bound, as PromQL says
    assert latency.p95 == approx(0.1)
    assert latency.p99 == approx(0.1)


def test_bounds_in_exponent_form_and_le_anywhere_among_the_labels(tmp_path: Path) -> None:
    text = (
        'x_bucket{le="1e-3",job="a"} 5\n'
        'x_bucket{job="a", le="2.0e-3"} 10\n'
        'x_bucket{job="a",le="+Inf"} 10\n'
    )
    latency = latency_from_samples(write(tmp_path, text))
    assert latency.p50 == approx(0.001)
    assert latency.p99 == approx(0.001 + 0.001 * 4.9 / 5)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("120ms\nfast\n", 2, "'fast' is not a latency"),
        ("120ms\n-5\n", 2, "is not a latency"),
        ("10\n20 ms\n30 minutes\n", 3, "'30 minutes'"),
        ("", 1, "no latency samples"),
        ("# only a comment\n", 1, "no latency samples"),
        ('[10,\n 20,\n "soon"]', 3, "'soon' is not a latency"),
        ("[10,\n 20\n 30]", 3, "expected ',' or ']'"),
        ("[10, true]", 1, "True is not a latency"),
        ("[10,\n 20,", 2, "invalid JSON"),
        ("[10] 20", 1, "text after the JSON list"),
        ("[]", 1, "no latency samples"),
    ],
)
def test_bad_sample_files_name_the_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = write(tmp_path, text)
    error = error_of(path)
    assert error.message.startswith(f"{path}:{line}: ")
    assert words in error.message
    assert error.hint and "one latency per line" in error.hint


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            'h_bucket{le="0.1"} 50\nh_bucket{le="0.2"} 40\nh_bucket{le="+Inf"} 60\n',
            2,
            "buckets must be cumulative",
        ),
        ('h_bucket{le="0.1"} 5\nh_bucket{le="0.2"} 9\n', 2, 'no le="+Inf" bucket'),
        ('h_bucket{le="0.1"} 0\nh_bucket{le="+Inf"} 0\n', 2, "no observations"),
        ('h_bucket{le="0.1"} 1\ng_bucket{le="0.1"} 1\n', 2, "a second histogram 'g'"),
        ('h_bucket{le="0.1"} 1\nh_bucket{le="+Inf"} many\n', 2, "not a bucket bound and count"),
        ('h_bucket{le="fast"} 1\n', 1, "not a bucket bound and count"),
        ('h_bucket{job="a"} 1\n', 1, 'a bucket without an "le" label'),
        ('h_bucket{le="0.1"} 1\nh_bucket{le="+Inf"}\n', 2, "not a bucket line"),
    ],
)
def test_bad_histograms_name_the_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = write(tmp_path, text)
    error = error_of(path)
    assert error.message.startswith(f"{path}:{line}: "), error.message
    assert words in error.message


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    error = error_of(tmp_path / "nowhere.txt")
    assert "cannot read latency samples" in error.message
    assert "nowhere.txt" in error.message


def test_a_binary_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latency.bin"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert "not UTF-8 text" in error_of(path).message
