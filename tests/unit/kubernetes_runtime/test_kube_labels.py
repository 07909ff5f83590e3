"""Names and label values the API accepts, whatever the env id or blueprint says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.runtime.kubernetes import labels

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def test_a_namespace_is_envctl_and_the_env_id() -> None:
    assert labels.namespace_name("checkout-1a2b3c") == "envctl-checkout-1a2b3c"


@pytest.mark.parametrize(
    "env_id",
    ["Checkout_1", "a" * 80, "x--y", "-lead", "trail-", "dots.in.it", "ünïcode-1"],
)
def test_any_env_id_becomes_a_valid_namespace_name(env_id: str) -> None:
    name = labels.namespace_name(env_id)
    assert len(name) <= 63 and DNS_LABEL.fullmatch(name), name
    assert name.startswith("envctl-")


def test_sanitised_names_stay_distinct() -> None:
    assert labels.namespace_name("A_b") != labels.namespace_name("a-b")
    long_a, long_b = "x" * 70 + "a", "x" * 70 + "b"
    assert labels.namespace_name(long_a) != labels.namespace_name(long_b)


@pytest.mark.parametrize(
    ("service", "expected"), [("db", "db"), ("payments-provider", "payments-provider")]
)
def test_blueprint_names_are_used_as_object_names(service: str, expected: str) -> None:
    assert labels.object_name(service) == expected


def test_a_service_name_starting_with_a_digit_gets_a_letter_first() -> None:
    # Service names are DNS-1035 labels: they must start with a letter.
    assert labels.object_name("1st-db") == "s-1st-db"


@pytest.mark.parametrize(
    "text", ["Payments Team <pay@example.com>", "a" * 100, "-x-", "ok.value_1", "", "@@@"]
)
def test_label_values_are_valid(text: str) -> None:
    value = labels.label_value(text)
    assert len(value) <= 63 and LABEL_VALUE.fullmatch(value), value


def test_the_store_id_is_short_stable_and_distinct(tmp_path: Path) -> None:
    a, b = labels.store_id(tmp_path / "a"), labels.store_id(tmp_path / "b")
    assert a == labels.store_id(tmp_path / "a") and a != b
    assert LABEL_VALUE.fullmatch(a) and len(a) == 16


def test_expiry_round_trips_through_iso_8601_utc() -> None:
    text = labels.iso_utc(1_700_000_000.7)
    assert text == "2023-11-14T22:13:20Z"
    assert labels.parse_iso(text) == 1_700_000_000
    assert labels.parse_iso("2023-11-14T22:13:20+00:00") == 1_700_000_000
    assert labels.parse_iso("not a date") is None
    assert labels.parse_iso("None") is None
