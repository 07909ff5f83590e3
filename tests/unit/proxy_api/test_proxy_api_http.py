"""Every route of the control API over real HTTP, as Toxiproxy documents it."""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Any

import pytest
from proxy_api_helpers import RunningApi, roundtrip

from orchestrator.proxy import api as api_module
from orchestrator.proxy.model import FaultSpecError
from orchestrator.proxy.server import ProxyExists, ProxyNotFound, ToxicExists, ToxicNotFound


def create(api: RunningApi, name: str, upstream: str, **extra: Any) -> dict[str, Any]:
    reply = api(
        "POST", "/proxies", {"name": name, "listen": "127.0.0.1:0", "upstream": upstream, **extra}
    )
    assert reply.status == 201, reply.body
    body: dict[str, Any] = reply.json()
    return body


def assert_error(reply: Any, status: int, message: str) -> None:
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.json() == {"error": message, "status": status}


# -- proxies ------------------------------------------------------------------------------


def test_create_returns_201_with_the_bound_port_and_forwards(api: RunningApi, echo: str) -> None:
    body = create(api, "echo", echo)
    assert body["name"] == "echo"
    assert body["upstream"] == echo
    assert body["enabled"] is True
    assert body["toxics"] == []
    host, _, port = body["listen"].rpartition(":")
    assert host == "127.0.0.1" and int(port) > 0
    assert roundtrip(body["listen"], b"hello") == b"hello"


def test_create_errors(api: RunningApi, echo: str) -> None:
    create(api, "db", echo)
    assert_error(
        api("POST", "/proxies", {"name": "db", "upstream": echo}), 409, "proxy already exists"
    )
    assert_error(api("POST", "/proxies", {"upstream": echo}), 400, "missing required field: name")
    assert_error(api("POST", "/proxies", {"name": "x"}), 400, "missing required field: upstream")
    reply = api("POST", "/proxies", raw=b"{not json")
    assert reply.status == 400 and reply.json()["error"].startswith("bad request body: ")
    assert_error(api("POST", "/proxies", raw=b""), 400, "bad request body: EOF")
    reply = api("POST", "/proxies", {"name": "x", "upstream": "no-port"})
    assert reply.status == 400 and "upstream" in reply.json()["error"]


def test_create_on_a_port_in_use_is_a_500_with_the_reason(api: RunningApi, echo: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        reply = api(
            "POST", "/proxies", {"name": "x", "listen": f"127.0.0.1:{port}", "upstream": echo}
        )
    assert reply.status == 500
    assert reply.json()["status"] == 500 and reply.json()["error"]
    assert api("GET", "/proxies/x").status == 404


def test_index_and_show(api: RunningApi, echo: str) -> None:
    a = create(api, "a", echo)
    create(api, "b", echo)
    api("POST", "/proxies/a/toxics", {"type": "latency", "attributes": {"latency": 5}})
    index = api("GET", "/proxies")
    assert index.status == 200
    assert set(index.json()) == {"a", "b"}
    assert index.json()["a"]["listen"] == a["listen"]
    assert [t["name"] for t in index.json()["a"]["toxics"]] == ["latency_downstream"]
    shown = api("GET", "/proxies/a").json()
    assert shown == index.json()["a"]
    assert_error(api("GET", "/proxies/nope"), 404, "proxy not found")


def test_disable_and_enable_with_patch_and_the_deprecated_post(api: RunningApi, echo: str) -> None:
    listen = create(api, "p", echo)["listen"]
    reply = api("PATCH", "/proxies/p", {"enabled": False})
    assert reply.status == 200 and reply.json()["enabled"] is False
    assert api("GET", "/proxies/p").json()["enabled"] is False
    with pytest.raises(OSError):
        roundtrip(listen)
    reply = api("POST", "/proxies/p", {"enabled": True})  # what toxiproxy-python sends
    assert reply.status == 200 and reply.json()["enabled"] is True
    assert roundtrip(reply.json()["listen"]) == b"ping"


def test_patch_changes_upstream_and_checks_types(api: RunningApi, echo: str) -> None:
    create(api, "p", "127.0.0.1:9")
    reply = api("PATCH", "/proxies/p", {"upstream": echo})
    assert reply.status == 200 and reply.json()["upstream"] == echo
    assert roundtrip(reply.json()["listen"]) == b"ping"
    unchanged = api("PATCH", "/proxies/p", {"name": "ignored"})  # Toxiproxy ignores it
    assert unchanged.status == 200 and unchanged.json() == api("GET", "/proxies/p").json()
    reply = api("PATCH", "/proxies/p", {"enabled": "no"})
    assert reply.status == 400 and reply.json()["error"].startswith("bad request body")
    assert_error(api("PATCH", "/proxies/nope", {"enabled": False}), 404, "proxy not found")


def test_delete(api: RunningApi, echo: str) -> None:
    listen = create(api, "p", echo)["listen"]
    reply = api("DELETE", "/proxies/p")
    assert reply.status == 204 and reply.body == b""
    assert_error(api("GET", "/proxies/p"), 404, "proxy not found")
    assert_error(api("DELETE", "/proxies/p"), 404, "proxy not found")
    with pytest.raises(OSError):
        roundtrip(listen)


def test_create_with_toxics_is_atomic(api: RunningApi, echo: str) -> None:
    latency = {"type": "latency", "attributes": {"latency": 1}}
    body = create(api, "p", echo, toxics=[latency])
    assert [t["name"] for t in body["toxics"]] == ["latency_downstream"]
    reply = api(
        "POST",
        "/proxies",
        {"name": "q", "upstream": echo, "toxics": [latency, {"type": "nope"}]},
    )
    assert_error(reply, 400, "invalid toxic type")
    reply = api("POST", "/proxies", {"name": "q", "upstream": echo, "toxics": [latency, latency]})
    assert_error(reply, 409, "toxic already exists")
    assert api("GET", "/proxies/q").status == 404


# -- populate -----------------------------------------------------------------------------


def test_populate_creates_then_is_idempotent(api: RunningApi, echo: str) -> None:
    wanted = [
        {"name": "a", "listen": "127.0.0.1:0", "upstream": echo},
        {"name": "b", "listen": "127.0.0.1:0", "upstream": echo, "enabled": False},
    ]
    reply = api("POST", "/populate", wanted)
    assert reply.status == 201
    got = reply.json()["proxies"]
    assert [p["name"] for p in got] == ["a", "b"]
    assert [p["enabled"] for p in got] == [True, False]

    # Same listen and upstream: kept as is, toxics and all.
    a = got[0]
    api("POST", "/proxies/a/toxics", {"type": "latency", "attributes": {"latency": 1}})
    again = api("POST", "/populate", [{"name": "a", "listen": a["listen"], "upstream": echo}])
    assert again.status == 201
    assert again.json()["proxies"][0]["listen"] == a["listen"]
    assert len(again.json()["proxies"][0]["toxics"]) == 1

    # A different upstream replaces it.
    other = api(
        "POST", "/populate", [{"name": "a", "listen": a["listen"], "upstream": "127.0.0.1:9"}]
    )
    assert other.status == 201
    assert other.json()["proxies"][0]["upstream"] == "127.0.0.1:9"
    assert other.json()["proxies"][0]["toxics"] == []


def test_populate_validates_everything_first(api: RunningApi, echo: str) -> None:
    reply = api("POST", "/populate", [{"name": "a", "upstream": echo}, {"name": "b"}])
    assert_error(reply, 400, "missing required field: upstream at proxy 2")
    assert api("GET", "/proxies").json() == {}
    reply = api("POST", "/populate", [{"name": "a", "upstream": echo}] * 2)
    assert reply.status == 400 and "duplicate" in reply.json()["error"]
    reply = api("POST", "/populate", {"name": "a"})
    assert reply.status == 400 and reply.json()["error"].startswith("bad request body")


def test_populate_reports_what_it_applied_when_one_fails(api: RunningApi, echo: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        reply = api(
            "POST",
            "/populate",
            [{"name": "a", "upstream": echo}, {"name": "b", "listen": busy, "upstream": echo}],
        )
    assert reply.status == 500
    body = reply.json()
    assert body["status"] == 500 and body["error"]
    assert [p["name"] for p in body["proxies"]] == ["a"]


# -- toxics -------------------------------------------------------------------------------


def test_toxic_create_defaults_and_errors(api: RunningApi, echo: str) -> None:
    create(api, "p", echo)
    reply = api("POST", "/proxies/p/toxics", {"type": "latency", "attributes": {"latency": 100}})
    assert reply.status == 200
    assert reply.json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 100, "jitter": 0},  # defaults shown, as Toxiproxy
    }
    up = {
        "type": "bandwidth",
        "stream": "upstream",
        "name": "slow",
        "toxicity": 0.5,
        "attributes": {"rate": 10},
    }
    reply = api("POST", "/proxies/p/toxics", up)
    assert reply.status == 200 and reply.json() == up

    assert_error(api("POST", "/proxies/p/toxics", {"type": "latency"}), 409, "toxic already exists")
    assert_error(
        api("POST", "/proxies/p/toxics", {"type": "latency", "stream": "sideways"}),
        400,
        "stream was invalid, can be either upstream or downstream",
    )
    assert_error(api("POST", "/proxies/p/toxics", {"type": "bogus"}), 400, "invalid toxic type")
    assert_error(api("POST", "/proxies/nope/toxics", {"type": "latency"}), 404, "proxy not found")
    reply = api(
        "POST",
        "/proxies/p/toxics",
        {"type": "latency", "name": "neg", "attributes": {"latency": -5}},
    )
    assert reply.status == 400 and reply.json()["error"].startswith("bad request body: ")
    reply = api("POST", "/proxies/p/toxics", raw=b"[")
    assert reply.status == 400 and reply.json()["error"].startswith("bad request body: ")


def test_toxic_index_show_update_delete(api: RunningApi, echo: str) -> None:
    create(api, "p", echo)
    api(
        "POST",
        "/proxies/p/toxics",
        {"type": "latency", "attributes": {"latency": 100, "jitter": 1}},
    )
    api(
        "POST",
        "/proxies/p/toxics",
        {"type": "timeout", "stream": "upstream", "attributes": {"timeout": 0}},
    )
    index = api("GET", "/proxies/p/toxics")
    assert index.status == 200
    assert sorted(t["name"] for t in index.json()) == ["latency_downstream", "timeout_upstream"]
    assert_error(api("GET", "/proxies/nope/toxics"), 404, "proxy not found")

    shown = api("GET", "/proxies/p/toxics/latency_downstream")
    assert shown.status == 200 and shown.json()["attributes"] == {"latency": 100, "jitter": 1}
    assert_error(api("GET", "/proxies/p/toxics/nope"), 404, "toxic not found")

    # Attributes not named keep their values; toxicity is optional.
    reply = api("PATCH", "/proxies/p/toxics/latency_downstream", {"attributes": {"latency": 7}})
    assert reply.status == 200
    assert reply.json()["attributes"] == {"latency": 7, "jitter": 1}
    assert reply.json()["toxicity"] == 1.0
    reply = api("POST", "/proxies/p/toxics/latency_downstream", {"toxicity": 0.25})  # deprecated
    assert reply.status == 200 and reply.json()["toxicity"] == 0.25
    assert reply.json()["attributes"] == {"latency": 7, "jitter": 1}
    assert_error(api("PATCH", "/proxies/p/toxics/nope", {"toxicity": 0.5}), 404, "toxic not found")
    reply = api("PATCH", "/proxies/p/toxics/latency_downstream", {"toxicity": "lots"})
    assert reply.status == 400

    assert api("DELETE", "/proxies/p/toxics/latency_downstream").status == 204
    assert_error(api("DELETE", "/proxies/p/toxics/latency_downstream"), 404, "toxic not found")
    assert [t["name"] for t in api("GET", "/proxies/p/toxics").json()] == ["timeout_upstream"]
    kinds = [e for e, _ in api.events]
    assert kinds.count("toxic_added") == 2
    assert "toxic_updated" in kinds and "toxic_removed" in kinds


def test_latency_toxic_slows_traffic_until_removed(api: RunningApi, echo: str) -> None:
    import time

    listen = create(api, "p", echo)["listen"]
    api("POST", "/proxies/p/toxics", {"type": "latency", "attributes": {"latency": 300}})
    t0 = time.monotonic()
    assert roundtrip(listen) == b"ping"
    assert time.monotonic() - t0 >= 0.25
    assert api("DELETE", "/proxies/p/toxics/latency_downstream").status == 204
    t0 = time.monotonic()
    assert roundtrip(listen) == b"ping"
    assert time.monotonic() - t0 < 0.25


# -- reset, version, metrics, guard, unknown routes ---------------------------------------


def test_reset_removes_toxics_and_enables_proxies(api: RunningApi, echo: str) -> None:
    create(api, "a", echo)
    create(api, "b", echo)
    api("POST", "/proxies/a/toxics", {"type": "latency", "attributes": {"latency": 1}})
    api("PATCH", "/proxies/b", {"enabled": False})
    reply = api("POST", "/reset")
    assert reply.status == 204 and reply.body == b""
    proxies = api("GET", "/proxies").json()
    assert proxies["a"]["toxics"] == [] and proxies["b"]["enabled"] is True
    assert roundtrip(proxies["b"]["listen"]) == b"ping"


def test_version_and_request_id(api: RunningApi) -> None:
    reply = api("GET", "/version")
    assert reply.status == 200
    assert reply.json()["version"].startswith(api_module.TOXIPROXY_VERSION + "+envctl.")
    assert reply.headers["X-Toxiproxy-Request-Id"]
    assert (
        reply.headers["X-Toxiproxy-Request-Id"]
        != api("GET", "/version").headers["X-Toxiproxy-Request-Id"]
    )


def parse_prometheus(text: str) -> dict[str, float]:
    """``{'name{labels}': value}``; fails on any line outside the text format."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("# "):
            assert re.fullmatch(r"# (HELP|TYPE) [a-z_]+ .+", line), line
            continue
        match = re.fullmatch(r'([a-z_]+\{(?:[a-z_]+="[^"]*",?)*\}) (\S+)', line)
        assert match, line
        samples[match[1]] = float(match[2])
    return samples


def test_metrics_prometheus_and_json(api: RunningApi, echo: str) -> None:
    body = create(api, "p", echo)
    latency = {"type": "latency", "attributes": {"latency": 20}}
    assert api("POST", "/proxies/p/toxics", latency).status == 200
    assert roundtrip(body["listen"], b"x" * 1000) == b"x" * 1000
    reply = api("GET", "/metrics")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = reply.body.decode()
    assert "# TYPE toxiproxy_proxy_received_bytes_total counter" in text
    samples = parse_prometheus(text)
    for direction in ("upstream", "downstream"):
        labels = f'direction="{direction}",listener="{body["listen"]}",proxy="p",upstream="{echo}"'
        assert samples["toxiproxy_proxy_received_bytes_total{" + labels + "}"] == 1000
        assert samples["toxiproxy_proxy_sent_bytes_total{" + labels + "}"] == 1000
    toxic = 'proxy="p",stream="downstream",toxic="latency_downstream",type="latency"'
    assert samples["envctl_proxy_faults_fired_total{" + toxic + "}"] == 1
    assert samples["envctl_proxy_toxic_delay_seconds_total{" + toxic + "}"] >= 0.015
    assert samples['envctl_proxy_connections_total{proxy="p"}'] == 1
    assert samples['envctl_proxy_injected_delay_seconds_count{proxy="p"}'] >= 1
    assert samples['envctl_proxy_injected_delay_seconds{proxy="p",quantile="0.5"}'] >= 0.015

    reply = api("GET", "/envctl/metrics")
    assert reply.status == 200
    assert reply.json()["p"]["faults_fired"] == {"latency_downstream": 1}
    assert reply.json()["p"]["connections_total"] == 1


def test_browsers_are_refused(api: RunningApi, echo: str) -> None:
    create(api, "p", echo)
    api("POST", "/proxies/p/toxics", {"type": "latency", "attributes": {"latency": 1}})
    browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"}
    for method, path in [
        ("GET", "/proxies"),
        ("POST", "/reset"),
        ("DELETE", "/proxies/p"),
        ("GET", "/nowhere"),
    ]:
        assert_error(api(method, path, headers=browser), 403, "User agent not allowed")
    assert len(api("GET", "/proxies/p/toxics").json()) == 1  # the refused reset did nothing
    assert api("GET", "/version", headers={"User-Agent": "curl/8.0 Mozilla/"}).status == 200


def test_unknown_route_and_wrong_method_answer_json(api: RunningApi) -> None:
    assert_error(api("GET", "/nowhere"), 404, "not found")
    reply = api("DELETE", "/version")
    assert_error(reply, 405, "method not allowed")
    assert "GET" in reply.headers["Allow"]


def test_a_slow_control_operation_answers_503(
    api: RunningApi, echo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    create(api, "p", echo)
    api.control.timeout = 0.2
    original = api.server.reset

    async def slow_reset() -> None:
        await asyncio.sleep(0.5)
        await original()

    monkeypatch.setattr(api.server, "reset", slow_reset)
    reply = api("POST", "/reset")
    assert reply.status == 503 and reply.json()["status"] == 503


@pytest.mark.parametrize(
    ("exc", "status", "message"),
    [
        (ProxyNotFound("p"), 404, "proxy not found"),
        (ToxicNotFound("t"), 404, "toxic not found"),
        (ProxyExists("p"), 409, "proxy already exists"),
        (ToxicExists("t"), 409, "toxic already exists"),
        (FaultSpecError("latency: must be >= 0"), 400, "bad request body: latency: must be >= 0"),
        (OSError(98, "Address already in use"), 500, "[Errno 98] Address already in use"),
    ],
)
def test_every_server_error_is_translated(exc: Exception, status: int, message: str) -> None:
    translated = api_module._translate(exc)
    assert translated is not None
    assert (translated.status, translated.message) == (status, message)


def test_a_bug_is_not_translated() -> None:
    assert api_module._translate(RuntimeError("bug")) is None
