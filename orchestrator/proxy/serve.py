"""`envctl proxy serve`: a ``ProxyServer``, its HTTP API and the config's schedules, together.

``serve(config)`` starts the proxies of the config (with their toxics), the control API and,
unless the config says ``"schedule_start": "api"``, the schedule clock; then it runs until
SIGTERM/SIGINT (or ``stop`` is set) and closes everything, on every exit path.

Events go to ``events_log`` as JSON lines, one object per line with ``ts`` (Unix seconds)
and ``event``: ``serving``, ``proxy_added|updated|removed``, ``toxic_added|updated|removed``
(``source``: ``config``, ``api``), ``reset``, ``schedules_started``, ``schedule_fired``
(``action``: ``add`` or ``remove``, with how late it fired), ``schedule_failed`` and
``stopping``. Per-connection fault decisions are not among them: the core only logs them
(debug level, ``orchestrator.proxy.relay``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from orchestrator.exceptions import ServiceError, UsageError
from orchestrator.proxy.api import ControlApi, EventSink, start_site
from orchestrator.proxy.config import Schedule, ServeConfig
from orchestrator.proxy.model import FaultSpecError, ProxyConfig
from orchestrator.proxy.server import ProxyNotFound, ProxyServer, ToxicExists, ToxicNotFound

log = logging.getLogger(__name__)
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class EventLog:
    """An ``EventSink`` appending JSON lines to a file; with no file it only logs."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._file: IO[str] | None = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = path.open("a", encoding="utf-8")
            except OSError as exc:
                raise UsageError(
                    f"cannot open events_log {str(path)!r}: {exc.strerror}",
                    hint="point events_log at a writable file, or set it to null",
                ) from exc

    def __call__(self, event: str, fields: dict[str, Any]) -> None:
        log.debug("event %s %s", event, fields)
        if self._file is None:
            return
        record = {"ts": round(time.time(), 6), "event": event, **fields}
        # One write and a flush per line: a reader tailing the file never sees half a line.
        self._file.write(json.dumps(record, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class Scheduler:
    """Adds each schedule's toxic at ``at`` seconds after ``start()`` and removes it
    ``duration`` seconds later. Times are absolute from the start, so a late firing does
    not push the later ones back."""

    def __init__(
        self,
        server: ProxyServer,
        schedules: tuple[Schedule, ...],
        events: EventSink,
    ) -> None:
        self.server = server
        self.schedules = schedules
        self.events = events
        self.states = ["pending"] * len(schedules)
        self.t0: float | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> bool:
        if self.t0 is not None:
            return False
        loop = asyncio.get_running_loop()
        self.t0 = loop.time()
        self.events("schedules_started", {"schedules": len(self.schedules)})
        self._tasks = [loop.create_task(self._run(i, s)) for i, s in enumerate(self.schedules)]
        return True

    def status(self) -> list[dict[str, Any]]:
        return [
            {**s.describe(), "state": state}
            for s, state in zip(self.schedules, self.states, strict=True)
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _run(self, index: int, schedule: Schedule) -> None:
        fields = {"schedule": index, "proxy": schedule.proxy, "toxic": schedule.toxic.name}
        late = await self._sleep_until(schedule.at)
        try:
            added = await self.server.add_toxic(schedule.proxy, schedule.toxic)
        except (ProxyNotFound, ToxicExists, FaultSpecError) as exc:  # the API got there first
            self.states[index] = "failed"
            log.warning("schedule %d: cannot add toxic %r: %s", index, schedule.toxic.name, exc)
            self.events("schedule_failed", {**fields, "error": str(exc) or type(exc).__name__})
            return
        self.states[index] = "active"
        log.info("schedule %d: added toxic %r to %r", index, added.name, schedule.proxy)
        self.events(
            "schedule_fired",
            {
                **fields,
                "action": "add",
                "definition": added.to_json(),
                "late_ms": round(late * 1e3, 3),
            },
        )
        late = await self._sleep_until(schedule.at + schedule.duration)
        try:
            await self.server.remove_toxic(schedule.proxy, added.name)
            gone_already = False
        except (ProxyNotFound, ToxicNotFound):  # removed through the API or by /reset
            gone_already = True
        self.states[index] = "done"
        log.info("schedule %d: removed toxic %r from %r", index, added.name, schedule.proxy)
        self.events(
            "schedule_fired",
            {
                **fields,
                "action": "remove",
                "already_removed": gone_already,
                "late_ms": round(late * 1e3, 3),
            },
        )

    async def _sleep_until(self, offset: float) -> float:
        """Sleep until ``t0 + offset``; returns how late we woke, in seconds."""
        assert self.t0 is not None
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self.t0 + offset - loop.time()))
        return max(0.0, loop.time() - (self.t0 + offset))


async def serve(
    config: ServeConfig,
    *,
    ready: Callable[[dict[str, Any]], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until SIGTERM/SIGINT or ``stop``; ``ready`` gets the bound addresses once up."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    received: list[str] = []
    events = EventLog(config.events_log)  # may fail (UsageError): nothing to undo yet
    server = ProxyServer(seed=config.seed)
    scheduler = Scheduler(server, config.schedules, events)
    runner = None
    handled: list[signal.Signals] = []
    try:
        handled = _on_signals(loop, stop, received)
        for index, proxy in enumerate(config.proxies):
            await _start_proxy(server, proxy, index, config.source, events)
        api = ControlApi(server, events=events, schedules=scheduler)
        try:
            runner, (host, port) = await start_site(api.app(), config.api_host, config.api_port)
        except OSError as exc:
            raise ServiceError(
                "proxy-api",
                f"cannot listen on {config.api_host}:{config.api_port}: {exc.strerror or exc}",
                hint="another process holds the port: choose another 'api' (port 0 = any)",
            ) from exc
        if not ipaddress.ip_address(host).is_loopback:
            log.warning("the proxy API listens on %s, beyond loopback: anyone can add faults", host)
        info = {
            "api": f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}",
            "proxies": {name: p.listen for name, p in server.proxies().items()},
            "seed": server.seed,  # the one drawn when the config has none: replayable
            "events_log": str(config.events_log) if config.events_log else None,
        }
        events("serving", info)
        if config.schedule_start == "serve":
            scheduler.start()
        if ready is not None:
            ready(info)
        await stop.wait()
        events("stopping", {"signal": received[0] if received else None})
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        await scheduler.close()
        if runner is not None:
            await runner.cleanup()
        await server.close()
        events.close()


async def _start_proxy(
    server: ProxyServer, proxy: ProxyConfig, index: int, source: str, events: EventLog
) -> None:
    where = f"{source}: proxies[{index}]"
    try:
        added = await server.add_proxy(proxy)  # with its toxics, all or nothing
    except OSError as exc:
        raise ServiceError(
            f"proxy {proxy.name!r}",
            f"cannot listen on {proxy.listen}: {exc.strerror or exc}",
            hint=f"another process holds the port ({where}.listen); port 0 picks a free one",
        ) from exc
    except ValueError as exc:  # the loader checks the same rules: only a mismatch gets here
        raise UsageError(f"{where}: {exc}") from exc
    events("proxy_added", {"proxy": added.to_json(), "source": "config"})


def _on_signals(
    loop: asyncio.AbstractEventLoop, stop: asyncio.Event, received: list[str]
) -> list[signal.Signals]:
    if threading.current_thread() is not threading.main_thread():
        return []  # embedded (tests, an engine's thread): the caller sets ``stop``

    def handle(sig: signal.Signals) -> None:
        log.info("%s: stopping the proxy", sig.name)
        received.append(sig.name)
        stop.set()

    handled = []
    for sig in _SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handle, sig)
            handled.append(sig)
    return handled
