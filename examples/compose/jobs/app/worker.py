"""The jobs worker: takes job ids off the Redis queue and records each result.

Configuration: DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD; REDIS_HOST,
REDIS_PORT, REDIS_PASSWORD; JOBS_QUEUE (default jobs). Stops on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Any

import psycopg
import redis

QUEUE = os.environ.get("JOBS_QUEUE", "jobs")
stopping = threading.Event()


def work(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What a job does: here, count the words of its text (a stand-in for real work)."""
    text = str(payload.get("text", ""))
    return {"kind": kind, "words": len(text.split())}


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    conn = psycopg.connect(
        host=os.environ["DB_HOST"],
        port=int(os.environ["DB_PORT"]),
        dbname=os.environ["DB_NAME"],
        user=os.environ["DB_USER"],
        password=os.environ["DB_PASSWORD"],
        autocommit=True,
    )
    client = redis.Redis(
        host=os.environ["REDIS_HOST"],
        port=int(os.environ["REDIS_PORT"]),
        password=os.environ.get("REDIS_PASSWORD") or None,
        socket_timeout=5,
    )
    client.ping()
    print(f"worker: waiting for jobs on {QUEUE!r}", flush=True)
    while not stopping.is_set():
        item = client.brpop([QUEUE], timeout=1)
        if item is None:
            continue
        job_id = int(item[1])
        row = conn.execute("SELECT kind, payload FROM jobs WHERE id = %s", (job_id,)).fetchone()
        if row is None:
            continue
        status, result = "done", work(row[0], row[1])
        conn.execute(
            "UPDATE jobs SET status = %s, result = %s, finished_at = now() WHERE id = %s",
            (status, json.dumps(result), job_id),
        )
        print(f"worker: job {job_id} {status}", flush=True)
    conn.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
