"""The file `envctl proxy serve --config FILE` starts from, loaded into a frozen ``ServeConfig``.

The file is JSON::

    {
      "api": "127.0.0.1:8474",             # control API; loopback by default
      "seed": 42,                          # or null: a fresh seed per run
      "proxies": [ProxyConfig JSON, ...],  # Toxiproxy's shape, toxics included
      "schedules": [{"proxy": "db", "at": 5, "for": 10, "toxic": Toxic JSON}, ...],
      "schedule_start": "serve",           # or "api": the clock starts on
                                           # POST /envctl/schedules/start
      "events_log": "proxy-events.jsonl"   # or null; relative to this file
    }

Every problem is a ``UsageError`` naming the file, the key path and the value, with a
hint; nothing else leaves ``load_config``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from orchestrator.exceptions import UsageError
from orchestrator.proxy.faults import validate_toxic
from orchestrator.proxy.model import TOXIC_TYPES, FaultSpecError, ProxyConfig, Toxic

DEFAULT_API = "127.0.0.1:8474"
ScheduleStart = Literal["serve", "api"]
_TOP_KEYS = ("api", "seed", "proxies", "schedules", "schedule_start", "events_log")
_PROXY_KEYS = ("name", "listen", "upstream", "enabled", "toxics")
_TOXIC_KEYS = ("name", "type", "stream", "toxicity", "attributes")
_SCHEDULE_KEYS = ("proxy", "at", "for", "toxic")


@dataclass(frozen=True)
class Schedule:
    """Add ``toxic`` to ``proxy`` at ``at`` seconds after the schedule clock starts, and
    remove it ``duration`` seconds later (``for`` in the file)."""

    proxy: str
    at: float
    duration: float
    toxic: Toxic

    def describe(self) -> dict[str, Any]:
        return {"proxy": self.proxy, "at": self.at, "for": self.duration, "toxic": self.toxic.name}


@dataclass(frozen=True)
class ServeConfig:
    api_host: str = "127.0.0.1"
    api_port: int = 8474
    seed: int | None = None
    proxies: tuple[ProxyConfig, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    schedule_start: ScheduleStart = "serve"
    events_log: Path | None = None
    source: str = "<config>"


def load_config(path: str | Path) -> ServeConfig:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"proxy config {str(file)!r} not found", hint="check the --config path"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read proxy config {str(file)!r}: {exc}") from None
    return loads_config(text, str(file), base_dir=file.resolve().parent)


def loads_config(
    text: str, source: str = "<config>", *, base_dir: Path | None = None
) -> ServeConfig:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}",
            hint="the proxy config is JSON (no comments, no trailing commas)",
        ) from None
    return _Parser(source, base_dir or Path.cwd()).config(data)


class _Parser:
    def __init__(self, source: str, base_dir: Path) -> None:
        self.source = source
        self.base_dir = base_dir

    def fail(self, where: str, message: str, hint: str | None = None) -> UsageError:
        return UsageError(f"{self.source}: {where or '(document)'}: {message}", hint=hint)

    def config(self, data: Any) -> ServeConfig:
        self.mapping(data, "", _TOP_KEYS)
        host, port = self.address(data.get("api", DEFAULT_API), "api")
        seed = data.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise self.fail("seed", f"expected an integer or null, got {seed!r}")
        proxies = tuple(
            self.proxy(p, f"proxies[{i}]") for i, p in enumerate(self.array(data, "proxies"))
        )
        seen: set[str] = set()
        for i, p in enumerate(proxies):
            if p.name in seen:
                raise self.fail(f"proxies[{i}].name", f"duplicate proxy name {p.name!r}")
            seen.add(p.name)
        schedules = tuple(
            self.schedule(s, f"schedules[{i}]", seen)
            for i, s in enumerate(self.array(data, "schedules"))
        )
        self.no_overlaps(schedules)
        start = data.get("schedule_start", "serve")
        if start not in ("serve", "api"):
            raise self.fail(
                "schedule_start", f"unknown value {start!r}", hint="use 'serve' or 'api'"
            )
        events = data.get("events_log")
        if events is not None and (not isinstance(events, str) or not events):
            raise self.fail("events_log", f"expected a file path or null, got {events!r}")
        return ServeConfig(
            api_host=host,
            api_port=port,
            seed=seed,
            proxies=proxies,
            schedules=schedules,
            schedule_start=start,
            events_log=self.base_dir / events if events else None,
            source=self.source,
        )

    def proxy(self, data: Any, where: str) -> ProxyConfig:
        self.mapping(data, where, _PROXY_KEYS)
        name = self.string(data, "name", where)
        upstream = self.string(data, "upstream", where)
        if self.address(upstream, f"{where}.upstream")[1] == 0:
            raise self.fail(f"{where}.upstream", f"port 0 is not a server's port: {upstream!r}")
        listen = data.get("listen", "127.0.0.1:0")
        self.address(listen, f"{where}.listen")
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            raise self.fail(f"{where}.enabled", f"expected true or false, got {enabled!r}")
        toxics = [
            self.toxic(t, f"{where}.toxics[{i}]") for i, t in enumerate(self.array(data, "toxics"))
        ]
        names = [t.name for t in toxics]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise self.fail(
                    f"{where}.toxics[{i}].name",
                    f"duplicate toxic name {n!r}",
                    hint="toxic names default to <type>_<stream>; give one of them a name",
                )
        return ProxyConfig(
            name=name, listen=listen, upstream=upstream, enabled=enabled, toxics=toxics
        )

    def toxic(self, data: Any, where: str) -> Toxic:
        self.mapping(data, where, _TOXIC_KEYS)
        kind = data.get("type")
        if kind not in TOXIC_TYPES:
            raise self.fail(
                f"{where}.type", f"unknown toxic type {kind!r}", hint=f"valid types: {_names()}"
            )
        toxic = Toxic(
            type=kind,
            name=data.get("name") or "",
            stream=data.get("stream", "downstream"),
            toxicity=data.get("toxicity", 1.0),
            attributes=data.get("attributes", {}),
        )
        try:
            # The proxy's own rules, so a file that loads is a file that starts.
            return validate_toxic(toxic)
        except FaultSpecError as exc:
            hint = f"a {kind} toxic takes: {', '.join(TOXIC_TYPES[kind])}"
            raise self.fail(where, str(exc), hint=hint) from None

    def schedule(self, data: Any, where: str, proxies: set[str]) -> Schedule:
        self.mapping(data, where, _SCHEDULE_KEYS)
        proxy = self.string(data, "proxy", where)
        if proxy not in proxies:
            known = ", ".join(sorted(proxies)) or "(none)"
            raise self.fail(
                f"{where}.proxy",
                f"no proxy named {proxy!r} in this file",
                hint=f"configured proxies: {known}",
            )
        at = data.get("at")
        if not _number(at) or at < 0:
            raise self.fail(f"{where}.at", f"expected seconds >= 0, got {at!r}")
        duration = data.get("for")
        if not _number(duration) or duration <= 0:
            raise self.fail(
                f"{where}.for",
                f"expected seconds > 0, got {duration!r}",
                hint="how long the toxic stays, counted from 'at'",
            )
        if "toxic" not in data:
            raise self.fail(f"{where}.toxic", "missing", hint="a toxic in Toxiproxy's JSON shape")
        toxic = self.toxic(data["toxic"], f"{where}.toxic")
        return Schedule(proxy=proxy, at=float(at), duration=float(duration), toxic=toxic)

    def no_overlaps(self, schedules: tuple[Schedule, ...]) -> None:
        # Two windows with the same toxic name on one proxy would collide: the second add
        # fails as a duplicate and the first removal would end both.
        for i, s in enumerate(schedules):
            for j, other in enumerate(schedules[:i]):
                same = (s.proxy, s.toxic.name) == (other.proxy, other.toxic.name)
                if same and s.at < other.at + other.duration and other.at < s.at + s.duration:
                    raise self.fail(
                        f"schedules[{i}]",
                        f"overlaps schedules[{j}] (toxic {s.toxic.name!r} on {s.proxy!r})",
                        hint="give one of the toxics another name, or move the windows apart",
                    )

    def mapping(self, data: Any, where: str, keys: tuple[str, ...]) -> None:
        if not isinstance(data, dict):
            raise self.fail(where, f"expected an object, got {_kind(data)}")
        for key in data:
            if key not in keys:
                raise self.fail(
                    f"{where}.{key}" if where else key,
                    "unknown key",
                    hint=f"valid keys: {', '.join(keys)}",
                )

    def array(self, data: dict[str, Any], key: str) -> list[Any]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {_kind(value)}")
        return value

    def string(self, data: dict[str, Any], key: str, where: str) -> str:
        if key not in data:
            raise self.fail(f"{where}.{key}", "missing")
        value = data[key]
        if not isinstance(value, str) or not value:
            raise self.fail(f"{where}.{key}", f"expected a non-empty string, got {value!r}")
        return value

    def address(self, value: Any, where: str) -> tuple[str, int]:
        try:
            return parse_address(value)
        except ValueError as exc:
            raise self.fail(where, str(exc), hint="write host:port, e.g. 127.0.0.1:5432") from None


def parse_address(value: Any) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:80"`` for IPv6) → ``(host, port)``; ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"expected 'host:port', got {value!r}")
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected 'host:port', got {value!r}")
    return host, int(port)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _kind(value: Any) -> str:
    kinds: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
    return kinds.get(type(value), repr(value))


def _names() -> str:
    return ", ".join(TOXIC_TYPES)
