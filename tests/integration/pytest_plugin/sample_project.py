"""The sample project the plugin's tests run pytest on, and how they run it.

PostgreSQL with seeded rows, Redis and a tiny stdlib HTTP app behind a ``from: suite``
link; its tests note which environment (and xdist worker) served each of them, so a run
can be checked from outside: environments per worker or scope, the runs recorded in the
private state dir, nothing left behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from orchestrator.state import StateStore
from tests.conftest import Cli, leftovers

BLUEPRINT = """
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: sample, owner: tests}
secrets:
  DB_PASSWORD: {generate: true}
  CACHE_PASSWORD: {generate: true}
services:
  db:
    image: "postgres:15"
    engine: postgres
    ports: [5432]
    env: {POSTGRES_USER: app, POSTGRES_PASSWORD: "${secret.DB_PASSWORD}", POSTGRES_DB: shop}
  cache:
    image: "redis:7"
    engine: redis
    ports: [6379]
    env: {REDIS_PASSWORD: "${secret.CACHE_PASSWORD}"}
  app:
    ports: [8000]
    ready: {http: /healthz}
    local: {command: "python app.py ${self.port}"}
links:
  - {from: suite, to: app, latency: {mean: 1ms}}
data:
  - service: db
    schema: schema.sql
    seed: 7
    tables:
      items: {rows: 2000}
ttl: 30m
"""

SCHEMA = "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price integer NOT NULL);\n"

APP = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""

# Shared by the sample's test modules: which environment served a test, in which worker.
NOTES = """
import json
import os
import time
import urllib.request
from pathlib import Path

OUT = Path(os.environ["SAMPLE_OUT"])


def note(env, test):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    (OUT / f"{test}.json").write_text(json.dumps({"env": env.env_id, "worker": worker}))


def seconds_to_get(url):
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
    return time.monotonic() - started
"""

WAITING = """
import time

from sample_notes import OUT, note


def test_{name}_waits_to_be_interrupted(envctl_env):
    note(envctl_env, "{name}")
    (OUT / "started-{name}").write_text(envctl_env.env_id)
    time.sleep(60)
"""


def make_project(root: Path, **tests: str) -> Path:
    files = {"bp.yaml": BLUEPRINT, "schema.sql": SCHEMA, "app.py": APP, "sample_notes.py": NOTES}
    for name, text in {**files, **tests}.items():
        (root / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    (root / "out").mkdir()
    return root


def environ(cli: Cli, project: Path) -> dict[str, str]:
    """The child pytest's: a private state dir, nothing of the outer pytest (xdist)."""
    env = {k: v for k, v in cli.env().items() if not k.startswith(("PYTEST_", "CI"))}
    env["SAMPLE_OUT"] = str(project / "out")
    env["PYTHONPATH"] = str(project)
    env["COLUMNS"] = "400"  # whole lines in pytest's short summary
    return env


def run_pytest(cli: Cli, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"],
        cwd=project,
        env=environ(cli, project),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def noted(project: Path) -> dict[str, dict[str, str]]:
    return {p.stem: json.loads(p.read_text()) for p in (project / "out").glob("*.json")}


def recorded_runs(cli: Cli) -> list[dict[str, Any]]:
    return StateStore(cli.state_dir / "state.db").runs()


def nothing_left(cli: Cli, env_ids: set[str]) -> None:
    for env_id in env_ids:
        assert leftovers(env_id) == [], env_id
    assert cli.live() == []
