"""The contract suite against production-shaped data: what envctl seeded (checkout.yaml).

The app meets the volumes and the skew production has: a few customers place most
orders, and new orders get ids after the seeded ones.
"""

from __future__ import annotations

from typing import Any

import psycopg
import redis
from conftest import Endpoints
from test_checkout import http, place_order

SEEDED = {"customers": 10_000, "products": 500, "order_items": 200_000}
SEEDED_ORDERS = 100_000


def test_the_seeded_volumes_are_there(db: psycopg.Connection[Any]) -> None:
    for table, rows in SEEDED.items():
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone() == (rows,)
    # Other tests add orders of their own, never fewer.
    (orders,) = db.execute("SELECT count(*) FROM orders").fetchone()
    assert orders >= SEEDED_ORDERS


def test_every_item_belongs_to_an_order_and_a_product(db: psycopg.Connection[Any]) -> None:
    orphans = db.execute(
        "SELECT count(*) FROM order_items i"
        " LEFT JOIN orders o ON o.id = i.order_id LEFT JOIN products p ON p.id = i.product_id"
        " WHERE o.id IS NULL OR p.id IS NULL"
    ).fetchone()
    assert orphans == (0,)


def test_a_few_customers_place_most_orders(db: psycopg.Connection[Any]) -> None:
    # zipf over 10,000 customers: the top 1% hold about half of the registered orders.
    (share,) = db.execute(
        "WITH per AS (SELECT customer_id, count(*) AS n FROM orders"
        "  WHERE customer_id IS NOT NULL AND id <= %s GROUP BY customer_id)"
        " SELECT sum(n) FILTER (WHERE rank <= 100)::float / sum(n)"
        " FROM (SELECT n, row_number() OVER (ORDER BY n DESC) AS rank FROM per) ranked",
        (SEEDED_ORDERS,),
    ).fetchone()
    assert 0.4 < share < 0.7


def test_a_seeded_order_reads_through_the_api(orders_url: str) -> None:
    result = http("GET", f"{orders_url}/orders/1")
    assert result.status == 200, result.body
    assert result.body["id"] == 1
    assert result.body["amount_cents"] > 0


def test_new_orders_get_ids_after_the_seeded_ones(endpoints: Endpoints, customer: str) -> None:
    result = place_order(endpoints.orders_url, customer, 4_200)
    assert result.status == 201, result.body
    assert result.body["id"] > SEEDED_ORDERS


def test_sessions_are_seeded_with_ttls(cache: redis.Redis) -> None:
    sessions = [k for k in cache.scan_iter(match="session:*", count=5000)]
    assert len(sessions) == 20_000
    assert cache.type("session:1") == "hash"
    assert 3 <= cache.hlen("session:1") <= 6
    assert 3600 <= cache.ttl("session:20000") <= 7200
