"""Compose's field syntaxes, each parsed into plain values: ports, mounts, durations,
sizes and commands. Every parser raises ``FieldProblem`` with a message and a hint; the
model adds where in the file the value was."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

MAX_RANGE = 100  # `8000-8099` is fine; a range of thousands is a typo, not a service
PORT_HINT = 'write "CONTAINER", "HOST:CONTAINER" or "IP:HOST:CONTAINER" (ranges a-b)'


class FieldProblem(ValueError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class PortSpec:
    container: int
    published: str | None  # the host side as written: "8000", "127.0.0.1:5432"
    protocol: str = "tcp"


def short_ports(value: str | int) -> list[PortSpec]:
    """``"8000"``, ``"8000:8000"``, ``"127.0.0.1:5432:5432"``, ``"[::1]:80:80"``,
    ``"8000-8002:8000-8002"``, ``"53:53/udp"``: one spec per container port."""
    text = str(value).strip()
    if isinstance(value, int) and value > 65535:
        raise FieldProblem(
            f"port {value} is out of range",
            hint='quote ports: YAML reads 80:80 unquoted as a base-60 number; write "80:80"',
        )
    body, _, protocol = text.partition("/")
    protocol = protocol or "tcp"
    host_ip = ""
    if body.startswith("["):  # an IPv6 host address
        close = body.find("]")
        if close < 0 or body[close + 1 : close + 2] != ":":
            raise FieldProblem(f"invalid port {text!r}", hint='write "[::1]:8080:80"')
        host_ip, body = body[: close + 1], body[close + 2 :]
    parts = body.split(":")
    if len(parts) > 3 or (host_ip and len(parts) != 2) or not all(parts[-1:]):
        raise FieldProblem(
            f"invalid port {text!r}",
            hint='write "CONTAINER", "HOST:CONTAINER" or "IP:HOST:CONTAINER" (ranges a-b)',
        )
    if len(parts) == 3:
        host_ip, parts = parts[0], parts[1:]
    container = _port_range(parts[-1], text)
    published = parts[0] if len(parts) == 2 else None
    if published is not None and published != "":
        host = _port_range(published, text)
        if len(host) > 1 and len(host) != len(container) and len(container) != 1:
            raise FieldProblem(
                f"port {text!r}: the host range and the container range differ in length"
            )
    shown = ":".join(p for p in (host_ip, published) if p) or None
    return [PortSpec(port, shown, protocol) for port in container]


def long_port(value: dict[str, Any]) -> PortSpec:
    """``{target: 80, published: 8080, host_ip: 127.0.0.1, protocol: tcp}``."""
    target = value.get("target")
    if isinstance(target, str) and target.isdigit():
        target = int(target)
    if not isinstance(target, int) or isinstance(target, bool) or not 1 <= target <= 65535:
        raise FieldProblem(
            f"a port needs `target:` (the container's port), got {target!r}",
            hint="write {target: 80, published: 8080}",
        )
    published = value.get("published")
    host_ip = value.get("host_ip")
    shown = ":".join(str(p) for p in (host_ip, published) if p not in (None, "")) or None
    return PortSpec(target, shown, str(value.get("protocol") or "tcp"))


def _port_range(text: str, whole: str) -> list[int]:
    lo_text, dash, hi_text = text.partition("-")
    try:
        lo = int(lo_text)
        hi = int(hi_text) if dash else lo
    except ValueError:
        raise FieldProblem(
            f"invalid port {whole!r}: {text!r} is not a number", hint=PORT_HINT
        ) from None
    if not (1 <= lo <= hi <= 65535):
        raise FieldProblem(
            f"invalid port {whole!r}: ports are 1 to 65535, low to high", hint=PORT_HINT
        )
    if hi - lo >= MAX_RANGE:
        raise FieldProblem(
            f"port range {text!r} is longer than {MAX_RANGE} ports",
            hint="list the ports the service really listens on",
        )
    return list(range(lo, hi + 1))


def expose_port(value: str | int) -> list[int]:
    text = str(value).strip().split("/", 1)[0]
    return _port_range(text, str(value))


@dataclass(frozen=True)
class MountSpec:
    kind: str  # volume, bind, tmpfs (or whatever a long form says)
    source: str | None
    target: str
    read_only: bool = False


def short_mount(text: str) -> MountSpec:
    """``pgdata:/var/lib/postgresql/data``, ``./init.sql:/docker-entrypoint-initdb.d/x.sql:ro``,
    ``/data`` (an anonymous volume)."""
    parts = text.split(":")
    if len(parts) == 1:
        return MountSpec("volume", None, parts[0])
    if len(parts) > 3 or not parts[1]:
        raise FieldProblem(f"invalid volume {text!r}", hint="write SOURCE:TARGET[:ro]")
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else ""
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    return MountSpec(kind, source, target, "ro" in mode.split(","))


def long_mount(value: dict[str, Any]) -> MountSpec:
    target = value.get("target")
    if not isinstance(target, str) or not target:
        raise FieldProblem(
            "a volume needs `target:` (the path in the container)",
            hint="write {type: volume, source: data, target: /data}",
        )
    source = value.get("source")
    kind = str(
        value.get("type") or ("bind" if str(source or "").startswith(("./", "/")) else "volume")
    )
    return MountSpec(kind, str(source) if source else None, target, bool(value.get("read_only")))


# Go's time.Duration syntax, which Compose uses: 1m30s, 500ms, 1.5s, 2h.
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_DURATION = re.compile(r"([0-9]+(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)")


def duration(value: object) -> float:
    if isinstance(value, bool):
        raise FieldProblem(f"invalid duration {value!r}", hint="write e.g. 10s, 1m30s, 500ms")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise FieldProblem(f"invalid duration {value!r}", hint="write e.g. 10s, 1m30s, 500ms")
    return sum(float(n) * _GO_UNITS[u] for n, u in parts)


# Docker's byte sizes are binary whatever the case: 512m = 512 MiB, 1g = 1 GiB.
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([bkmgtp]?)i?b?$", re.IGNORECASE)
_SIZE_FACTORS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50}


def memory(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.match(str(value).strip())
    if not match:
        raise FieldProblem(f"invalid size {value!r}", hint="write e.g. 512M, 1G, 256m")
    return int(float(match[1]) * _SIZE_FACTORS[match[2].lower()])


def cpus(value: object) -> float:
    try:
        amount = float(str(value))
    except ValueError:
        raise FieldProblem(f"invalid cpus {value!r}", hint="write e.g. '0.5' or '2'") from None
    if amount <= 0:
        raise FieldProblem(f"cpus must be positive, got {value!r}")
    return amount


def command(value: object) -> tuple[str, ...]:
    """A command as Compose runs it: a list as is, a string split like a shell would
    (but not run by one)."""
    if isinstance(value, list):
        if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            raise FieldProblem("a command list holds strings", hint='write ["python", "app.py"]')
        return tuple(str(v) for v in value)
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise FieldProblem(f"cannot split command {value!r}: {exc}") from None
    raise FieldProblem(
        f"a command is a string or a list, not {value!r}", hint='write "python app.py"'
    )
