"""End-to-end checks of the checkout environment (orders + payments + Postgres + Redis).

The suite talks to a running environment through its boundaries only: the
orders and payments HTTP APIs, plus Postgres and Redis directly for checks.
envctl provides the endpoints as environment variables (see ENV_VARS); run it
with `envctl run blueprints/checkout.yaml`.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
import redis
from conftest import Endpoints

# The payments stub approves up to this amount and declines above it.
APPROVAL_LIMIT_CENTS = 100_000


# --------------------------------------------------------------------------
# HTTP helpers (urllib only, to keep the suite dependency-free)


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: dict[str, str]
    body: Any  # decoded JSON, or None when the body is not JSON


def http(method: str, url: str, payload: Any = None, *, raw: bytes | None = None) -> HttpResult:
    """Make a request and return status/headers/JSON, for 2xx and errors alike."""
    data = raw if raw is not None else (None if payload is None else json.dumps(payload).encode())
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, headers, text = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:  # raised for non-2xx; those are results here too
        status, headers, text = err.code, dict(err.headers), err.read()
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    return HttpResult(status, headers, body)


def place_order(orders_url: str, customer: str, amount_cents: int) -> HttpResult:
    payload = {"customer": customer, "amount_cents": amount_cents}
    return http("POST", f"{orders_url}/orders", payload)


# --------------------------------------------------------------------------
# Tests


def test_health_is_ok(orders_url: str) -> None:
    result = http("GET", f"{orders_url}/healthz")
    assert result.status == 200, result.body
    assert result.body == {"status": "ok"}


def test_place_order_persists_paid_order(
    endpoints: Endpoints, db: psycopg.Connection[Any], customer: str
) -> None:
    result = place_order(endpoints.orders_url, customer, 2_500)

    assert result.status == 201, result.body
    order = result.body
    assert order["customer"] == customer
    assert order["amount_cents"] == 2_500
    assert order["status"] == "paid"
    assert order["payment_id"].startswith("ch_")

    row = db.execute(
        "SELECT customer, amount_cents, payment_id FROM orders WHERE id = %s", (order["id"],)
    ).fetchone()
    assert row == (customer, 2_500, order["payment_id"])

    # The provider really issued that charge, for this customer and amount.
    charge = http("GET", f"{endpoints.payments_url}/charges/{order['payment_id']}")
    assert charge.status == 200
    assert charge.body["status"] == "approved"
    assert charge.body["amount_cents"] == 2_500
    assert charge.body["customer"] == customer


def test_read_back_populates_cache(orders_url: str, cache: redis.Redis, customer: str) -> None:
    order = place_order(orders_url, customer, 1_000).body
    key = f"order:{order['id']}"
    # Placing the order caches it; drop the entry so the first read must miss.
    cache.delete(key)

    first = http("GET", f"{orders_url}/orders/{order['id']}")
    assert first.status == 200
    assert first.headers.get("X-Cache") == "miss"
    assert first.body == order

    second = http("GET", f"{orders_url}/orders/{order['id']}")
    assert second.status == 200
    assert second.headers.get("X-Cache") == "hit"
    assert second.body == order

    ttl = cache.ttl(key)
    assert 0 < ttl <= 300, f"expected {key} to expire within 300s, ttl={ttl}"


def test_unknown_order_is_404(orders_url: str) -> None:
    assert http("GET", f"{orders_url}/orders/999999999999").status == 404
    assert http("GET", f"{orders_url}/orders/not-a-number").status == 404


def test_declined_payment_stores_nothing(
    orders_url: str, db: psycopg.Connection[Any], customer: str
) -> None:
    result = place_order(orders_url, customer, APPROVAL_LIMIT_CENTS + 1)

    assert result.status == 402, result.body
    assert result.body["error"] == "payment declined"
    assert result.body["reason"] == "amount over limit"
    count = db.execute("SELECT count(*) FROM orders WHERE customer = %s", (customer,)).fetchone()
    assert count == (0,)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"amount_cents": 100}',
        b'{"customer": "", "amount_cents": 100}',
        b'{"customer": "CUSTOMER"}',
        b'{"customer": "CUSTOMER", "amount_cents": 0}',
        b'{"customer": "CUSTOMER", "amount_cents": -5}',
        b'{"customer": "CUSTOMER", "amount_cents": "100"}',
        b'{"customer": "CUSTOMER", "amount_cents": 10.5}',
        b'{"customer": "CUSTOMER", "amount_cents": true}',
    ],
    ids=[
        "not-json",
        "not-object",
        "no-customer",
        "empty-customer",
        "no-amount",
        "zero",
        "negative",
        "string-amount",
        "float-amount",
        "bool-amount",
    ],
)
def test_bad_body_is_400(
    orders_url: str, db: psycopg.Connection[Any], customer: str, body: bytes
) -> None:
    result = http("POST", f"{orders_url}/orders", raw=body.replace(b"CUSTOMER", customer.encode()))

    assert result.status == 400, result.body
    assert result.body["error"]
    count = db.execute("SELECT count(*) FROM orders WHERE customer = %s", (customer,)).fetchone()
    assert count == (0,)


def test_list_by_customer_returns_only_theirs(orders_url: str, customer: str) -> None:
    other = f"{customer}-other"
    first = place_order(orders_url, customer, 100).body
    place_order(orders_url, other, 200)
    second = place_order(orders_url, customer, 300).body

    result = http("GET", f"{orders_url}/orders?{urlencode({'customer': customer})}")

    assert result.status == 200
    assert result.body == {"orders": [first, second]}


# --------------------------------------------------------------------------
# The provider link (envctl's fault proxy): the app's timeout path


PROVIDER_LINK = "orders-payments-provider"


@pytest.fixture
def slow_provider() -> Iterator[None]:
    """Make the provider answer slower than the app waits, through envctl's fault proxy.

    The proxy speaks Toxiproxy's HTTP API, so this is what a Toxiproxy client would send.
    """
    proxy = os.environ.get("ENVCTL_PROXY_URL")
    if not proxy:
        pytest.fail(
            "ENVCTL_PROXY_URL is not set: run under envctl, whose blueprint links "
            "orders to payments-provider",
            pytrace=False,
        )
    toxics = f"{proxy}/proxies/{PROVIDER_LINK}/toxics"
    toxic = {
        "name": "provider_stall",
        "type": "latency",
        "stream": "downstream",
        "attributes": {"latency": 3000, "jitter": 0},
    }
    added = http("POST", toxics, toxic)
    assert added.status == 200, added.body
    try:
        yield
    finally:
        assert http("DELETE", f"{toxics}/provider_stall").status == 204


def test_a_slow_provider_times_out_and_charges_nothing(
    orders_url: str, db: psycopg.Connection[Any], customer: str, slow_provider: None
) -> None:
    placed = place_order(orders_url, customer, 1_500)
    assert placed.status == 504
    assert placed.body == {"error": "payments provider timed out"}
    rows = db.execute("SELECT count(*) FROM orders WHERE customer = %s", (customer,)).fetchone()
    assert rows == (0,)


def test_orders_recover_once_the_provider_is_fast_again(orders_url: str, customer: str) -> None:
    # Runs after the stall above was removed: the link still has production's latency.
    assert place_order(orders_url, customer, 1_500).status == 201
