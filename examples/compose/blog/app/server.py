"""The blog: posts from PostgreSQL, rendered pages cached in Redis.

    DATABASE_URL=postgresql://… CACHE_URL=redis://… python server.py --bind HOST:PORT

GET /healthz  200 {"postgres": version, "redis": version, "migrated": bool} once both
              answer, else 503 (the migrate job may not have run: that is not an outage)
GET /posts    the latest posts (X-Cache: hit|miss); 503 before the migrations
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import redis

PER_PAGE = int(os.environ.get("POSTS_PER_PAGE", "20"))


def database() -> psycopg.Connection[Any]:
    return psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=3, autocommit=True)


def cache() -> redis.Redis:
    return redis.Redis.from_url(os.environ["CACHE_URL"], socket_timeout=3)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            self.healthz()
        elif self.path == "/posts":
            self.posts()
        else:
            self.reply(404, {"error": "not found"})

    def healthz(self) -> None:
        try:
            with database() as conn:
                row = conn.execute(
                    "SELECT current_setting('server_version'), to_regclass('posts') IS NOT NULL"
                ).fetchone()
            client = cache()
            client.ping()
            redis_version = client.info("server")["redis_version"]
        except (psycopg.Error, redis.RedisError) as exc:
            self.reply(503, {"error": str(exc).splitlines()[0]})
            return
        version, migrated = row if row else (None, False)
        self.reply(200, {"postgres": version, "redis": redis_version, "migrated": migrated})

    def posts(self) -> None:
        client = cache()
        page = client.get("posts:latest")
        if page is not None:
            self.reply(200, json.loads(page), {"X-Cache": "hit"})
            return
        try:
            with database() as conn:
                rows = conn.execute(
                    "SELECT slug, title FROM posts ORDER BY published DESC LIMIT %s", (PER_PAGE,)
                ).fetchall()
        except psycopg.errors.UndefinedTable:
            self.reply(503, {"error": "no posts table: run the migrations"})
            return
        posts = [{"slug": slug, "title": title} for slug, title in rows]
        client.set("posts:latest", json.dumps(posts), ex=60)
        self.reply(200, posts, {"X-Cache": "miss"})

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
        sys.stderr.write(f"blog: {format % args}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", default="0.0.0.0:5000", help="HOST:PORT")
    host, _, port = parser.parse_args().bind.rpartition(":")
    server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"blog: listening on {host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
