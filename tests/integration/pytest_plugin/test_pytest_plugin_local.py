"""The pytest plugin, end to end: a sample project's suite run by a real pytest subprocess.

The project (written to a tmp dir) has PostgreSQL with seeded rows, Redis and a tiny
stdlib HTTP app behind a ``from: suite`` link; its tests use ``envctl_env`` and note
which environment (and xdist worker) served each of them, so the runs can be checked
from outside: environments per worker or scope, the runs recorded in the private state
dir, nothing left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.state import StateStore
from tests.conftest import Cli, leftovers

pytestmark = pytest.mark.local

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

TESTS = """
import statistics

import psycopg
import pytest
import redis

from orchestrator.exceptions import UsageError
from sample_notes import OUT, note, seconds_to_get


@pytest.fixture(autouse=True)
def digest_of_the_rows(envctl_env):
    # Every environment's seeded rows, digested, to compare them across environments.
    yield
    with psycopg.connect(envctl_env.url("db")) as conn:
        (digest,) = conn.execute(
            "SELECT md5(string_agg(name || ':' || price, ',' ORDER BY id)) FROM items"
        ).fetchone()
    (OUT / f"digest-{envctl_env.env_id}").write_text(digest)


def test_db_holds_the_seeded_rows(envctl_env):
    note(envctl_env, "db")
    with psycopg.connect(envctl_env.url("db")) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (2000,)


def test_cache_sets_and_gets(envctl_env):
    note(envctl_env, "cache")
    client = redis.Redis.from_url(envctl_env.url("cache"))
    client.set("greeting", "hello")
    assert client.get("greeting") == b"hello"


def test_app_is_slower_under_a_live_latency_fault(envctl_env):
    note(envctl_env, "app")
    url = envctl_env.url("app") + "/"
    before = [seconds_to_get(url) for _ in range(5)]
    with envctl_env.fault("suite-app", "latency", mean="300ms") as added:
        assert added.name in {f.name for f in envctl_env.faults("suite-app")}
        during = [seconds_to_get(url) for _ in range(3)]
    after = [seconds_to_get(url) for _ in range(5)]
    assert statistics.median(before) < 0.15, before
    assert min(during) >= 0.3, during
    assert statistics.median(after) < 0.15, after
    assert [f.name for f in envctl_env.faults("suite-app")] == ["latency"]


def test_endpoints_are_typed_and_names_checked(envctl_env):
    note(envctl_env, "endpoints")
    db = envctl_env.endpoint("db")
    assert db.host == "127.0.0.1" and db.port and db.url.startswith("postgresql://app:")
    assert "ENVCTL_DB_URL=" in envctl_env.env_file.read_text()
    with pytest.raises(UsageError, match="no service 'nope'") as caught:
        envctl_env.endpoint("nope")
    assert caught.value.hint == "services: db, cache, app"
"""

MARKED_MODULE = """
import pytest

from sample_notes import note

pytestmark = pytest.mark.envctl("bp.yaml", scope="module")


def test_first(envctl_env):
    note(envctl_env, "{name}-first")


def test_second(envctl_env):
    note(envctl_env, "{name}-second")
"""

MARKED_CLASS = """
import pytest

from sample_notes import note


@pytest.mark.envctl("bp.yaml", scope="class")
class TestOwnEnvironment:
    def test_one(self, envctl_env):
        note(envctl_env, "class-one")

    def test_two(self, envctl_env):
        note(envctl_env, "class-two")


def test_unmarked_uses_the_session_environment(envctl_env):
    note(envctl_env, "unmarked")
"""

WAITING = """
import time

from sample_notes import OUT, note


def test_{name}_waits_to_be_interrupted(envctl_env):
    note(envctl_env, "{name}")
    (OUT / "started-{name}").write_text(envctl_env.env_id)
    time.sleep(60)
"""


def _project(root: Path, **tests: str) -> Path:
    files = {"bp.yaml": BLUEPRINT, "schema.sql": SCHEMA, "app.py": APP, "sample_notes.py": NOTES}
    for name, text in {**files, **tests}.items():
        (root / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    (root / "out").mkdir()
    return root


def _environ(cli: Cli, project: Path) -> dict[str, str]:
    """The child pytest's: a private state dir, nothing of the outer pytest (xdist)."""
    env = {k: v for k, v in cli.env().items() if not k.startswith(("PYTEST_", "CI"))}
    env["SAMPLE_OUT"] = str(project / "out")
    env["PYTHONPATH"] = str(project)
    env["COLUMNS"] = "400"  # whole lines in pytest's short summary
    return env


def _pytest(cli: Cli, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"],
        cwd=project,
        env=_environ(cli, project),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _notes(project: Path) -> dict[str, dict[str, str]]:
    return {p.stem: json.loads(p.read_text()) for p in (project / "out").glob("*.json")}


def _runs(cli: Cli) -> list[dict[str, Any]]:
    return StateStore(cli.state_dir / "state.db").runs()


def _nothing_left(cli: Cli, env_ids: set[str]) -> None:
    for env_id in env_ids:
        assert leftovers(env_id) == [], env_id
    assert cli.live() == []


def test_each_xdist_worker_brings_up_its_own_environment(cli: Cli, tmp_path: Path) -> None:
    project = _project(tmp_path, **{"test_sample.py": TESTS})
    done = _pytest(cli, project, "-n", "2", "--envctl", "bp.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout

    notes = _notes(project)
    by_worker: dict[str, set[str]] = {}
    for note in notes.values():
        by_worker.setdefault(note["worker"], set()).add(note["env"])
    assert set(by_worker) == {"gw0", "gw1"}, notes
    assert all(len(ids) == 1 for ids in by_worker.values()), "one environment per worker"
    env_ids = set().union(*by_worker.values())
    assert len(env_ids) == 2, "distinct environments"
    runs = _runs(cli)
    assert {r["env"] for r in runs} == env_ids, "the controller started none of its own"
    assert all(r["status"] == "passed" and r["teardown"]["complete"] for r in runs)
    for env_id, worker in ((next(iter(ids)), w) for w, ids in by_worker.items()):
        assert f"envctl: {env_id} up in" in done.stdout and f"[{worker}]" in done.stdout
    _nothing_left(cli, env_ids)

    # Both workers seeded the same data key at once; what was kept is intact: the next
    # session starts from it and finds the very same rows.
    again = _pytest(cli, project, "--envctl", "bp.yaml", "-k", "db_holds")
    assert again.returncode == 0, again.stdout + again.stderr
    third = _notes(project)["db"]["env"]
    assert third not in env_ids
    seeding = next(r for r in _runs(cli) if r["env"] == third)["seeding"]
    assert [entry["cache"] for entry in seeding] == ["hit"]
    digests = {(project / "out" / f"digest-{e}").read_text() for e in {*env_ids, third}}
    assert len(digests) == 1, "the same rows in every environment"
    _nothing_left(cli, {third})


def test_without_xdist_one_environment_serves_the_session(cli: Cli, tmp_path: Path) -> None:
    project = _project(tmp_path, **{"test_sample.py": TESTS})
    done = _pytest(cli, project, "-v", "--envctl", "bp.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    env_ids = {note["env"] for note in _notes(project).values()}
    assert len(env_ids) == 1
    (env_id,) = env_ids
    assert [r["env"] for r in _runs(cli)] == [env_id]
    assert f"envctl: {env_id} up in" in done.stdout and ", 0 leftovers" in done.stdout
    assert "ready    db" in done.stdout, "progress lines at -v"
    assert "Traceback" not in done.stdout
    _nothing_left(cli, env_ids)


def test_markers_give_modules_and_classes_their_own_environments(cli: Cli, tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        **{
            "test_marked_a.py": MARKED_MODULE.replace("{name}", "a"),
            "test_marked_b.py": MARKED_MODULE.replace("{name}", "b"),
            "test_marked_class.py": MARKED_CLASS,
        },
    )
    done = _pytest(cli, project, "--envctl", "bp.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    env = {test: note["env"] for test, note in _notes(project).items()}
    assert env["a-first"] == env["a-second"] and env["b-first"] == env["b-second"]
    assert env["class-one"] == env["class-two"]
    scopes = {env["a-first"], env["b-first"], env["class-one"], env["unmarked"]}
    assert len(scopes) == 4, "module a, module b, the class, and the session's (--envctl)"
    assert {r["env"] for r in _runs(cli)} == scopes
    _nothing_left(cli, scopes)


def test_a_test_asking_with_nothing_configured_is_told_both_ways(cli: Cli, tmp_path: Path) -> None:
    project = _project(tmp_path, **{"test_sample.py": TESTS})
    (project / "test_light.py").write_text(
        "import sys\n\n"
        "def test_plugin_imports_nothing_heavy():\n"
        "    assert 'orchestrator.api' not in sys.modules\n"
        "    assert 'orchestrator.engine' not in sys.modules\n"
        "    import orchestrator.exceptions\n"
        "    # envctl's modules are not rewritten by pytest: only the plugin is\n"
        "    loader = type(orchestrator.exceptions.__loader__).__name__\n"
        "    assert loader == 'SourceFileLoader', loader\n",
        encoding="utf-8",
    )
    done = _pytest(cli, project, "-k", "endpoints or heavy")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 passed, 3 deselected, 1 error" in done.stdout
    assert "--envctl BLUEPRINT" in done.stdout and "@pytest.mark.envctl(" in done.stdout
    assert "Traceback" not in done.stdout
    assert not cli.state_dir.exists(), "no environment, no state: the plugin did nothing"


@pytest.mark.parametrize(
    ("signum", "xdist"),
    [(signal.SIGINT, []), (signal.SIGINT, ["-n", "2"]), (signal.SIGTERM, [])],
    ids=["ctrl-c", "ctrl-c-xdist", "sigterm"],
)
def test_a_session_interrupted_mid_test_still_tears_down(
    cli: Cli, tmp_path: Path, signum: signal.Signals, xdist: list[str]
) -> None:
    # A test for each worker, so that both hold an environment when the signal comes.
    names = ["first", "second"] if xdist else ["first"]
    project = _project(tmp_path, **{f"test_{n}.py": WAITING.replace("{name}", n) for n in names})
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *xdist, "--envctl", "bp.yaml", "-p", "no:cacheprovider"],
        cwd=project,
        env=_environ(cli, project),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(list((project / "out").glob("started-*"))) < len(names):
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the environments never came up"
            time.sleep(0.2)
        env_ids = {p.read_text() for p in (project / "out").glob("started-*")}
        assert {row["env"] for row in cli.live()} == env_ids
        os.killpg(proc.pid, signum)  # as a terminal's Ctrl-C (or CI's cancel): the group
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, output  # pytest's "interrupted"
    assert "KeyboardInterrupt" in output
    runs = _runs(cli)
    assert {run["env"] for run in runs} == env_ids
    for run in runs:
        assert run["status"] == "error" and run["teardown"]["complete"], run
        assert run["error"]["type"] == "Interrupted"
        assert signum.name in run["error"]["message"]
    _nothing_left(cli, env_ids)


def test_a_broken_blueprint_is_one_clear_line(cli: Cli, tmp_path: Path) -> None:
    project = _project(tmp_path, **{"test_sample.py": TESTS})
    broken = BLUEPRINT.replace("engine: redis", "engine: redys")
    (project / "broken.yaml").write_text(textwrap.dedent(broken).lstrip(), encoding="utf-8")
    done = _pytest(cli, project, "--envctl", "broken.yaml")
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    line = next(x for x in done.stderr.splitlines() if "broken.yaml" in x)
    assert line.startswith("ERROR: envctl: ") and "broken.yaml:15:" in line, done.stderr
    assert "services.cache.engine" in line
    assert "Traceback" not in done.stdout + done.stderr
    assert not cli.state_dir.exists()

    # Named by a marker, it fails the module's tests, each with that same line.
    marked = MARKED_MODULE.replace("bp.yaml", "broken.yaml").replace("{name}", "broken")
    (project / "test_marked_broken.py").write_text(textwrap.dedent(marked).lstrip())
    done = _pytest(cli, project, "test_marked_broken.py")
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [x for x in done.stdout.splitlines() if x.startswith("ERROR test_marked_broken")]
    assert len(errors) == 2 and len({x.split(" - ", 1)[1] for x in errors}) == 1, errors
    assert "broken.yaml:15:" in errors[0] and "services.cache.engine" in errors[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert not cli.state_dir.exists()


def test_an_environment_that_cannot_start_fails_its_tests_fast(cli: Cli, tmp_path: Path) -> None:
    project = _project(tmp_path, **{"test_sample.py": TESTS})
    crashing = BLUEPRINT.replace("python app.py ${self.port}", "python -c 'raise SystemExit(3)'")
    (project / "bp.yaml").write_text(textwrap.dedent(crashing).lstrip(), encoding="utf-8")
    done = _pytest(cli, project, "--envctl", "bp.yaml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "4 errors" in done.stdout
    errors = [x for x in done.stdout.splitlines() if x.startswith("ERROR test_sample.py::")]
    assert len(errors) == 4
    reasons = {x.split(" - ", 1)[1] for x in errors}
    assert len(reasons) == 1, "later tests fail with the same message"
    assert "service 'app'" in reasons.pop()
    assert "Traceback" not in done.stdout and "During handling" not in done.stdout
    (run,) = _runs(cli)  # started once, not once per test
    assert run["status"] == "error" and run["teardown"]["complete"]
    _nothing_left(cli, {run["env"]})
