"""The "orders" HTTP JSON service of the checkout demo.

    python orders_app.py --port N [--host 127.0.0.1]

Configuration comes from the environment (all required):
    DATABASE_URL   postgresql://user:pass@host:port/db   (orders are stored here)
    REDIS_URL      redis://:password@host:port/0         (read-through cache)
    PAYMENTS_URL   http://host:port                      (payments provider)

Endpoints:
    GET  /healthz               200 if postgres and redis both answer, else 503
    POST /orders                {"customer": str, "amount_cents": int > 0}
                                -> 201 order | 400 bad body | 402 declined | 502 provider down
                                   | 504 provider too slow (PAYMENTS_TIMEOUT_SECONDS)
    GET  /orders/<id>           200 order (X-Cache: hit|miss) | 404
    GET  /orders?customer=NAME  200 {"orders": [...]} ordered by id
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import signal
import sys
import threading
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import psycopg
import redis
from psycopg.rows import dict_row

CACHE_TTL_SECONDS = 300
# How long an order waits for the provider: production's budget, overridable so an
# environment can match the deployed setting.
PAYMENTS_TIMEOUT_SECONDS = float(os.environ.get("PAYMENTS_TIMEOUT_SECONDS", "5"))
DB_CONNECT_TIMEOUT_SECONDS = 5
REDIS_TIMEOUT_SECONDS = 5
MAX_BODY_BYTES = 64 * 1024
# orders.amount_cents is a Postgres `integer`; reject what it cannot hold up
# front, instead of charging the customer and then failing the INSERT.
MAX_AMOUNT_CENTS = 2**31 - 1
MAX_ORDER_ID = 2**63 - 1  # bigserial

log = logging.getLogger("orders")


# --------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True, repr=False)
class Config:
    database_url: str
    redis_url: str
    payments_url: str

    # The URLs carry passwords: make sure a stray log.info(config) or a
    # debugger print cannot leak them.
    def __repr__(self) -> str:
        return "Config(<redacted>)"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        names = ("DATABASE_URL", "REDIS_URL", "PAYMENTS_URL")
        missing = [name for name in names if not env.get(name)]
        if missing:
            # Name the variables, never echo their values.
            raise SystemExit(
                f"orders: missing required environment variable(s): {', '.join(missing)}"
            )
        return cls(env["DATABASE_URL"], env["REDIS_URL"], env["PAYMENTS_URL"].rstrip("/"))


def _is_timeout(exc: BaseException) -> bool:
    """urllib wraps a connect timeout in URLError; a read timeout arrives bare."""
    reason = getattr(exc, "reason", None)
    return isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError)


def describe(exc: BaseException) -> str:
    """Exception type and where it was raised, without its message.

    Driver messages can echo connection strings (e.g. psycopg's "invalid dsn"
    errors), so error logs carry only the type and the innermost frame.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}"


# --------------------------------------------------------------------------
# Domain logic, independent of HTTP plumbing


class ApiError(Exception):
    """An error that maps directly onto an HTTP response."""

    def __init__(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        super().__init__(status, payload)
        self.status = status
        self.payload = payload


def parse_order_request(raw: bytes) -> tuple[str, int]:
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiError(HTTPStatus.BAD_REQUEST, {"error": "body must be valid JSON"}) from exc
    if not isinstance(body, dict):
        raise ApiError(HTTPStatus.BAD_REQUEST, {"error": "body must be a JSON object"})
    customer = body.get("customer")
    amount = body.get("amount_cents")
    if not isinstance(customer, str) or not customer.strip():
        raise ApiError(HTTPStatus.BAD_REQUEST, {"error": "customer must be a non-empty string"})
    bad_amount = ApiError(
        HTTPStatus.BAD_REQUEST,
        {"error": f"amount_cents must be an integer between 1 and {MAX_AMOUNT_CENTS}"},
    )
    # bool is a subclass of int in Python; `true` is not an amount.
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise bad_amount
    if not 0 < amount <= MAX_AMOUNT_CENTS:
        raise bad_amount
    return customer, amount


def order_from_row(row: dict[str, Any]) -> dict[str, Any]:
    # Only paid orders are ever stored, so the status is implied by existence.
    return {
        "id": row["id"],
        "customer": row["customer"],
        "amount_cents": row["amount_cents"],
        "payment_id": row["payment_id"],
        "status": "paid",
    }


class OrdersService:
    def __init__(self, config: Config) -> None:
        self.config = config
        # redis-py clients are thread-safe (they hold a connection pool), so
        # one is shared by all request threads. Connections are made lazily.
        self.cache = redis.Redis.from_url(
            config.redis_url,
            decode_responses=True,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )

    def close(self) -> None:
        self.cache.close()

    def db(self) -> psycopg.Connection[dict[str, Any]]:
        # One short-lived connection per request: simple, and plenty for a
        # demo. Used as a context manager it commits on success and closes.
        return psycopg.connect(
            self.config.database_url,
            connect_timeout=DB_CONNECT_TIMEOUT_SECONDS,
            row_factory=dict_row,
        )

    # -- health

    def failed_dependencies(self) -> list[str]:
        failed = []
        try:
            with self.db() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            log.warning("health: postgres check failed: %s", describe(exc))
            failed.append("postgres")
        try:
            self.cache.ping()
        except redis.RedisError as exc:
            log.warning("health: redis check failed: %s", describe(exc))
            failed.append("redis")
        return failed

    # -- payments

    def charge(self, customer: str, amount_cents: int) -> dict[str, Any]:
        unavailable = ApiError(HTTPStatus.BAD_GATEWAY, {"error": "payments provider unavailable"})
        timed_out = ApiError(HTTPStatus.GATEWAY_TIMEOUT, {"error": "payments provider timed out"})
        request = urllib.request.Request(
            f"{self.config.payments_url}/charges",
            data=json.dumps({"amount_cents": amount_cents, "customer": customer}).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=PAYMENTS_TIMEOUT_SECONDS) as response:
                result = json.load(response)
        # OSError covers URLError/HTTPError (non-2xx), refused connections and
        # timeouts; HTTPException covers garbled responses; ValueError bad JSON.
        except (OSError, http.client.HTTPException, ValueError) as exc:
            status = f" (HTTP {exc.code})" if isinstance(exc, urllib.error.HTTPError) else ""
            log.warning("payments provider call failed: %s%s", describe(exc), status)
            if _is_timeout(exc):
                raise timed_out from exc
            raise unavailable from exc
        if (
            not isinstance(result, dict)
            or not isinstance(result.get("id"), str)
            or result.get("status") not in ("approved", "declined")
        ):
            log.warning("payments provider returned an unexpected response")
            raise unavailable
        return result

    # -- orders

    def place_order(self, customer: str, amount_cents: int) -> dict[str, Any]:
        charge = self.charge(customer, amount_cents)
        if charge["status"] == "declined":
            raise ApiError(
                HTTPStatus.PAYMENT_REQUIRED,
                {"error": "payment declined", "reason": charge.get("reason", "unspecified")},
            )
        # NB: if this INSERT fails the customer has been charged without an
        # order. A real service would record the charge first or refund it;
        # the demo keeps the happy path readable.
        with self.db() as conn:
            row = conn.execute(
                "INSERT INTO orders (customer, amount_cents, payment_id) VALUES (%s, %s, %s)"
                " RETURNING id, customer, amount_cents, payment_id",
                (customer, amount_cents, charge["id"]),
            ).fetchone()
        assert row is not None  # INSERT ... RETURNING always yields the row
        order = order_from_row(row)
        self.cache_put(order)
        return order

    def get_order(self, order_id: int) -> tuple[dict[str, Any] | None, bool]:
        """Return (order or None, served_from_cache)."""
        cached = self.cache_get(order_id)
        if cached is not None:
            return cached, True
        with self.db() as conn:
            row = conn.execute(
                "SELECT id, customer, amount_cents, payment_id FROM orders WHERE id = %s",
                (order_id,),
            ).fetchone()
        if row is None:
            return None, False
        order = order_from_row(row)
        self.cache_put(order)
        return order, False

    def list_orders(self, customer: str) -> list[dict[str, Any]]:
        with self.db() as conn:
            rows = conn.execute(
                "SELECT id, customer, amount_cents, payment_id FROM orders"
                " WHERE customer = %s ORDER BY id",
                (customer,),
            ).fetchall()
        return [order_from_row(row) for row in rows]

    # -- cache: Postgres is the source of truth, so Redis trouble degrades to
    #    cache misses instead of failing requests (/healthz still reports it).

    def cache_get(self, order_id: int) -> dict[str, Any] | None:
        try:
            raw = self.cache.get(f"order:{order_id}")
        except redis.RedisError as exc:
            log.warning("cache read failed: %s", describe(exc))
            return None
        if raw is None:
            return None
        try:
            return cast(dict[str, Any], json.loads(cast(str, raw)))
        except ValueError:
            return None  # corrupt entry: fall through to Postgres, which overwrites it

    def cache_put(self, order: dict[str, Any]) -> None:
        try:
            self.cache.set(f"order:{order['id']}", json.dumps(order), ex=CACHE_TTL_SECONDS)
        except redis.RedisError as exc:
            log.warning("cache write failed: %s", describe(exc))


# --------------------------------------------------------------------------
# HTTP plumbing


@dataclass
class Response:
    status: HTTPStatus
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


class OrdersServer(ThreadingHTTPServer):
    # Non-daemon request threads: server_close() then waits for in-flight
    # requests, so SIGTERM drains instead of cutting responses off. Every
    # outbound call has a timeout, and Handler.timeout bounds slow clients.
    daemon_threads = False

    def __init__(self, address: tuple[str, int], service: OrdersService) -> None:
        super().__init__(address, Handler)
        self.service = service


class Handler(BaseHTTPRequestHandler):
    server_version = "orders/1.0"
    timeout = 30

    @property
    def service(self) -> OrdersService:
        return cast(OrdersServer, self.server).service

    def do_GET(self) -> None:
        self.respond(self.route_get)

    def do_POST(self) -> None:
        self.respond(self.route_post)

    def route_get(self) -> Response:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            failed = self.service.failed_dependencies()
            if failed:
                return Response(
                    HTTPStatus.SERVICE_UNAVAILABLE, {"status": "unavailable", "failed": failed}
                )
            return Response(HTTPStatus.OK, {"status": "ok"})

        if url.path == "/orders":
            customer = parse_qs(url.query).get("customer", [""])[0]
            if not customer:
                raise ApiError(
                    HTTPStatus.BAD_REQUEST, {"error": "query parameter 'customer' is required"}
                )
            return Response(HTTPStatus.OK, {"orders": self.service.list_orders(customer)})

        if url.path.startswith("/orders/"):
            raw_id = url.path.removeprefix("/orders/")
            # Out-of-range ids cannot exist; answer 404 rather than letting
            # Postgres raise a numeric overflow.
            if raw_id.isascii() and raw_id.isdigit() and 0 < int(raw_id) <= MAX_ORDER_ID:
                order, hit = self.service.get_order(int(raw_id))
                if order is not None:
                    return Response(HTTPStatus.OK, order, {"X-Cache": "hit" if hit else "miss"})
            return Response(HTTPStatus.NOT_FOUND, {"error": "order not found"})

        return Response(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def route_post(self) -> Response:
        if urlsplit(self.path).path != "/orders":
            return Response(HTTPStatus.NOT_FOUND, {"error": "not found"})
        customer, amount_cents = parse_order_request(self.read_body())
        return Response(HTTPStatus.CREATED, self.service.place_order(customer, amount_cents))

    def read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError as exc:
            raise ApiError(
                HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length header is required"}
            ) from exc
        if not 0 <= length <= MAX_BODY_BYTES:
            too_large = {"error": f"body exceeds {MAX_BODY_BYTES} bytes"}
            raise ApiError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large)
        return self.rfile.read(length)

    def respond(self, route: Callable[[], Response]) -> None:
        try:
            response = route()
        except ApiError as exc:
            response = Response(exc.status, exc.payload)
        except Exception as exc:  # last resort: answer 500 and keep serving
            # Not log.exception(): the message could echo a connection string.
            log.error(
                "unhandled error on %s %s: %s", self.command, self.path, describe(exc)
            )
            response = Response(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})

        data = json.dumps(response.payload).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    # One line per request: method, path, status (replaces the default
    # Apache-style line that also logs the client address and date).
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = int(code) if isinstance(code, int) else code
        log.info("%s %s %s", getattr(self, "command", "-"), getattr(self, "path", "-"), status)

    def log_message(self, format: str, *args: Any) -> None:
        log.warning(format, *args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="orders service of the checkout demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s orders %(message)s"
    )

    service = OrdersService(Config.from_env(os.environ))
    server = OrdersServer((args.host, args.port), service)

    # shutdown() blocks until serve_forever() returns, and serve_forever() runs
    # on this (main) thread, which is also where signal handlers run; so ask
    # for shutdown from another thread to avoid deadlocking.
    def stop(signum: int, _frame: object) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    log.info("listening on http://%s:%d", args.host, server.server_address[1])
    try:
        server.serve_forever()
    finally:
        server.server_close()
        service.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
