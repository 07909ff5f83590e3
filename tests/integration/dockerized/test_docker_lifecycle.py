"""The whole loop on Docker, through the real CLI, against a real engine.

What users rely on: the blueprint that runs locally runs as containers; environments
cannot see each other; and nothing is left behind, even when envctl is killed.
"""

from __future__ import annotations

import json
import signal
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.state import StateStore
from tests.conftest import Cli
from tests.integration.dockerized.conftest import labelled

pytestmark = pytest.mark.docker

BP = "tests/integration/dockerized/blueprints"


def test_reference_blueprint_runs_on_docker_and_leaves_nothing(
    cli: Cli, docker_client: Any
) -> None:
    done = cli("run", "blueprints/checkout.yaml", "--runtime", "docker", "-o", "json", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(done.stdout)
    assert data["status"] == "passed" and data["runtime"] == "docker"
    [suite] = data["suites"]
    assert suite["status"] == "passed" and suite["tests"]["failures"] == 0
    assert suite["tests"]["total"] >= 10
    for name, svc in data["services"].items():
        # Published on loopback only.
        assert svc["host"] == "127.0.0.1" and isinstance(svc["port"], int), name
        assert svc["image_id"].startswith("sha256:"), f"{name}: the image ID is recorded"
    assert data["services"]["db"]["version"].startswith("15."), "the engine's own version"
    assert data["services"]["orders"]["image"] == "orders:1.42.0"
    links = {link["name"]: link for link in data["links"]}
    assert links["orders-payments-provider"]["connections_total"] >= 1, "traffic crossed the link"
    assert (Path(data["run_dir"]) / "logs" / "orders.log").is_file(), "container logs are kept"

    assert cli.live() == []
    assert labelled(docker_client, data["env"]) == []


def test_an_environment_cannot_reach_another(cli: Cli, docker_client: Any) -> None:
    a = cli.json("up", f"{BP}/pair.yaml", "--runtime", "docker")
    b = cli.json("up", f"{BP}/pair.yaml", "--runtime", "docker")
    try:
        box_a = docker_client.containers.get(f"{a['env']}-box")
        cache_b = docker_client.containers.get(f"{b['env']}-cache")
        ip_b = next(iter(cache_b.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]

        def connect(host: str) -> int:
            code = (
                "import socket, sys\n"
                "try:\n"
                f"    socket.create_connection(({host!r}, 6379), timeout=2).close()\n"
                "except OSError as exc:\n"
                "    print(exc); sys.exit(1)\n"
            )
            result = box_a.exec_run(["python3", "-c", code])
            return int(result.exit_code)

        assert box_a.attrs["HostConfig"]["NanoCpus"] == 500_000_000, "resources.cpu: 0.5"
        assert box_a.attrs["HostConfig"]["Memory"] == 256 * 2**20, "resources.memory: 256Mi"
        published = [
            binding
            for container in docker_client.containers.list(
                filters={"label": f"envctl.env={a['env']}"}
            )
            for bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).values()
            for binding in bindings or []
        ]
        assert published and all(b["HostIp"] == "127.0.0.1" for b in published), published
        assert connect("cache") == 0, "a service reaches its own environment's services"
        assert connect(ip_b) != 0, "...but not another environment's, by address"
        assert connect(f"{b['env']}-cache") != 0, "...nor by container name"
    finally:
        for env in (a, b):
            cli("down", env["env"])
    for env in (a, b):
        assert labelled(docker_client, env["env"]) == []


def test_sigkill_during_run_is_reaped_by_the_watchdog_within_15s(
    cli: Cli, docker_client: Any
) -> None:
    proc = cli.popen("run", f"{BP}/pair.yaml", "--runtime", "docker", env={"SUITE_SLEEP": "120"})
    try:
        rows = cli.wait_for(lambda rows: any(r["status"] == "testing" for r in rows), timeout=120)
        env_id = rows[0]["env"]
        assert labelled(docker_client, env_id), "the environment is up"
        proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        proc.wait(timeout=10)
        work_dir = Path(tempfile.gettempdir()) / f"envctl-{env_id}"

        def remaining() -> list[str]:
            # The work dir's (empty) mount point and the state row wait for `envctl gc`.
            files = [str(p) for p in work_dir.rglob("*")] if work_dir.exists() else []
            return [x for x in labelled(docker_client, env_id) if "work dir" not in x] + files

        left = remaining()
        while left and time.monotonic() - killed < 15:
            time.sleep(0.25)
            left = remaining()
        assert left == [], f"still there {time.monotonic() - killed:.1f}s after SIGKILL"
        assert cli.json("gc")["reaped"][0]["env"] == env_id
        assert labelled(docker_client, env_id) == [], "gc took the rest"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_gc_removes_labelled_leftovers_the_state_has_lost(
    cli: Cli, docker_client: Any, state_dir: Path
) -> None:
    env_id = cli.json("up", f"{BP}/pair.yaml", "--runtime", "docker")["env"]
    (state_dir / "state.db").unlink()  # a wiped CI cache: only the labels remain
    for extra in ("state.db-wal", "state.db-shm"):
        (state_dir / extra).unlink(missing_ok=True)
    assert labelled(docker_client, env_id)
    done = cli("gc", "-o", "json")
    assert done.returncode == 0, done.stderr
    assert env_id in done.stdout
    assert labelled(docker_client, env_id) == []


def recorded(state_dir: Path, env_id: str) -> dict[str, Any]:
    [run] = [r for r in StateStore(state_dir / "state.db").runs() if r.get("env") == env_id]
    return run


def test_a_crashing_container_fails_fast_with_its_log(
    cli: Cli, docker_client: Any, state_dir: Path
) -> None:
    done = cli("run", f"{BP}/crashing.yaml", "--runtime", "docker", "-o", "json", timeout=180)
    data = json.loads(done.stdout)
    assert done.returncode == 3 and data["status"] == "error"
    assert "exited with code 7 before it was ready" in data["error"]["message"]
    assert "config file missing" in data["error"]["log_tail"]
    assert "Traceback" not in done.stderr
    assert labelled(docker_client, data["env"]) == []
    assert recorded(state_dir, data["env"])["status"] == "error"


def test_a_missing_image_is_one_clear_error_before_anything_starts(
    cli: Cli, docker_client: Any, state_dir: Path
) -> None:
    done = cli("run", f"{BP}/missing-image.yaml", "--runtime", "docker", "-o", "json")
    data = json.loads(done.stdout)
    assert done.returncode != 0 and data["status"] == "error"
    message = data["error"]["message"]
    assert "envctl-test/does-not-exist:1.0" in message and "not found locally" in message
    assert "make images" in data["error"]["hint"]
    assert "Traceback" not in done.stderr
    assert labelled(docker_client, data["env"]) == []
    assert recorded(state_dir, data["env"])["status"] == "error"


def test_a_dead_engine_is_one_clear_error(cli: Cli) -> None:
    done = cli(
        "run", f"{BP}/pair.yaml", "--runtime", "docker", "-o", "json",
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )  # fmt: skip
    data = json.loads(done.stdout)
    assert done.returncode != 0 and data["status"] == "error"
    assert "cannot reach the Docker Engine" in data["error"]["message"]
    assert "dockerd" in data["error"]["hint"]
    assert "Traceback" not in done.stderr
    assert cli.live() == []


def test_five_reference_environments_at_once_all_pass_without_collisions(
    cli: Cli, docker_client: Any
) -> None:
    procs = [
        cli.popen("run", "blueprints/checkout.yaml", "--runtime", "docker", "-o", "json")
        for _ in range(5)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out))
    assert all(r["status"] == "passed" for r in results)
    assert len({r["env"] for r in results}) == 5
    ports = [svc["port"] for r in results for svc in r["services"].values()]
    assert len(ports) == len(set(ports)), "no two services share a host port"
    for r in results:
        assert labelled(docker_client, r["env"]) == []


def test_the_images_healthcheck_gates_readiness(cli: Cli, docker_client: Any) -> None:
    done = cli("run", f"{BP}/unhealthy.yaml", "--runtime", "docker", "-o", "json", timeout=120)
    data = json.loads(done.stdout)
    assert done.returncode == 3 and data["status"] == "error"
    message = data["error"]["message"]
    assert "not ready after 6s" in message and "docker healthcheck" in message, message
    assert labelled(docker_client, data["env"]) == []


def test_a_suite_with_an_image_runs_on_the_environments_network(
    cli: Cli, docker_client: Any
) -> None:
    done = cli(
        "run", f"{BP}/pair.yaml", "--runtime", "docker", "--suite", "inside", "-o", "json",
        timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(done.stdout)
    [suite] = data["suites"]
    assert suite["name"] == "inside" and suite["status"] == "passed"
    run_dir = Path(data["run_dir"])
    # It saw the in-network address, and wrote into the run dir mounted at the same path.
    assert (run_dir / "inside.txt").read_text() == "cache:6379"
    log = (run_dir / "logs" / "suite-inside.log").read_text()
    assert "reached cache 6379 redis://:***@cache:6379/0" in log, "output kept, secret redacted"
    assert labelled(docker_client, data["env"]) == []


def test_a_fixed_host_port_that_is_taken_is_one_clear_error(
    cli: Cli, docker_client: Any, state_dir: Path, tmp_path: Path
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        blueprint = tmp_path / "fixed.yaml"
        blueprint.write_text(
            "apiVersion: envctl/v1\nkind: Blueprint\nmetadata: {name: fixed}\n"
            "services:\n"
            f"  cache: {{image: 'redis:7.0', engine: redis, docker: {{host_port: {port}}}}}\n"
            "suites: [{name: check, run: 'true'}]\n"
        )
        done = cli("run", str(blueprint), "--runtime", "docker", "-o", "json")
    data = json.loads(done.stdout)
    assert done.returncode == 3 and data["status"] == "error"
    assert data["error"]["service"] == "cache"
    assert f"127.0.0.1:{port}: the port is already in use" in data["error"]["message"]
    assert "docker.host_port" in data["error"]["hint"]
    assert "Traceback" not in done.stderr
    assert labelled(docker_client, data["env"]) == []
    assert recorded(state_dir, data["env"])["status"] == "error"
