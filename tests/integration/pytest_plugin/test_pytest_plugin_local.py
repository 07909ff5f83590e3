"""The pytest plugin, end to end: a sample project's suite run by a real pytest subprocess
(``sample_project.py``): environments per worker and scope, failures to start."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.integration.pytest_plugin.sample_project import (
    BLUEPRINT,
    make_project,
    noted,
    nothing_left,
    recorded_runs,
    run_pytest,
)

pytestmark = pytest.mark.local

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


def test_each_xdist_worker_brings_up_its_own_environment(cli: Cli, tmp_path: Path) -> None:
    project = make_project(tmp_path, **{"test_sample.py": TESTS})
    done = run_pytest(cli, project, "-n", "2", "--envctl", "bp.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout

    notes = noted(project)
    by_worker: dict[str, set[str]] = {}
    for note in notes.values():
        by_worker.setdefault(note["worker"], set()).add(note["env"])
    assert set(by_worker) == {"gw0", "gw1"}, notes
    assert all(len(ids) == 1 for ids in by_worker.values()), "one environment per worker"
    env_ids = set().union(*by_worker.values())
    assert len(env_ids) == 2, "distinct environments"
    runs = recorded_runs(cli)
    assert {r["env"] for r in runs} == env_ids, "the controller started none of its own"
    assert all(r["status"] == "passed" and r["teardown"]["complete"] for r in runs)
    for env_id, worker in ((next(iter(ids)), w) for w, ids in by_worker.items()):
        assert f"envctl: {env_id} up in" in done.stdout and f"[{worker}]" in done.stdout
    nothing_left(cli, env_ids)

    # Both workers seeded the same data key at once; what was kept is intact: the next
    # session starts from it and finds the very same rows.
    again = run_pytest(cli, project, "--envctl", "bp.yaml", "-k", "db_holds")
    assert again.returncode == 0, again.stdout + again.stderr
    third = noted(project)["db"]["env"]
    assert third not in env_ids
    seeding = next(r for r in recorded_runs(cli) if r["env"] == third)["seeding"]
    assert [entry["cache"] for entry in seeding] == ["hit"]
    digests = {(project / "out" / f"digest-{e}").read_text() for e in {*env_ids, third}}
    assert len(digests) == 1, "the same rows in every environment"
    nothing_left(cli, {third})


def test_without_xdist_one_environment_serves_the_session(cli: Cli, tmp_path: Path) -> None:
    project = make_project(tmp_path, **{"test_sample.py": TESTS})
    done = run_pytest(cli, project, "-v", "--envctl", "bp.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    env_ids = {note["env"] for note in noted(project).values()}
    assert len(env_ids) == 1
    (env_id,) = env_ids
    assert [r["env"] for r in recorded_runs(cli)] == [env_id]
    assert f"envctl: {env_id} up in" in done.stdout and ", 0 leftovers" in done.stdout
    assert "ready    db" in done.stdout, "progress lines at -v"
    assert "Traceback" not in done.stdout
    nothing_left(cli, env_ids)


def test_markers_give_modules_and_classes_their_own_environments(cli: Cli, tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        **{
            "test_marked_a.py": MARKED_MODULE.replace("{name}", "a"),
            "test_marked_b.py": MARKED_MODULE.replace("{name}", "b"),
            "test_marked_class.py": MARKED_CLASS,
        },
    )
    done = run_pytest(cli, project, "--envctl", "bp.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    env = {test: note["env"] for test, note in noted(project).items()}
    assert env["a-first"] == env["a-second"] and env["b-first"] == env["b-second"]
    assert env["class-one"] == env["class-two"]
    scopes = {env["a-first"], env["b-first"], env["class-one"], env["unmarked"]}
    assert len(scopes) == 4, "module a, module b, the class, and the session's (--envctl)"
    assert {r["env"] for r in recorded_runs(cli)} == scopes
    nothing_left(cli, scopes)


def test_a_test_asking_with_nothing_configured_is_told_both_ways(cli: Cli, tmp_path: Path) -> None:
    project = make_project(tmp_path, **{"test_sample.py": TESTS})
    (project / "test_light.py").write_text(
        "import sys\n\n"
        "def test_plugin_imports_nothing_heavy():\n"
        "    assert 'orchestrator.api' not in sys.modules\n"
        "    assert 'orchestrator.engine' not in sys.modules\n"
        "    import orchestrator.exceptions\n"
        "    # envctl's modules are not rewritten by pytest, the plugin's own half too\n"
        "    envs = sys.modules['orchestrator.pytest_envs']\n"
        "    for module in (orchestrator.exceptions, envs):\n"
        "        loader = type(module.__loader__).__name__\n"
        "        assert loader == 'SourceFileLoader', (module, loader)\n",
        encoding="utf-8",
    )
    done = run_pytest(cli, project, "-k", "endpoints or heavy")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 passed, 3 deselected, 1 error" in done.stdout
    assert "--envctl BLUEPRINT" in done.stdout and "@pytest.mark.envctl(" in done.stdout
    assert "Traceback" not in done.stdout
    assert not cli.state_dir.exists(), "no environment, no state: the plugin did nothing"


def test_a_broken_blueprint_is_one_clear_line(cli: Cli, tmp_path: Path) -> None:
    project = make_project(tmp_path, **{"test_sample.py": TESTS})
    broken = BLUEPRINT.replace("engine: redis", "engine: redys")
    (project / "broken.yaml").write_text(textwrap.dedent(broken).lstrip(), encoding="utf-8")
    done = run_pytest(cli, project, "--envctl", "broken.yaml")
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    line = next(x for x in done.stderr.splitlines() if "broken.yaml" in x)
    assert line.startswith("ERROR: envctl: ") and "broken.yaml:15:" in line, done.stderr
    assert "services.cache.engine" in line
    assert "Traceback" not in done.stdout + done.stderr
    assert not cli.state_dir.exists()

    # Named by a marker, it fails the module's tests, each with that same line.
    marked = MARKED_MODULE.replace("bp.yaml", "broken.yaml").replace("{name}", "broken")
    (project / "test_marked_broken.py").write_text(textwrap.dedent(marked).lstrip())
    done = run_pytest(cli, project, "test_marked_broken.py")
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [x for x in done.stdout.splitlines() if x.startswith("ERROR test_marked_broken")]
    assert len(errors) == 2 and len({x.split(" - ", 1)[1] for x in errors}) == 1, errors
    assert "broken.yaml:15:" in errors[0] and "services.cache.engine" in errors[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert not cli.state_dir.exists()


def test_an_environment_that_cannot_start_fails_its_tests_fast(cli: Cli, tmp_path: Path) -> None:
    project = make_project(tmp_path, **{"test_sample.py": TESTS})
    crashing = BLUEPRINT.replace("python app.py ${self.port}", "python -c 'raise SystemExit(3)'")
    (project / "bp.yaml").write_text(textwrap.dedent(crashing).lstrip(), encoding="utf-8")
    done = run_pytest(cli, project, "--envctl", "bp.yaml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "4 errors" in done.stdout
    errors = [x for x in done.stdout.splitlines() if x.startswith("ERROR test_sample.py::")]
    assert len(errors) == 4
    reasons = {x.split(" - ", 1)[1] for x in errors}
    assert len(reasons) == 1, "later tests fail with the same message"
    assert "service 'app'" in reasons.pop()
    assert "Traceback" not in done.stdout and "During handling" not in done.stdout
    (run,) = recorded_runs(cli)  # started once, not once per test
    assert run["status"] == "error" and run["teardown"]["complete"]
    nothing_left(cli, {run["env"]})
