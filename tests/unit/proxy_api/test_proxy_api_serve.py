"""`serve()` in-process and `envctl proxy serve --config` as a real process."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from proxy_api_helpers import TIMEOUT, LoopThread, http, roundtrip

from orchestrator.exceptions import ServiceError
from orchestrator.proxy.config import loads_config
from orchestrator.proxy.serve import serve

ROOT = Path(__file__).resolve().parents[3]
# Until cli/main.py registers the group, add it the way that line will.
SHIM = (
    "from orchestrator.cli import main as m, proxy_cmd; "
    "m.cli.commands.setdefault('proxy', proxy_cmd.proxy); m.main()"
)


def envctl(*args: str) -> list[str]:
    return [sys.executable, "-c", SHIM, *args]


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def wait_for(predicate: Any, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def toxic_names(api_url: str, proxy: str) -> list[str]:
    return [t["name"] for t in http(api_url, "GET", f"/proxies/{proxy}/toxics").json()]


class InProcess:
    """``serve()`` on a loop thread, stopped through its ``stop`` event."""

    def __init__(self, loop: LoopThread, config_text: str) -> None:
        self.loop = loop
        self.config = loads_config(config_text, "test.json")
        self.info: dict[str, Any] = {}
        self.stop: asyncio.Event | None = None
        self.future: Any = None

    def start(self) -> None:
        async def make_event() -> asyncio.Event:
            return asyncio.Event()

        self.stop = self.loop.run(make_event())
        self.future = asyncio.run_coroutine_threadsafe(
            serve(self.config, ready=self.info.update, stop=self.stop), self.loop.loop
        )
        wait_for(lambda: bool(self.info) or self.future.done())
        if self.future.done():
            self.future.result()

    def close(self) -> None:
        if self.stop is not None and self.future is not None:
            self.loop.loop.call_soon_threadsafe(self.stop.set)
            self.future.result(TIMEOUT)


@pytest.fixture
def in_process(loop_thread: LoopThread) -> Iterator[Any]:
    started: list[InProcess] = []

    def start(config: dict[str, Any]) -> InProcess:
        running = InProcess(loop_thread, json.dumps(config))
        started.append(running)
        running.start()
        return running

    yield start
    for running in started:
        running.close()


def test_schedule_started_through_the_api(in_process: Any, echo: str, tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    running = in_process(
        {
            "api": "127.0.0.1:0",
            "seed": 3,
            "proxies": [
                {
                    "name": "db",
                    "upstream": echo,
                    "toxics": [{"type": "slow_close", "attributes": {"delay": 1}}],
                }
            ],
            "schedules": [
                {
                    "proxy": "db",
                    "at": 0.2,
                    "for": 0.4,
                    "toxic": {"type": "latency", "attributes": {"latency": 1}},
                }
            ],
            "schedule_start": "api",
            "events_log": str(log),
        }
    )
    api = running.info["api"]
    assert api.startswith("http://127.0.0.1:")
    assert roundtrip(running.info["proxies"]["db"]) == b"ping"
    assert toxic_names(api, "db") == ["slow_close_downstream"]
    assert http(api, "GET", "/envctl/schedules").json()["schedules"][0]["state"] == "pending"
    time.sleep(0.4)
    assert toxic_names(api, "db") == ["slow_close_downstream"]  # the clock has not started

    reply = http(api, "POST", "/envctl/schedules/start")
    assert reply.status == 200 and reply.json()["already_started"] is False
    assert http(api, "POST", "/envctl/schedules/start").json()["already_started"] is True
    wait_for(lambda: "latency_downstream" in toxic_names(api, "db"))
    wait_for(lambda: "latency_downstream" not in toxic_names(api, "db"))
    assert http(api, "GET", "/envctl/schedules").json()["schedules"][0]["state"] == "done"

    running.close()
    kinds = [(e["event"], e.get("action")) for e in read_events(log)]
    assert kinds == [
        ("proxy_added", None),
        ("serving", None),
        ("schedules_started", None),
        ("schedule_fired", "add"),
        ("schedule_fired", "remove"),
        ("stopping", None),
    ]
    fired = [e for e in read_events(log) if e["event"] == "schedule_fired"]
    assert fired[1]["ts"] - fired[0]["ts"] == pytest.approx(0.4, abs=0.15)
    assert fired[0]["definition"]["attributes"] == {"latency": 1, "jitter": 0}
    with pytest.raises(OSError):
        http(api, "GET", "/version")


def test_a_schedule_that_cannot_fire_is_logged(in_process: Any, echo: str, tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    latency = {"type": "latency", "attributes": {"latency": 1}}
    running = in_process(
        {
            "api": "127.0.0.1:0",
            "proxies": [{"name": "db", "upstream": echo}],
            "schedules": [{"proxy": "db", "at": 0.3, "for": 1, "toxic": latency}],
            "events_log": str(log),
        }
    )
    http(running.info["api"], "POST", "/proxies/db/toxics", latency)  # takes the name first
    wait_for(lambda: any(e["event"] == "schedule_failed" for e in read_events(log)))
    (failed,) = [e for e in read_events(log) if e["event"] == "schedule_failed"]
    assert failed["proxy"] == "db" and failed["toxic"] == "latency_downstream"


def test_a_reset_during_a_window_ends_it_early(in_process: Any, echo: str, tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    latency = {"type": "latency", "attributes": {"latency": 1}}
    running = in_process(
        {
            "api": "127.0.0.1:0",
            "proxies": [{"name": "db", "upstream": echo}],
            "schedules": [{"proxy": "db", "at": 0, "for": 0.5, "toxic": latency}],
            "events_log": str(log),
        }
    )
    api = running.info["api"]
    wait_for(lambda: toxic_names(api, "db") == ["latency_downstream"])
    assert http(api, "POST", "/reset").status == 204
    wait_for(lambda: sum(e["event"] == "schedule_fired" for e in read_events(log)) == 2)
    removed = [e for e in read_events(log) if e.get("action") == "remove"]
    assert removed[0]["already_removed"] is True
    assert [e["event"] for e in read_events(log)].count("reset") == 1


def test_a_busy_port_fails_cleanly(loop_thread: LoopThread, echo: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        running = InProcess(
            loop_thread,
            json.dumps(
                {
                    "api": "127.0.0.1:0",
                    "proxies": [{"name": "db", "listen": busy, "upstream": echo}],
                }
            ),
        )
        with pytest.raises(ServiceError, match=r"proxy 'db'.*cannot listen on") as info:
            running.start()
    assert info.value.hint and "port 0" in info.value.hint


# -- as a real process ----------------------------------------------------------------------


def read_line(proc: subprocess.Popen[str], timeout: float = TIMEOUT) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise AssertionError("no output from envctl proxy serve in time")
    return proc.stdout.readline()


@pytest.fixture
def spawn() -> Iterator[Any]:
    procs: list[subprocess.Popen[str]] = []

    def run(*args: str) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        proc = subprocess.Popen(
            envctl(*args),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return proc

    yield run
    for proc in procs:  # whatever a failing test left running
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=TIMEOUT)


def test_envctl_proxy_serve_forwards_runs_a_schedule_and_stops_on_sigterm(
    spawn: Any, echo: str, tmp_path: Path
) -> None:
    log = tmp_path / "events.jsonl"
    config = tmp_path / "proxy.json"
    config.write_text(
        json.dumps(
            {
                "api": "127.0.0.1:0",
                "seed": 11,
                "proxies": [{"name": "echo", "listen": "127.0.0.1:0", "upstream": echo}],
                "schedules": [
                    {
                        "proxy": "echo",
                        "at": 0.5,
                        "for": 1.0,
                        "toxic": {"type": "latency", "attributes": {"latency": 300}},
                    }
                ],
                "events_log": "events.jsonl",
            }
        )
    )
    proc = spawn("proxy", "serve", "--config", str(config))
    ready = json.loads(read_line(proc))
    assert ready["event"] == "ready" and ready["seed"] == 11
    api, listen = ready["api"], ready["proxies"]["echo"]
    assert api.startswith("http://127.0.0.1:")
    assert http(api, "GET", "/version").status == 200
    assert roundtrip(listen, b"through the proxy") == b"through the proxy"

    wait_for(lambda: toxic_names(api, "echo") == ["latency_downstream"])
    t0 = time.monotonic()
    assert roundtrip(listen) == b"ping"
    assert time.monotonic() - t0 >= 0.25  # the scheduled latency is on the wire
    wait_for(lambda: toxic_names(api, "echo") == [])

    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    events = read_events(log)
    fired = [e["action"] for e in events if e["event"] == "schedule_fired"]
    assert fired == ["add", "remove"]
    assert events[-1] == {**events[-1], "event": "stopping", "signal": "SIGTERM"}
    with pytest.raises(OSError):
        roundtrip(listen)


def test_envctl_proxy_serve_with_a_bad_config_prints_one_error(spawn: Any, tmp_path: Path) -> None:
    config = tmp_path / "proxy.json"
    config.write_text(json.dumps({"proxies": [{"name": "db", "upstream": "nowhere"}]}))
    proc = spawn("proxy", "serve", "--config", str(config))
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 2
    assert err.startswith("envctl: error: ")
    assert "proxies[0].upstream: expected 'host:port', got 'nowhere'" in err
    assert "hint: write host:port" in err
    assert "Traceback" not in err


def test_envctl_help_does_not_import_aiohttp() -> None:
    code = (
        "import sys; from orchestrator.cli import main as m, proxy_cmd; "
        "m.cli.commands.setdefault('proxy', proxy_cmd.proxy); "
        "sys.argv = ['envctl', 'proxy', '--help']\n"
        "try:\n    m.main()\nexcept SystemExit:\n    pass\n"
        "print('aiohttp' in sys.modules, 'orchestrator.proxy.api' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "serve" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "False False"


def test_without_aiohttp_the_cli_says_what_to_install(tmp_path: Path) -> None:
    config = tmp_path / "proxy.json"
    config.write_text("{}")
    code = "import sys; sys.modules['aiohttp'] = None\n" + SHIM
    done = subprocess.run(
        [sys.executable, "-c", code, "proxy", "serve", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    assert "the proxy needs 'aiohttp', which is not installed" in done.stderr
    assert "hint: reinstall envctl (aiohttp is one of its dependencies)" in done.stderr
    assert "Traceback" not in done.stderr
