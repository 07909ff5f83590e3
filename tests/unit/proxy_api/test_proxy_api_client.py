"""The `toxiproxy-python` client from PyPI, unchanged, against our API.

What it expects, from its source: ``POST /proxies`` answers JSON with name, upstream,
enabled and listen; ``POST /proxies/{p}`` (the deprecated update) and
``POST /proxies/{p}/toxics`` answer JSON; ``DELETE`` and ``POST /reset`` answer 2xx;
409 → ProxyExists, 404 → NotFound, 400 → InvalidToxic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from proxy_api_helpers import RunningApi, roundtrip

toxiproxy = pytest.importorskip("toxiproxy")
from toxiproxy.api import APIConsumer  # noqa: E402
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists  # noqa: E402


@pytest.fixture
def client(api: RunningApi) -> Iterator[Any]:
    saved = (APIConsumer.host, APIConsumer.port)
    server = toxiproxy.Toxiproxy()
    server.update_api_consumer("127.0.0.1", api.port)  # class-level state in the client
    yield server
    APIConsumer.host, APIConsumer.port = saved


def test_running_and_version(client: Any) -> None:
    assert client.running() is True
    assert b'"version"' in client.version()


def test_create_list_and_destroy(client: Any, echo: str) -> None:
    proxy = client.create(upstream=echo, name="echo")
    assert proxy.name == "echo" and proxy.upstream == echo and proxy.enabled is True
    assert not proxy.listen.endswith(":0")
    assert roundtrip(proxy.listen) == b"ping"
    assert set(client.proxies()) == {"echo"}
    assert client.get_proxy("echo").listen == proxy.listen
    with pytest.raises(ProxyExists):
        client.create(upstream=echo, name="echo")
    assert client.destroy(proxy) is True
    assert client.proxies() == {}
    with pytest.raises(NotFound):
        proxy.destroy()


def test_add_list_and_remove_toxics(client: Any, echo: str) -> None:
    proxy = client.create(upstream=echo, name="db", listen="127.0.0.1:0")
    proxy.add_toxic(type="latency", attributes={"latency": 50, "jitter": 5})
    proxy.add_toxic(
        type="bandwidth", stream="upstream", name="slow", toxicity=0.5, attributes={"rate": 100}
    )
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_downstream", "slow"}
    latency = proxy.get_toxic("latency_downstream")
    assert latency.type == "latency" and latency.attributes == {"latency": 50, "jitter": 5}
    slow = toxics["slow"]
    assert (slow.stream, slow.toxicity, slow.attributes) == ("upstream", 0.5, {"rate": 100})

    with pytest.raises(ProxyExists):  # the client maps every 409 to ProxyExists
        proxy.add_toxic(type="latency")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")

    assert proxy.destroy_toxic("latency_downstream") is True
    assert set(proxy.toxics()) == {"slow"}
    with pytest.raises(NotFound):
        proxy.destroy_toxic("latency_downstream")


def test_disable_enable_and_down(client: Any, echo: str) -> None:
    proxy = client.create(upstream=echo, name="svc")
    proxy.disable()
    assert proxy.enabled is False
    assert client.get_proxy("svc").enabled is False
    with pytest.raises(OSError):
        roundtrip(proxy.listen)
    proxy.enable()
    assert client.get_proxy("svc").enabled is True
    assert roundtrip(proxy.listen) == b"ping"
    with proxy.down():
        assert client.get_proxy("svc").enabled is False
    assert client.get_proxy("svc").enabled is True


def test_populate_reset_and_destroy_all(client: Any, echo: str) -> None:
    created = client.populate(
        [
            {"name": "a", "upstream": echo, "listen": "127.0.0.1:0"},
            {"name": "b", "upstream": echo, "listen": "127.0.0.1:0"},
        ]
    )
    assert sorted(p.name for p in created) == ["a", "b"]
    a = client.get_proxy("a")
    a.add_toxic(type="timeout", attributes={"timeout": 0})
    a.disable()
    assert client.reset() is True
    a = client.get_proxy("a")
    assert a.enabled is True and a.toxics() == {}
    client.destroy_all()
    assert client.proxies() == {}
