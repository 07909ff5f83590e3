"""The jobs API: queue work for the worker, read its result.

    DATABASE_URL=postgresql://… QUEUE_URL=redis://… python api.py --port 8080

GET  /healthz     200 {"postgres": version, "schema": bool, "queued": n} once
                  PostgreSQL and the queue answer, else 503
POST /jobs        {"kind": "...", "payload": {...}} → 202 {"id": n, "receipt": "..."}
GET  /jobs/<id>   200 the job (status queued | done | failed) | 404
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import redis

QUEUE = os.environ.get("JOBS_QUEUE", "jobs")
SIGNING_SECRET = os.environ.get("RECEIPT_SIGNING_SECRET", "").encode()
MAX_BODY = 64 * 1024


def database() -> psycopg.Connection[Any]:
    return psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=3, autocommit=True)


def queue() -> redis.Redis:
    return redis.Redis.from_url(os.environ["QUEUE_URL"], socket_timeout=3)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            try:
                with database() as conn:
                    row = conn.execute(
                        "SELECT current_setting('server_version'), to_regclass('jobs') IS NOT NULL"
                    ).fetchone()
                queued = queue().llen(QUEUE)
            except (psycopg.Error, redis.RedisError) as exc:
                self.reply(503, {"error": str(exc).splitlines()[0]})
                return
            version, schema = row if row else (None, False)
            self.reply(200, {"postgres": version, "schema": schema, "queued": queued})
        elif self.path.startswith("/jobs/") and self.path[6:].isdigit():
            with database() as conn:
                found = conn.execute(
                    "SELECT id, kind, status, result FROM jobs WHERE id = %s", (int(self.path[6:]),)
                ).fetchone()
            if found is None:
                self.reply(404, {"error": "no such job"})
            else:
                job_id, kind, status, result = found
                self.reply(200, {"id": job_id, "kind": kind, "status": status, "result": result})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/jobs":
            self.reply(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(min(length, MAX_BODY)) or b"{}")
            kind, payload = str(body["kind"]), body.get("payload", {})
        except (ValueError, KeyError, TypeError):
            self.reply(400, {"error": 'send {"kind": "...", "payload": {...}}'})
            return
        with database() as conn:
            row = conn.execute(
                "INSERT INTO jobs (kind, payload) VALUES (%s, %s) RETURNING id",
                (kind, json.dumps(payload)),
            ).fetchone()
        assert row is not None
        queue().lpush(QUEUE, row[0])
        receipt = hmac.new(SIGNING_SECRET, str(row[0]).encode(), hashlib.sha256).hexdigest()
        self.reply(202, {"id": row[0], "receipt": receipt[:16]})

    def reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"api: {format % args}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="0.0.0.0")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"api: listening on {args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
