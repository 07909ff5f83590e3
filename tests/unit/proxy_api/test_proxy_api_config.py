"""The `envctl proxy serve --config` file: what it accepts, and one clear error otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.exceptions import ExitCode, UsageError
from orchestrator.proxy.config import load_config, loads_config, parse_address

PROXY = {"name": "db", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:5432"}
LATENCY = {"type": "latency", "attributes": {"latency": 1}}


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "proxy.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def error(data: Any) -> UsageError:
    text = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(UsageError) as info:
        loads_config(text, "proxy.json", base_dir=Path("/cfg"))
    assert info.value.exit_code == ExitCode.USAGE
    return info.value


def test_defaults_bind_loopback_only() -> None:
    config = loads_config("{}")
    assert (config.api_host, config.api_port) == ("127.0.0.1", 8474)
    assert config.seed is None and config.proxies == () and config.schedules == ()
    assert config.schedule_start == "serve" and config.events_log is None


def test_full_file(tmp_path: Path) -> None:
    latency = {"type": "latency", "attributes": {"latency": 20, "jitter": 5}}
    path = write(
        tmp_path,
        {
            "api": "127.0.0.1:0",
            "seed": 42,
            "proxies": [
                {**PROXY, "toxics": [latency]},
                {"name": "cache", "upstream": "localhost:6379"},
            ],
            "schedules": [
                {
                    "proxy": "db",
                    "at": 1,
                    "for": 2.5,
                    "toxic": {"type": "reset_peer", "attributes": {"timeout": 0}},
                }
            ],
            "schedule_start": "api",
            "events_log": "logs/events.jsonl",
        },
    )
    config = load_config(path)
    assert (config.api_host, config.api_port, config.seed) == ("127.0.0.1", 0, 42)
    db, cache = config.proxies
    assert db.toxics[0].name == "latency_downstream"
    assert db.toxics[0].attributes == {"latency": 20, "jitter": 5}
    assert (cache.listen, cache.enabled) == ("127.0.0.1:0", True)
    (schedule,) = config.schedules
    assert (schedule.proxy, schedule.at, schedule.duration) == ("db", 1.0, 2.5)
    assert schedule.toxic.name == "reset_peer_downstream"
    assert config.schedule_start == "api"
    assert config.events_log == tmp_path.resolve() / "logs" / "events.jsonl"
    assert config.source == str(path)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found") as info:
        load_config(tmp_path / "missing.json")
    assert info.value.hint == "check the --config path"
    with pytest.raises(UsageError, match=r"proxy\.json:1:11: not valid JSON"):
        load_config(write(tmp_path, '{"api": 1,}'))


@pytest.mark.parametrize(
    ("data", "message", "hint"),
    [
        ([], "(document): expected an object", None),
        ({"apii": "x"}, "apii: unknown key", "valid keys: api, seed"),
        ({"api": "localhost"}, "api: expected 'host:port', got 'localhost'", "host:port"),
        ({"api": "127.0.0.1:99999"}, "api: expected 'host:port'", None),
        ({"seed": "7"}, "seed: expected an integer or null, got '7'", None),
        ({"seed": True}, "seed: expected an integer or null", None),
        ({"proxies": [{**PROXY, "upstream": "db:0"}]}, "proxies[0].upstream: port 0", None),
        ({"proxies": {}}, "proxies: expected a list, got an object", None),
        ({"proxies": [{"name": "db"}]}, "proxies[0].upstream: missing", None),
        (
            {"proxies": [{**PROXY, "listen": "5432"}]},
            "proxies[0].listen: expected 'host:port'",
            None,
        ),
        (
            {"proxies": [{**PROXY, "enabled": "yes"}]},
            "proxies[0].enabled: expected true or false",
            None,
        ),
        ({"proxies": [PROXY, PROXY]}, "proxies[1].name: duplicate proxy name 'db'", None),
        (
            {"proxies": [{**PROXY, "port": 1}]},
            "proxies[0].port: unknown key",
            "valid keys: name, listen",
        ),
        (
            {"proxies": [{**PROXY, "toxics": [{"type": "lag"}]}]},
            "proxies[0].toxics[0].type: unknown toxic type 'lag'",
            "valid types: latency, bandwidth",
        ),
        (
            {"proxies": [{**PROXY, "toxics": [{"type": "latency", "stream": "both"}]}]},
            "proxies[0].toxics[0]: toxic 'latency_both' (latency): stream must be 'upstream'",
            None,
        ),
        (
            {"proxies": [{**PROXY, "toxics": [{"type": "latency", "toxicity": 2}]}]},
            "proxies[0].toxics[0]: toxic 'latency_downstream' (latency): toxicity must be",
            None,
        ),
        (
            {"proxies": [{**PROXY, "toxics": [{"type": "latency", "attributes": {"delay": 5}}]}]},
            "proxies[0].toxics[0]: toxic 'latency_downstream' (latency): unknown attribute 'delay'",
            "a latency toxic takes: latency, jitter",
        ),
        (
            {"proxies": [{**PROXY, "toxics": [LATENCY, LATENCY]}]},
            "proxies[0].toxics[1].name: duplicate toxic name 'latency_downstream'",
            "give one of them a name",
        ),
        (
            {"schedule_start": "later"},
            "schedule_start: unknown value 'later'",
            "use 'serve' or 'api'",
        ),
        ({"events_log": 3}, "events_log: expected a file path or null, got 3", None),
    ],
)
def test_errors_name_file_key_and_value(data: Any, message: str, hint: str | None) -> None:
    exc = error(data)
    assert exc.message.startswith("proxy.json: ")
    assert message in exc.message
    if hint:
        assert exc.hint is not None and hint in exc.hint


def schedule(**overrides: Any) -> dict[str, Any]:
    return {"proxy": "db", "at": 0, "for": 1, "toxic": LATENCY, **overrides}


@pytest.mark.parametrize(
    ("schedules", "message", "hint"),
    [
        (
            [schedule(proxy="cache")],
            "schedules[0].proxy: no proxy named 'cache'",
            "configured proxies: db",
        ),
        ([schedule(at=-1)], "schedules[0].at: expected seconds >= 0, got -1", None),
        ([schedule(at=float("nan"))], "schedules[0].at: expected seconds >= 0, got nan", None),
        (
            [schedule(**{"for": 0})],
            "schedules[0].for: expected seconds > 0, got 0",
            "counted from 'at'",
        ),
        ([{"proxy": "db", "at": 0, "for": 1}], "schedules[0].toxic: missing", None),
        ([schedule(toxic={"type": "nope"})], "schedules[0].toxic.type: unknown toxic type", None),
        (
            [schedule(every=3)],
            "schedules[0].every: unknown key",
            "valid keys: proxy, at, for, toxic",
        ),
        (
            [schedule(at=0, **{"for": 5}), schedule(at=4)],
            "schedules[1]: overlaps schedules[0] (toxic 'latency_downstream' on 'db')",
            "give one of the toxics another name",
        ),
    ],
)
def test_schedule_errors(schedules: list[Any], message: str, hint: str | None) -> None:
    exc = error({"proxies": [PROXY], "schedules": schedules})
    assert message in exc.message
    if hint:
        assert exc.hint is not None and hint in exc.hint


def test_back_to_back_and_differently_named_windows_are_fine() -> None:
    config = loads_config(
        json.dumps(
            {
                "proxies": [PROXY],
                "schedules": [
                    schedule(at=0, **{"for": 2}),
                    schedule(at=2),
                    schedule(at=0, toxic={**LATENCY, "name": "other"}),
                ],
            }
        )
    )
    assert len(config.schedules) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:80", ("127.0.0.1", 80)), ("db:5432", ("db", 5432)), ("[::1]:0", ("::1", 0))],
)
def test_parse_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", ":80", "host:", "host:http", "host:70000", 80, None])
def test_parse_address_rejects(text: Any) -> None:
    with pytest.raises(ValueError, match="expected 'host:port'"):
        parse_address(text)
