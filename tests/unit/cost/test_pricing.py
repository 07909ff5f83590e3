"""The price book (units, layering, sources, located errors) and pricing a run."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.blueprint.source import parse_yaml
from orchestrator.cost import pricing
from orchestrator.cost.model import GIB, HOURS_PER_MONTH, PHASES, ServiceUsage, Usage
from orchestrator.cost.pricing import PriceBook, load, price
from orchestrator.exceptions import BlueprintError, ExitCode, UsageError

BOOK = PriceBook(
    usd_per_vcpu_hour=0.036,
    usd_per_gib_hour=0.0036,
    usd_per_storage_gib_hour=0.36,
    usd_per_runner_minute=0.01,
    usd_per_network_gb=0.02,
)


def write(tmp_path: Path, text: str, name: str = "prices.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error_of(path: Path) -> BlueprintError:
    with pytest.raises(BlueprintError) as info:
        load([path])
    return info.value


# The price book ------------------------------------------------------------------------


def test_the_defaults_are_opencosts_and_githubs_and_say_so() -> None:
    book = load()
    assert book.usd_per_vcpu_hour == 0.031611
    assert book.usd_per_gib_hour == 0.004237
    assert book.usd_per_storage_gib_hour == 0.04 / 730
    assert round(book.usd_per_storage_gib_hour, 11) == 0.00005479452
    assert book.usd_per_network_gb == 0.01
    assert book.usd_per_runner_minute == 0.008
    assert book.minimum_seconds == 0
    assert "OpenCost configs/default.json" in book.sources["usd_per_vcpu_hour"]
    assert "GitHub-hosted Linux 2-core" in book.sources["usd_per_runner_minute"]
    storage = book.sources["usd_per_storage_gib_hour"]
    assert storage.startswith("envctl default, orchestrator/cost/prices.yaml:")
    assert "usd_per_storage_gib_month 0.04 ÷ 730 h/month" in storage


def test_a_price_per_month_is_divided_by_730_hours(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        # our negotiated rates
        usd_per_vcpu_month: 23.0769
        usd_per_gib_month: 3.0
        usd_per_storage_gib_hour: 0.0001
        usd_per_runner_hour: 0.48
        """,
    )
    book = load([path])
    assert HOURS_PER_MONTH == 730
    assert book.usd_per_vcpu_hour == 23.0769 / 730
    assert round(book.usd_per_vcpu_hour, 6) == 0.031612
    assert book.usd_per_gib_hour == 3.0 / 730
    assert book.usd_per_storage_gib_hour == 0.0001
    assert book.usd_per_runner_minute == pytest.approx(0.008)
    assert book.sources["usd_per_vcpu_hour"] == (
        f"{path}:2: usd_per_vcpu_month 23.0769 ÷ 730 h/month"
    )
    assert book.sources["usd_per_runner_minute"] == f"{path}:5: usd_per_runner_hour 0.48 ÷ 60 min/h"
    assert book.sources["usd_per_network_gb"].startswith("envctl default")  # not overridden


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("cpu", "give the unit: usd_per_vcpu_hour or usd_per_vcpu_month"),
        ("cpu_price", "give the unit: usd_per_vcpu_hour or usd_per_vcpu_month"),
        ("memory", "give the unit: usd_per_gib_hour or usd_per_gib_month"),
        ("ram", "give the unit: usd_per_gib_hour or usd_per_gib_month"),
        ("storage", "give the unit: usd_per_storage_gib_hour or usd_per_storage_gib_month"),
        ("network", "give the unit: usd_per_network_gb"),
        ("runner", "give the unit: usd_per_runner_minute or usd_per_runner_hour"),
    ],
)
def test_a_price_without_its_unit_is_rejected_at_its_line(
    tmp_path: Path, key: str, hint: str
) -> None:
    path = write(tmp_path, f"usd_per_gib_hour: 0.004\n# next\n{key}: 0.03\n")
    err = error_of(path)
    assert (err.location.file, err.location.line, err.location.key_path) == (str(path), 3, key)
    assert "has no unit" in err.message and repr(key) in err.message
    assert err.hint == hint
    assert err.exit_code is ExitCode.USAGE
    assert err.render().startswith(f"{path}:3:1: {key}: ")


def test_a_key_with_an_unknown_unit_names_the_ones_there_are(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "usd_per_vcpu_day: 0.7\n"))
    assert "not a price key" in err.message
    assert err.hint == "give the unit: usd_per_vcpu_hour or usd_per_vcpu_month"


def test_price_alone_or_an_unknown_key_is_rejected_with_the_valid_keys(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "usd_per_vcpu_hour: 0.1\nprice: 3\n"))
    assert (err.location.line, err.message) == (2, "unknown price key 'price'")
    assert err.hint is not None and "usd_per_vcpu_hour" in err.hint
    assert "usd_per_vcpu_month" in err.hint


def test_a_misspelt_key_gets_a_suggestion(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "usd_per_network_gbs: 0.1\n"))
    assert err.hint == "did you mean 'usd_per_network_gb'?"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-0.01", "a price must be a finite number ≥ 0, got -0.01"),
        (".nan", "a price must be a finite number ≥ 0, got nan"),
        ("'0.03'", "a price must be a number, got '0.03'"),
        ("$0.03", "a price must be a number, got '$0.03'"),
        ("true", "a price must be a number, got True"),
        ("[1]", "a price must be a number, got [1]"),
    ],
)
def test_a_negative_or_non_numeric_price_is_rejected_at_its_line(
    tmp_path: Path, value: str, message: str
) -> None:
    err = error_of(write(tmp_path, f"usd_per_gib_hour: 0.004\nusd_per_vcpu_hour: {value}\n"))
    assert (err.location.line, err.location.key_path) == (2, "usd_per_vcpu_hour")
    assert err.message == message


def test_one_price_given_twice_in_two_units_is_rejected(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "usd_per_vcpu_hour: 0.03\nusd_per_vcpu_month: 22\n"))
    assert err.location.line == 2
    assert "both set usd_per_vcpu_hour" in err.message and err.hint == "keep one of them"


def test_a_file_may_say_where_its_figures_come_from(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        usd_per_vcpu_hour: 0.0425
        sources:
          usd_per_vcpu_hour: AWS invoice 2024-09, m6i on-demand
        """,
    )
    book = load([path])
    assert book.sources["usd_per_vcpu_hour"] == (
        f"{path}:1: usd_per_vcpu_hour 0.0425 — AWS invoice 2024-09, m6i on-demand"
    )
    stray = write(tmp_path, "usd_per_vcpu_hour: 1\nsources:\n  usd_per_gib_hour: x\n", "b.yaml")
    err = error_of(stray)
    assert (err.location.line, err.location.key_path) == (3, "sources.usd_per_gib_hour")
    assert "does not set" in err.message


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "the price file is empty"),
        ("# only a comment\n", 1, "the price file is empty"),
        ("- usd_per_vcpu_hour: 1\n", 1, "prices must be a mapping of keys to numbers, got list"),
        ("usd_per_vcpu_hour: [\n", 2, "invalid YAML"),
    ],
)
def test_a_file_that_is_not_a_price_mapping(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    err = error_of(write(tmp_path, text))
    assert err.location.line == line and err.message.startswith(message)


def test_a_missing_file_is_a_usage_error_that_says_where_to_look(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        load([tmp_path / "nope.yaml"])
    assert "cannot read price file" in info.value.message
    assert info.value.hint is not None and "ENVCTL_PRICES" in info.value.hint


def test_layers_apply_in_order_and_each_value_says_where_it_came_from(tmp_path: Path) -> None:
    team = write(tmp_path, "usd_per_vcpu_hour: 0.05\nusd_per_gib_hour: 0.005\n", "team.yaml")
    mine = write(tmp_path, "usd_per_gib_hour: 0.006\nminimum_seconds: 60\n", "mine.yaml")
    book = load([team, mine], {"usd_per_network_gb": 0.09, "usd_per_gib_month": 7.3})
    assert book.usd_per_vcpu_hour == 0.05  # team < defaults
    assert book.usd_per_gib_hour == 7.3 / 730  # blueprint < mine < team
    assert book.usd_per_network_gb == 0.09
    assert book.minimum_seconds == 60
    assert book.usd_per_runner_minute == 0.008  # the default stands
    assert book.sources["usd_per_vcpu_hour"] == f"{team}:1: usd_per_vcpu_hour 0.05"
    assert book.sources["minimum_seconds"] == f"{mine}:2: minimum_seconds 60"
    assert book.sources["usd_per_gib_hour"] == "blueprint: usd_per_gib_month 7.3 ÷ 730 h/month"
    assert book.sources["usd_per_network_gb"] == "blueprint: usd_per_network_gb 0.09"
    recorded = book.to_dict()
    assert recorded["usd_per_gib_hour"] == {
        "value": 7.3 / 730,
        "unit": "USD per GiB-hour of memory",
        "source": "blueprint: usd_per_gib_month 7.3 ÷ 730 h/month",
    }
    assert set(recorded) == set(pricing.UNITS)


def test_a_bad_override_is_named_by_where_it_came_from() -> None:
    with pytest.raises(UsageError) as info:
        load(overrides={"cpu": 0.03}, overrides_where="blueprints/checkout.yaml")
    assert info.value.message == (
        "prices from blueprints/checkout.yaml: cpu: price 'cpu' has no unit (cpu)"
    )
    assert info.value.hint == "give the unit: usd_per_vcpu_hour or usd_per_vcpu_month"


def test_an_override_with_its_source_map_is_located_like_a_file() -> None:
    text = "metadata: {name: x}\ncost:\n  prices:\n    usd_per_vcpu_hour: 0.04\n    memory: 1\n"
    data, source = parse_yaml(text, "bp.yaml")
    with pytest.raises(BlueprintError) as info:
        load(
            overrides=data["cost"]["prices"],
            overrides_source=source,
            overrides_path=("cost", "prices"),
        )
    loc = info.value.location
    assert (loc.file, loc.line, loc.key_path) == ("bp.yaml", 5, "cost.prices.memory")
    good = {"usd_per_vcpu_hour": 0.04}
    book = load(overrides=good, overrides_source=source, overrides_path=("cost", "prices"))
    assert book.sources["usd_per_vcpu_hour"] == "bp.yaml:4: usd_per_vcpu_hour 0.04"


# Pricing a run -------------------------------------------------------------------------


def one(service: ServiceUsage, book: PriceBook = BOOK) -> dict[str, float]:
    """The charge of ``service`` in the suites phase, as a dict."""
    return price({service.service: service}, book).charges[service.service]["suites"].to_dict()


def test_cpu_is_charged_for_the_request_when_usage_is_below_it() -> None:
    svc = ServiceUsage("db", {"suites": Usage(seconds=3600, cpu_seconds=10)}, cpu_request=2.0)
    assert one(svc)["cpu_usd"] == pytest.approx(2 * 0.036, abs=1e-9)


def test_cpu_is_charged_for_usage_when_it_is_above_the_request() -> None:
    svc = ServiceUsage("db", {"suites": Usage(seconds=3600, cpu_seconds=5400)}, cpu_request=0.5)
    assert one(svc)["cpu_usd"] == pytest.approx(1.5 * 0.036, abs=1e-9)


def test_memory_is_the_larger_of_request_and_usage() -> None:
    hour = Usage(seconds=3600, memory_gib_seconds=2 * 3600)
    reserved = ServiceUsage("db", {"suites": hour}, memory_request_bytes=4 * GIB)
    used = ServiceUsage("db", {"suites": hour}, memory_request_bytes=GIB // 2)
    unrequested = ServiceUsage("db", {"suites": hour})
    assert one(reserved)["memory_usd"] == pytest.approx(4 * 0.0036, abs=1e-9)
    assert one(used)["memory_usd"] == pytest.approx(2 * 0.0036, abs=1e-9)
    assert one(unrequested)["memory_usd"] == pytest.approx(2 * 0.0036, abs=1e-9)


def test_storage_is_the_larger_of_request_and_usage_and_network_is_by_the_byte() -> None:
    half_hour = Usage(seconds=1800, storage_gib_hours=3.0, network_bytes=2_500_000_000)
    requested = ServiceUsage("db", {"suites": half_hour}, storage_request_bytes=10 * GIB)
    used = ServiceUsage("db", {"suites": half_hour}, storage_request_bytes=GIB)
    assert one(requested)["storage_usd"] == pytest.approx(5 * 0.36, abs=1e-9)  # 10 GiB x 0.5 h
    assert one(used)["storage_usd"] == pytest.approx(3 * 0.36, abs=1e-9)
    assert one(used)["network_usd"] == pytest.approx(2.5 * 0.02, abs=1e-9)  # GB, not GiB


def test_the_runner_is_charged_per_phase_under_run() -> None:
    svc = ServiceUsage("suite", {"suites": Usage(seconds=120, cpu_seconds=30)})
    cost = price({"suite": svc}, BOOK, runner_seconds_by_phase={"provision": 30, "suites": 120})
    assert cost.charges["run"]["provision"].runner_usd == pytest.approx(0.005, abs=1e-9)
    assert cost.charges["run"]["suites"].runner_usd == pytest.approx(0.02, abs=1e-9)
    assert cost.by_service()["run"].total_usd == pytest.approx(0.025, abs=1e-9)
    assert cost.usage["run"].phases["suites"].seconds == 120
    assert cost.charges["suite"]["suites"].cpu_usd == pytest.approx(30 / 3600 * 0.036, abs=1e-9)
    assert cost.prices == BOOK.to_dict()
    with pytest.raises(ValueError, match="pseudo-service"):
        price({"run": svc}, BOOK, runner_seconds_by_phase={"suites": 1})


def test_a_minimum_bills_a_short_lifetime_as_the_minimum_spread_over_its_phases() -> None:
    book = PriceBook(3.6, 3.6, 3.6, 0.0, 0.0, minimum_seconds=60)
    svc = ServiceUsage(
        "db",
        {
            "provision": Usage(seconds=2, cpu_seconds=1),
            "suites": Usage(seconds=8, cpu_seconds=100),
        },
        cpu_request=1.0,
        memory_request_bytes=GIB,
    )
    charges = price({"db": svc}, book).charges["db"]
    # 10 s of life billed as 60 s: provision 12 s, suites 48 s (each keeps its share)
    assert charges["provision"].cpu_usd == pytest.approx(12 / 3600 * 3.6, abs=1e-9)
    assert charges["provision"].memory_usd == pytest.approx(12 / 3600 * 3.6, abs=1e-9)
    # measured usage above the (scaled) request is charged as measured, not scaled
    assert charges["suites"].cpu_usd == pytest.approx(100 / 3600 * 3.6, abs=1e-9)
    assert charges["suites"].memory_usd == pytest.approx(48 / 3600 * 3.6, abs=1e-9)

    long_lived = ServiceUsage("db", {"suites": Usage(seconds=90)}, cpu_request=1.0)
    assert price({"db": long_lived}, book).total.cpu_usd == pytest.approx(0.09, abs=1e-9)
    never = ServiceUsage("db", {"provision": Usage(seconds=0)}, cpu_request=1.0)
    assert price({"db": never}, book).total.total_usd == 0


def test_no_minimum_by_default_bills_seconds_as_they_were() -> None:
    svc = ServiceUsage("db", {"suites": Usage(seconds=1)}, cpu_request=1.0)
    assert one(svc, PriceBook(3600.0, 0, 0, 0, 0))["cpu_usd"] == pytest.approx(1.0)


usages = st.builds(
    Usage,
    seconds=st.floats(0, 1e5),
    cpu_seconds=st.floats(0, 1e5),
    memory_gib_seconds=st.floats(0, 1e6),
    memory_peak_bytes=st.just(0),
    storage_gib_hours=st.floats(0, 1e3),
    network_bytes=st.integers(0, 10**12),
)
services = st.builds(
    ServiceUsage,
    service=st.just("x"),
    phases=st.dictionaries(st.sampled_from(PHASES), usages, min_size=1),
    cpu_request=st.none() | st.floats(0, 64),
    memory_request_bytes=st.none() | st.integers(0, 64 * GIB),
    storage_request_bytes=st.none() | st.integers(0, 1024 * GIB),
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["db", "cache", "api", "suite"]), services, min_size=1),
    st.none() | st.dictionaries(st.sampled_from(PHASES), st.floats(0, 1e4)),
    st.floats(0, 600),
)
def test_totals_are_exact_sums_of_their_parts(
    usage: dict[str, ServiceUsage], runner: dict[str, float] | None, minimum: float
) -> None:
    book = PriceBook(0.031611, 0.004237, 0.04 / 730, 0.008, 0.01, minimum_seconds=minimum)
    cost = price(usage, book, runner_seconds_by_phase=runner)
    total = cost.total.total_usd
    parts = [c for phases in cost.charges.values() for c in phases.values()]
    assert sum(c.total_usd for c in cost.by_phase().values()) == total
    assert sum(c.total_usd for c in cost.by_service().values()) == total
    assert sum(c.total_usd for c in reversed(parts)) == total
    assert math.fsum(c.total_usd for c in parts) == total
    for c in parts:
        assert c.cpu_usd + c.memory_usd + c.storage_usd + c.network_usd + c.runner_usd == (
            c.total_usd
        )
