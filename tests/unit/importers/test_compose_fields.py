"""Compose's field syntaxes: ports, volumes, durations, sizes, commands."""

from __future__ import annotations

import pytest

from orchestrator.importers import compose_fields as fields
from orchestrator.importers.compose_fields import FieldProblem, MountSpec, PortSpec


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("8000", [PortSpec(8000, None)]),
        (8000, [PortSpec(8000, None)]),
        ("8000:80", [PortSpec(80, "8000")]),
        ("127.0.0.1:5432:5432", [PortSpec(5432, "127.0.0.1:5432")]),
        ("127.0.0.1::5432", [PortSpec(5432, "127.0.0.1")]),
        ("[::1]:8080:80", [PortSpec(80, "[::1]:8080")]),
        ("53:53/udp", [PortSpec(53, "53", "udp")]),
        ("7000-7001:8000-8001", [PortSpec(8000, "7000-7001"), PortSpec(8001, "7000-7001")]),
        ("9000-9010:80", [PortSpec(80, "9000-9010")]),
        ("6000-6002", [PortSpec(6000, None), PortSpec(6001, None), PortSpec(6002, None)]),
    ],
)
def test_short_ports(value: str | int, expected: list[PortSpec]) -> None:
    assert fields.short_ports(value) == expected


@pytest.mark.parametrize(
    "value", ["", "abc", "80:", "1:2:3:4", "0", "70000", "9-1", "8000-8002:9000-9001", "[::1]:80"]
)
def test_bad_short_ports_are_refused(value: str) -> None:
    with pytest.raises(FieldProblem):
        fields.short_ports(value)


def test_an_unquoted_port_pair_read_as_base_60_gets_a_hint() -> None:
    # YAML 1.1 reads an unquoted `2222:22` as the base-60 number 2222 * 60 + 22.
    with pytest.raises(FieldProblem) as caught:
        fields.short_ports(2222 * 60 + 22)
    assert caught.value.hint and "quote" in caught.value.hint


def test_long_ports() -> None:
    assert fields.long_port({"target": 80, "published": 8080, "host_ip": "127.0.0.1"}) == PortSpec(
        80, "127.0.0.1:8080"
    )
    assert fields.long_port({"target": "443", "protocol": "udp"}) == PortSpec(443, None, "udp")
    with pytest.raises(FieldProblem, match="target"):
        fields.long_port({"published": 80})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "pgdata:/var/lib/postgresql/data",
            MountSpec("volume", "pgdata", "/var/lib/postgresql/data"),
        ),
        (
            "./init.sql:/docker-entrypoint-initdb.d/a.sql:ro",
            MountSpec("bind", "./init.sql", "/docker-entrypoint-initdb.d/a.sql", True),
        ),
        ("/srv:/srv:rw,z", MountSpec("bind", "/srv", "/srv", False)),
        ("~/data:/data", MountSpec("bind", "~/data", "/data")),
        ("/cache", MountSpec("volume", None, "/cache")),
    ],
)
def test_short_mounts(text: str, expected: MountSpec) -> None:
    assert fields.short_mount(text) == expected


def test_long_mounts() -> None:
    spec = fields.long_mount({"type": "bind", "source": "./a", "target": "/a", "read_only": True})
    assert spec == MountSpec("bind", "./a", "/a", True)
    assert fields.long_mount({"type": "tmpfs", "target": "/t"}).kind == "tmpfs"
    with pytest.raises(FieldProblem, match="target"):
        fields.long_mount({"source": "x"})


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("10s", 10), ("1m30s", 90), ("500ms", 0.5), ("1.5s", 1.5), ("2h", 7200), (5, 5), ("1m", 60)],
)
def test_durations(value: str | int, seconds: float) -> None:
    assert fields.duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["10", "ten", "10 s", "", True, "1x"])
def test_bad_durations(value: object) -> None:
    with pytest.raises(FieldProblem):
        fields.duration(value)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("512M", 512 * 2**20),
        ("512m", 512 * 2**20),
        ("1g", 2**30),
        ("1GB", 2**30),
        ("100k", 100 * 1024),
        ("2048", 2048),
        (4096, 4096),
        ("1.5g", int(1.5 * 2**30)),
    ],
)
def test_memory_sizes_are_binary_as_docker_reads_them(value: str | int, size: int) -> None:
    assert fields.memory(value) == size


def test_cpus() -> None:
    assert fields.cpus("0.50") == 0.5
    assert fields.cpus(2) == 2.0
    for bad in ("half", "0", "-1"):
        with pytest.raises(FieldProblem):
            fields.cpus(bad)


def test_commands_split_like_compose() -> None:
    assert fields.command('python app.py --name "two words"') == (
        "python",
        "app.py",
        "--name",
        "two words",
    )
    assert fields.command(["python", "app.py", 8000]) == ("python", "app.py", "8000")
    with pytest.raises(FieldProblem):
        fields.command('python "unclosed')
    with pytest.raises(FieldProblem):
        fields.command({"not": "a command"})
