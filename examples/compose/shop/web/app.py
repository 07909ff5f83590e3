"""The shop's web app: products from PostgreSQL, cached in Redis.

    PORT=8000 DATABASE_URL=postgresql://… REDIS_URL=redis://… python app.py

GET /healthz   200 {"postgres": version, "redis": version} once both answer, else 503
GET /products  the catalogue (X-Cache: hit|miss)
"""

from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import redis

DATABASE_URL = os.environ["DATABASE_URL"]
REDIS_URL = os.environ["REDIS_URL"]
CACHE_SECONDS = int(os.environ.get("PRODUCTS_CACHE_SECONDS", "30"))
CATALOGUE = [("Espresso beans 1kg", 2490), ("Pour-over kettle", 5900), ("Ceramic mug", 1200)]


def database() -> psycopg.Connection[Any]:
    return psycopg.connect(DATABASE_URL, connect_timeout=3, autocommit=True)


def cache() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL, socket_timeout=3, socket_connect_timeout=3)


def prepare() -> None:
    """The table and a few products, once (a real shop would migrate)."""
    with database() as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS products ("
            " id serial PRIMARY KEY, name text NOT NULL, price_cents integer NOT NULL)"
        )
        row = conn.execute("SELECT count(*) FROM products").fetchone()
        if row is not None and row[0] == 0:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO products (name, price_cents) VALUES (%s, %s)", CATALOGUE
                )


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            self.healthz()
        elif self.path == "/products":
            self.products()
        else:
            self.reply(404, {"error": "not found"})

    def healthz(self) -> None:
        try:
            with database() as conn:
                row = conn.execute("SHOW server_version").fetchone()
            client = cache()
            client.ping()
            info = client.info("server")
        except (psycopg.Error, redis.RedisError) as exc:
            self.reply(503, {"error": str(exc).splitlines()[0]})
            return
        self.reply(200, {"postgres": row[0] if row else None, "redis": info["redis_version"]})

    def products(self) -> None:
        client = cache()
        cached = client.get("products")
        if cached is not None:
            self.reply(200, json.loads(cached), {"X-Cache": "hit"})
            return
        with database() as conn:
            rows = conn.execute("SELECT id, name, price_cents FROM products ORDER BY id")
            items = [{"id": i, "name": n, "price_cents": p} for i, n, p in rows]
        client.set("products", json.dumps(items), ex=CACHE_SECONDS)
        self.reply(200, items, {"X-Cache": "miss"})

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"web: {format % args}\n")


def main() -> None:
    prepare()
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Handler)
    # serve_forever() runs in this thread: leave it by raising, not by shutdown().
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"web: listening on port {server.server_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
