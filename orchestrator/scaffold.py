"""What `envctl init` writes: a blueprint that teaches the format in its comments, a tiny
app, and a smoke suite, so that `envctl run` on the new directory passes at once.

The files are templates filled in here; nothing is read from the network or the user's
environment, so the same options always give the same files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.exceptions import UsageError

ENGINES = ("postgres", "redis")
BLUEPRINT = "blueprint.yaml"
COMMENT_COLUMN = 34  # where the templates' comments start


@dataclass(frozen=True)
class Scaffold:
    directory: Path
    name: str
    engines: tuple[str, ...]
    files: tuple[Path, ...]

    @property
    def blueprint(self) -> Path:
        return self.directory / BLUEPRINT

    def to_dict(self) -> dict[str, object]:
        return {
            "directory": str(self.directory),
            "blueprint": str(self.blueprint),
            "name": self.name,
            "with": list(self.engines),
            "files": [str(f) for f in self.files],
        }


def engines_from(values: Sequence[str]) -> tuple[str, ...]:
    """``--with postgres,redis`` (or the option twice) as a checked, ordered tuple."""
    chosen = [v.strip() for value in values for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in ENGINES]
    if unknown:
        raise UsageError(
            f"unknown --with {', '.join(map(repr, unknown))}",
            hint=f"choose from: {', '.join(ENGINES)} (e.g. --with postgres,redis)",
        )
    return tuple(e for e in ENGINES if e in chosen)


def scaffold(directory: Path, *, name: str | None, engines: Sequence[str], force: bool) -> Scaffold:
    from orchestrator.importers.naming import NAME_PATTERN_TEXT, dns_label, is_dns_label

    directory = directory.resolve()
    if name is not None and not is_dns_label(name):
        raise UsageError(f"invalid name {name!r}", hint=f"a name is {NAME_PATTERN_TEXT}")
    chosen = name or dns_label(directory.name, "my-env")
    files = render(chosen, tuple(engines))
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{str(directory)!r} is not a directory", hint="give a directory")
    existing = [rel for rel in files if (directory / rel).exists()]
    if existing and not force:
        raise UsageError(
            f"{str(directory)!r} already has {', '.join(existing)}; not overwriting",
            hint="add --force to replace them, or give another directory: envctl init DIR",
        )
    written = []
    for rel, text in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return Scaffold(directory, chosen, tuple(engines), tuple(written))


def render(name: str, engines: tuple[str, ...]) -> dict[str, str]:
    """Relative path → text of every file `init` writes."""
    return {
        BLUEPRINT: _blueprint(name, engines),
        "app.py": APP,
        "tests/test_smoke.py": _tests(engines),
        "pytest.ini": PYTEST_INI,
    }


def _blueprint(name: str, engines: tuple[str, ...]) -> str:
    postgres, redis = "postgres" in engines, "redis" in engines
    parts = [
        BLUEPRINT_HEAD.format(
            name_line=_commented(f"  name: {name}", "a DNS label: lowercase letters, digits, '-'")
        )
    ]
    if postgres:
        parts.append(SECRETS)
    parts.append("services:\n")
    if postgres:
        parts.append(POSTGRES)
    if redis:
        parts.append(REDIS)
    depends = [n for n, on in (("db", postgres), ("cache", redis)) if on]
    env = []
    if postgres:
        env.append('      DATABASE_URL: "${db.url}"   # postgresql://app:…@host:port/app\n')
    if redis:
        env.append('      REDIS_URL: "${cache.url}"   # redis://host:port/0\n')
    depends_line = f"    depends_on: [{', '.join(depends)}]"
    parts.append(
        APP_SERVICE.format(
            image_line=_commented(f'    image: "{name}-app:dev"', "what container runtimes run"),
            depends=_commented(depends_line, "started once these are ready") + "\n"
            if depends
            else "",
            env=_commented("    env:", "values may hold ${…} references") + "\n" + "".join(env)
            if env
            else "",
        )
    )
    parts.append(DATA if postgres else "")
    parts.append(SUITES)
    return "".join(parts)


BLUEPRINT_HEAD = """\
# A blueprint: one environment that envctl starts, tests and tears down.
# Reference: docs/blueprint.md; the JSON Schema for your editor: `envctl schema`.
#
#   envctl validate blueprint.yaml   every problem at once, with its line
#   envctl run blueprint.yaml        start it, run the suites, tear down; exit code = result
#   envctl up blueprint.yaml         start it and print the endpoints (envctl down ENV)
apiVersion: envctl/v1
kind: Blueprint
metadata:
{name_line}
  owner: my-team                  # who pays: `envctl cost report --by owner`
  tier: standard                  # critical | standard | extended: `envctl run --tier`

"""
SECRETS = """\
secrets:                          # used as ${secret.NAME}; never printed
  DB_PASSWORD: {generate: true}   # a fresh value per environment unless you give one

"""
POSTGRES = """\
  db:
    image: "postgres:15"          # what production runs: its tag is the version checked
    engine: postgres              # envctl starts, probes and seeds it (locally: a process)
    env:                          # the official image's variables
      POSTGRES_USER: app
      POSTGRES_PASSWORD: "${secret.DB_PASSWORD}"
      POSTGRES_DB: app

"""
REDIS = """\
  cache:
    image: "redis:7.0"
    engine: redis

"""
APP_SERVICE = """\
  app:                            # your service
{image_line}
    ports: [8000]                 # the first is ${{app.port}} (locally: a free port)
{depends}\
    ready: {{http: /healthz}}       # ready once GET /healthz answers 2xx (timeout: 60s)
{env}\
    local:                        # how the local runtime runs it: a process on 127.0.0.1
      command: "python app.py --port ${{self.port}}"

"""
DATA = """\
# data:                           # rows in the database before the suites (docs/seeding.md)
#   - service: db
#     schema: schema.sql          # an SQL file next to this one
#     tables:
#       customers: {rows: 1000}   # columns generated from their names and types

"""
SUITES = """\
suites:                           # run from this directory, against the environment
  - name: smoke
    run: "python -m pytest tests -q -p no:cacheprovider --junitxml=${run.dir}/smoke.xml"
    # Each suite sees ENVCTL_<SERVICE>_URL, _HOST and _PORT for every service.

ttl: 2h                           # `envctl up` environments are reaped after this
"""

APP = '''\
"""A stand-in for your service: answers GET /healthz once its dependencies do.

    python app.py --port 8000      (DATABASE_URL and REDIS_URL are optional)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def check() -> dict[str, str]:
    """What /healthz reports: each dependency's version, or an exception."""
    found = {}
    if os.environ.get("DATABASE_URL"):
        import psycopg

        with psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            found["postgres"] = str(row[0]) if row else "?"
    if os.environ.get("REDIS_URL"):
        import redis

        client = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=3)
        found["redis"] = str(client.info("server")["redis_version"])
    return found


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/healthz":
            self.reply(404, {"error": "not found"})
            return
        try:
            self.reply(200, {"ok": True, **check()})
        except Exception as exc:  # any dependency failing makes the service unready
            self.reply(503, {"ok": False, "error": str(exc).splitlines()[0]})

    def reply(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    server = ThreadingHTTPServer(("127.0.0.1", parser.parse_args().port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
'''

TESTS_HEAD = '''\
"""The smoke suite `envctl run` runs: the environment answers, end to end.

envctl gives every suite ENVCTL_<SERVICE>_URL, _HOST and _PORT for each service.
"""

from __future__ import annotations

import json
import os
import urllib.request


def test_the_app_is_healthy() -> None:
    with urllib.request.urlopen(os.environ["ENVCTL_APP_URL"] + "/healthz", timeout=5) as resp:
        assert resp.status == 200
        assert json.load(resp)["ok"] is True
'''
TESTS_POSTGRES = """

def test_postgres_answers_queries() -> None:
    import psycopg

    with psycopg.connect(os.environ["ENVCTL_DB_URL"], connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
"""
TESTS_REDIS = """

def test_redis_answers_ping() -> None:
    import redis

    assert redis.Redis.from_url(os.environ["ENVCTL_CACHE_URL"], socket_timeout=5).ping()
"""


def _commented(text: str, comment: str) -> str:
    """``text`` with ``comment`` in the column the templates' comments use."""
    return f"{text.ljust(COMMENT_COLUMN - 1)} # {comment}"


def _tests(engines: tuple[str, ...]) -> str:
    return (
        TESTS_HEAD
        + (TESTS_POSTGRES if "postgres" in engines else "")
        + (TESTS_REDIS if "redis" in engines else "")
    )


PYTEST_INI = """\
# Keeps pytest's settings to this directory (not a parent project's).
[pytest]
testpaths = tests
"""
