"""The whole loop on the local runtime, through the real CLI, with real processes.

Each test checks the promise users rely on most: whatever happens, nothing of the
environment is left on the machine afterwards.
"""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Cli, leftovers

pytestmark = pytest.mark.local

BP = "tests/integration/local/blueprints"
RUN_FIELDS = {"env", "blueprint", "runtime", "status", "services", "suites", "phases"}


def test_reference_blueprint_runs_passes_and_leaves_nothing(cli: Cli) -> None:
    done = cli("run", "blueprints/checkout.yaml", "-o", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)

    assert RUN_FIELDS | {"started_at", "finished_at"} <= set(data)
    assert data["status"] == "passed" and data["runtime"] == "local"
    assert data["blueprint"] == "checkout"
    assert set(data["services"]) == {"db", "cache", "payments-provider", "orders"}
    for name, svc in data["services"].items():
        assert svc["host"] == "127.0.0.1" and isinstance(svc["port"], int), name
        assert svc["ready_seconds"] is not None and svc["ready_seconds"] >= 0, name
    assert data["services"]["db"]["version"].split(".")[0].isdigit(), "engine reports its version"
    assert data["services"]["cache"]["version"]
    [suite] = data["suites"]
    assert suite["name"] == "contract" and suite["status"] == "passed"
    assert suite["tests"]["total"] >= 10 and suite["tests"]["failures"] == 0
    assert Path(suite["junit"]).is_file()
    assert {"plan", "provision", "seed", "suites", "teardown"} <= set(data["phases"])

    assert cli.live() == []
    assert leftovers(data["env"]) == []
    assert (Path(data["run_dir"]) / "logs" / "orders.log").is_file(), "service logs are kept"


def test_a_failing_suite_exits_nonzero_and_tears_down(cli: Cli) -> None:
    done = cli("run", f"{BP}/tiny.yaml", "-o", "json", env={"SUITE_EXIT": "3"})
    data = json.loads(done.stdout)
    assert done.returncode == 1
    assert data["status"] == "failed"
    assert data["suites"][0]["exit_code"] == 3
    assert cli.live() == [] and leftovers(data["env"]) == []


def test_a_crashing_service_fails_fast_with_its_log_and_tears_down(cli: Cli) -> None:
    # Its readiness timeout is 10 minutes; the test would time out long before that.
    done = cli("run", f"{BP}/crashing.yaml", "-o", "json", timeout=120)
    data = json.loads(done.stdout)
    assert done.returncode == 3
    assert data["status"] == "error"
    assert "exited with code 7 before it was ready" in data["error"]["message"]
    assert "config file missing" in data["error"]["log_tail"]
    assert "config file missing" in done.stderr, "the log tail is shown to the user"
    assert "Traceback" not in done.stderr
    assert cli.live() == [] and leftovers(data["env"]) == []


def test_two_runs_of_one_blueprint_at_once_both_pass(cli: Cli) -> None:
    first = cli.popen("run", "blueprints/checkout.yaml", "-o", "json")
    second = cli.popen("run", "blueprints/checkout.yaml", "-o", "json")
    results = []
    for proc in (first, second):
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    a, b = results
    assert a["env"] != b["env"]
    ports_a = {s["port"] for s in a["services"].values()}
    ports_b = {s["port"] for s in b["services"].values()}
    assert not ports_a & ports_b
    assert cli.live() == [] and leftovers(a["env"]) == [] and leftovers(b["env"]) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_run_tears_down(cli: Cli, sig: signal.Signals) -> None:
    proc = cli.popen("run", f"{BP}/tiny.yaml", "-o", "json", env={"SUITE_SLEEP": "60"})
    [row] = cli.wait_for(lambda rows: bool(rows) and rows[0]["status"] == "testing")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    data = json.loads(out)
    assert data["status"] == "error" and data["error"]["type"] == "Interrupted"
    assert sig.name in data["error"]["message"]
    assert cli.live() == [] and leftovers(row["env"]) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_up_tears_down(cli: Cli, sig: signal.Signals) -> None:
    proc = cli.popen("up", f"{BP}/slowstart.yaml")
    [row] = cli.wait_for(lambda rows: bool(rows) and "sleepy" in rows[0]["services"])
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert cli.live() == [] and leftovers(row["env"]) == []


def test_kill_9_during_run_then_gc_leaves_nothing(cli: Cli) -> None:
    proc = cli.popen("run", f"{BP}/tiny.yaml", env={"SUITE_SLEEP": "60"})
    [row] = cli.wait_for(lambda rows: bool(rows) and rows[0]["status"] == "testing")
    proc.kill()
    proc.wait(timeout=10)
    assert leftovers(row["env"]), "the services outlive a SIGKILLed envctl until gc"

    reaped = cli.json("gc")
    assert [r["env"] for r in reaped["reaped"]] == [row["env"]]
    assert "is gone" in reaped["reaped"][0]["reason"]
    assert cli.live() == [] and leftovers(row["env"]) == []


def test_up_status_logs_down(cli: Cli) -> None:
    up = cli("up", f"{BP}/tiny.yaml", "-o", "json")
    assert up.returncode == 0, up.stderr
    env_id = json.loads(up.stdout)["env"]
    [row] = cli.live()
    assert row["env"] == env_id and row["mode"] == "up" and row["status"] == "ready"

    status = cli.json("status", env_id)
    assert all(s["running"] for s in status["services"].values())
    env_file = Path(status["env_file"]).read_text()
    work_dir = Path(status["env_file"]).parent
    # Private: logs and configs may hold secrets (traverse-only when run as root, so
    # that PostgreSQL, run as `nobody`, reaches its own directory).
    assert stat.S_IMODE(work_dir.stat().st_mode) in (0o700, 0o711)
    assert stat.S_IMODE((work_dir / "logs").stat().st_mode) == 0o700
    assert f"ENVCTL_WEB_PORT={status['services']['web']['port']}" in env_file

    logs = cli("logs", env_id, "cache")
    assert logs.returncode == 0 and "Ready to accept connections" in logs.stdout

    down = cli("down", env_id)
    assert down.returncode == 0, down.stderr
    assert cli.live() == [] and leftovers(env_id) == []
    assert "Ready to accept connections" in cli("logs", env_id, "cache").stdout, (
        "logs of a finished environment stay readable"
    )


def test_down_of_an_environment_held_by_up_wait_asks_its_owner(cli: Cli) -> None:
    holder = cli.popen("up", "--wait", f"{BP}/tiny.yaml", "-o", "json")
    [row] = cli.wait_for(lambda rows: bool(rows) and rows[0]["status"] == "ready")
    assert row["mode"] == "run" and row["owner_alive"] is True
    down = cli("down", row["env"])
    assert down.returncode == 0, down.stderr
    holder.communicate(timeout=60)
    assert holder.returncode == 130
    assert cli.live() == [] and leftovers(row["env"]) == []


def test_gc_reaps_up_environments_past_their_ttl(cli: Cli, tmp_path: Path) -> None:
    short = tmp_path / "short-ttl.yaml"
    short.write_text((Path(BP) / "tiny.yaml").read_text().replace("ttl: 1h", "ttl: 3s"))
    up = cli("up", str(short), "-o", "json")
    env_id = json.loads(up.stdout)["env"]
    deadline = time.monotonic() + 30
    reaped: list[dict[str, str]] = []
    while not reaped and time.monotonic() < deadline:
        reaped = cli.json("gc")["reaped"]
        if not reaped:
            assert cli.json("status", env_id)["services"]["web"]["running"]
            time.sleep(0.5)
    assert [(r["env"], r["reason"]) for r in reaped] == [(env_id, "its ttl passed")]
    assert cli.live() == [] and leftovers(env_id) == []


def test_gc_leaves_a_live_run_alone_even_past_its_ttl(cli: Cli, tmp_path: Path) -> None:
    short = tmp_path / "short-ttl.yaml"
    short.write_text((Path(BP) / "tiny.yaml").read_text().replace("ttl: 1h", "ttl: 1s"))
    proc = cli.popen("run", str(short), "-o", "json", env={"SUITE_SLEEP": "4"})
    cli.wait_for(lambda rows: bool(rows) and rows[0]["status"] == "testing")
    time.sleep(1.5)  # past the ttl, while the suite still runs
    assert cli.json("gc")["reaped"] == []
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out)["status"] == "passed"


def test_gc_reaps_processes_that_are_not_in_the_state(cli: Cli) -> None:
    up = cli("up", f"{BP}/tiny.yaml", "-o", "json")
    env_id = json.loads(up.stdout)["env"]
    # Lose the state (a wiped state dir, another machine's runner): the labels remain.
    for path in cli.state_dir.glob("state.db*"):
        path.unlink()
    assert leftovers(env_id)
    reaped = cli.json("gc")["reaped"]
    assert [r["env"] for r in reaped] == [env_id]
    assert leftovers(env_id) == []


def test_a_secret_appears_in_no_output_log_state_or_error(cli: Cli, tmp_path: Path) -> None:
    secret = "s3cr3t-Vault-Value-42"
    done = cli("run", f"{BP}/secret.yaml", "-o", "json", env={"ENVCTL_SECRET_LEAKY": secret})
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert "***" in data["services"]["db"]["url"], "the password is masked, not dropped"

    logs = cli("logs", data["env"])
    assert "my token is ***" in logs.stdout, "the service printed it; envctl masked it"
    junit = Path(data["suites"][0]["junit"]).read_text()
    assert "value ***" in junit, "the suite wrote it into its report; envctl masked it"
    # A service that prints the secret and dies: its log tail goes into the error.
    crashing = tmp_path / "crashing-secret.yaml"
    crashing.write_text(
        (Path(BP) / "secret.yaml")
        .read_text()
        .replace(".serve_forever()", ".server_close() or sys.exit(5)")
    )
    failing = cli("run", str(crashing), "-o", "json", env={"ENVCTL_SECRET_LEAKY": secret})
    assert failing.returncode == 3
    assert "my token is ***" in json.loads(failing.stdout)["error"]["log_tail"]
    for text in (
        done.stdout,
        done.stderr,
        logs.stdout,
        logs.stderr,
        failing.stdout,
        failing.stderr,
    ):
        assert secret not in text
    for path in cli.state_dir.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_json_errors_for_a_bad_blueprint(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: envctl/v1\nkind: Blueprint\nmetadata: {name: x}\nservices:\n"
        "  a: {image: x, depends_on: [b]}\n"
    )
    done = cli("run", str(bad), "-o", "json")
    assert done.returncode == 2
    err = json.loads(done.stdout)["error"]
    assert (err["line"], err["key_path"]) == (5, "services.a.depends_on[0]")
    assert f"{bad}:5:" in done.stderr and "Traceback" not in done.stderr


def test_unknown_runtime_lists_the_valid_ones(cli: Cli) -> None:
    done = cli("run", "blueprints/checkout.yaml", "--runtime", "dockr")
    assert done.returncode == 2
    assert "unknown runtime 'dockr'" in done.stderr and "local" in done.stderr


def test_gc_never_reaps_another_state_stores_environments(cli: Cli, tmp_path: Path) -> None:
    """Two CI jobs on one host with their own state dirs must not reap each other."""
    up = cli("up", f"{BP}/tiny.yaml", "-o", "json")
    env_id = json.loads(up.stdout)["env"]
    other = Cli(tmp_path / "other-state")
    assert other.json("gc")["reaped"] == []
    assert cli.json("status", env_id)["services"]["web"]["running"] is True
    assert cli("down", env_id).returncode == 0


def test_down_kills_nothing_that_is_not_the_environments(cli: Cli) -> None:
    up = cli("up", f"{BP}/tiny.yaml", "-o", "json")
    env_id = json.loads(up.stdout)["env"]
    status = cli.json("status", env_id)
    # A developer's shell sitting in the environment's log dir is not the environment's.
    work_dir = Path(status["env_file"]).parent
    bystander = subprocess.Popen(["sleep", "60"], cwd=work_dir / "logs")
    try:
        assert cli("down", env_id).returncode == 0
        assert bystander.poll() is None, "a process merely inside the work dir survives"
    finally:
        bystander.kill()
        bystander.wait()


READY_COMMAND = """    ready:
      command: >-
        python -c "import socket; socket.create_connection(('127.0.0.1', ${self.port})).close()"
"""


def test_ready_command_sees_resolved_references(cli: Cli, tmp_path: Path) -> None:
    text = (Path(BP) / "tiny.yaml").read_text().replace("    ready: {http: /}\n", READY_COMMAND)
    assert "${self.port}" in text
    blueprint = tmp_path / "ready-command.yaml"
    blueprint.write_text(text)
    done = cli("run", str(blueprint), "-o", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["services"]["web"]["ready_seconds"] is not None


def test_bad_settings_and_paths_are_clean_errors(cli: Cli) -> None:
    bad_source = cli("run", f"{BP}/tiny.yaml", env={"ENVCTL_LOCAL_BINARIES": "bogus"})
    assert bad_source.returncode == 2
    assert "auto, system, wheel" in bad_source.stderr
    unwritable = cli("schema", "--write", "/nonexistent/dir/schema.json")
    assert unwritable.returncode == 2 and "cannot write" in unwritable.stderr
    for done in (bad_source, unwritable):
        assert "Traceback" not in done.stderr
