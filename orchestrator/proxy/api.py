"""The HTTP control API: Toxiproxy's, route for route, over a ``ProxyServer``.

Same paths, methods, JSON shapes, status codes and error body (``{"error", "status"}``)
as Toxiproxy 2.x, so its clients work unchanged (``toxiproxy-python`` is tested). On top:

* ``GET /metrics``: Prometheus text, Toxiproxy's byte counters plus ``envctl_*`` series;
* ``GET /envctl/metrics``: ``ProxyServer.metrics()`` as JSON;
* ``GET /envctl/schedules`` and ``POST /envctl/schedules/start``: the config's schedules;
* ``POST /proxies`` and ``/populate`` accept ``toxics`` too, so a proxy and its faults are
  created in one call, all or nothing (Toxiproxy #148).

Handlers only await the server's control methods, each under a deadline (503 when it
passes, as Toxiproxy's 25 s timeout does), so no request waits behind the data path.
aiohttp is imported here and nowhere on the CLI's import path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler

from orchestrator.proxy.model import TOXIC_TYPES, ProxyConfig, Toxic
from orchestrator.proxy.prometheus import prometheus_text
from orchestrator.proxy.server import (
    ProxyExists,
    ProxyNotFound,
    ProxyServer,
    ToxicExists,
    ToxicNotFound,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

EventSink = Callable[[str, dict[str, Any]], None]
"""Receives ``(event, fields)`` for every change made through the API."""

TOXIPROXY_VERSION = "2.12.0"  # the API generation we follow; reported by GET /version
DEFAULT_TIMEOUT = 25.0  # seconds, Toxiproxy's TimeoutHandler
REQUEST_ID_HEADER = "X-Toxiproxy-Request-Id"

# Toxiproxy's messages, verbatim: clients and scripts match on them.
BAD_BODY = "bad request body"
MISSING_FIELD = "missing required field"
INVALID_STREAM = "stream was invalid, can be either upstream or downstream"
INVALID_TYPE = "invalid toxic type"


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ScheduleControl(Protocol):
    """What the API needs of the schedule runner (``serve.Scheduler``)."""

    def start(self) -> bool:
        """Start the clock; False if it was already running."""

    def status(self) -> list[dict[str, Any]]: ...


def error_response(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, "status": status, **extra}, status=status)


def _translate(exc: Exception) -> ApiError | None:
    """The one place server errors become HTTP errors (a test covers every class)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ProxyNotFound):
        return ApiError(404, "proxy not found")
    if isinstance(exc, ToxicNotFound):
        return ApiError(404, "toxic not found")
    if isinstance(exc, ProxyExists):
        return ApiError(409, "proxy already exists")
    if isinstance(exc, ToxicExists):
        return ApiError(409, "toxic already exists")
    if isinstance(exc, ValueError):  # FaultSpecError (a bad toxic) or a bad "host:port"
        return ApiError(400, f"{BAD_BODY}: {exc}")
    if isinstance(exc, OSError):  # cannot listen: Toxiproxy answers 500 with the reason
        return ApiError(500, str(exc))
    return None


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = uuid.uuid4().hex[:20]
    response: web.StreamResponse
    # Browsers may be tricked into calling a loopback API (CSRF); real clients are not
    # browsers, so Toxiproxy refuses every Mozilla/ user agent and so do we.
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        response = error_response(403, "User agent not allowed")
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # unknown path, wrong method
            response = error_response(exc.status, (exc.reason or "error").lower())
            if "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
        except Exception as exc:
            api_error = _translate(exc)
            if api_error is None:  # a bug: its traceback goes to the log, JSON to the client
                log.exception("%s %s failed", request.method, request.path)
                api_error = ApiError(500, f"internal error: {type(exc).__name__}: {exc}")
            response = error_response(api_error.status, api_error.message)
    response.headers[REQUEST_ID_HEADER] = request_id
    log.debug("%s %s -> %s", request.method, request.path, response.status)
    return response


class ControlApi:
    """Route handlers over one ``ProxyServer``; ``app()`` builds the aiohttp application."""

    def __init__(
        self,
        server: ProxyServer,
        *,
        events: EventSink | None = None,
        schedules: ScheduleControl | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        version: str | None = None,
    ) -> None:
        self.server = server
        self.events: EventSink = events or (lambda event, fields: None)
        self.schedules = schedules
        self.timeout = timeout
        self.version = version or f"{TOXIPROXY_VERSION}+envctl.{_envctl_version()}"

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_middleware])
        add = app.router.add_route
        add("GET", "/proxies", self.proxy_index)
        add("POST", "/proxies", self.proxy_create)
        add("POST", "/populate", self.populate)
        add("GET", "/proxies/{proxy}", self.proxy_show)
        add("PATCH", "/proxies/{proxy}", self.proxy_update)
        add("POST", "/proxies/{proxy}", self.proxy_update)  # deprecated since Toxiproxy 2.6
        add("DELETE", "/proxies/{proxy}", self.proxy_delete)
        add("GET", "/proxies/{proxy}/toxics", self.toxic_index)
        add("POST", "/proxies/{proxy}/toxics", self.toxic_create)
        add("GET", "/proxies/{proxy}/toxics/{toxic}", self.toxic_show)
        add("PATCH", "/proxies/{proxy}/toxics/{toxic}", self.toxic_update)
        add("POST", "/proxies/{proxy}/toxics/{toxic}", self.toxic_update)  # deprecated
        add("DELETE", "/proxies/{proxy}/toxics/{toxic}", self.toxic_delete)
        add("POST", "/reset", self.reset)
        add("GET", "/version", self.show_version)
        add("GET", "/metrics", self.metrics)
        add("GET", "/envctl/metrics", self.envctl_metrics)
        add("GET", "/envctl/schedules", self.schedules_show)
        add("POST", "/envctl/schedules/start", self.schedules_start)
        return app

    async def control(self, operation: Coroutine[Any, Any, T]) -> T:
        """Await one control operation under the API deadline.

        The operation is shielded: on timeout the client gets a 503 but the change still
        completes, rather than being cancelled half-way through rewiring a proxy.
        """
        task = asyncio.ensure_future(operation)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except TimeoutError:
            task.add_done_callback(_log_late_failure)
            raise ApiError(
                503, f"control operation did not finish within {self.timeout:g}s"
            ) from None

    # -- proxies -------------------------------------------------------------------------

    async def proxy_index(self, request: web.Request) -> web.Response:
        return web.json_response({n: p.to_json() for n, p in self.server.proxies().items()})

    async def proxy_create(self, request: web.Request) -> web.Response:
        cfg, _ = _proxy_from_body(await _json(request))
        created = await self.create(cfg)
        return web.json_response(created.to_json(), status=201)

    async def create(self, cfg: ProxyConfig) -> ProxyConfig:
        # The server creates a proxy and its toxics atomically: all or nothing.
        created = await self.control(self.server.add_proxy(cfg))
        self.events("proxy_added", {"proxy": created.to_json(), "source": "api"})
        return created

    async def populate(self, request: web.Request) -> web.Response:
        body = await _json(request)
        if not isinstance(body, list):
            raise ApiError(400, f"{BAD_BODY}: expected a JSON array of proxies")
        wanted = [_proxy_from_body(item, f" at proxy {i + 1}") for i, item in enumerate(body)]
        names = [cfg.name for cfg, _ in wanted]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ApiError(400, f"{BAD_BODY}: duplicate proxy name {name!r}")
        done: list[dict[str, Any]] = []
        for cfg, enabled_given in wanted:
            try:
                done.append((await self.populate_one(cfg, enabled_given)).to_json())
            except Exception as exc:
                api_error = _translate(exc)
                if api_error is None:
                    raise
                return error_response(api_error.status, api_error.message, proxies=done)
        return web.json_response({"proxies": done}, status=201)

    async def populate_one(self, cfg: ProxyConfig, enabled_given: bool) -> ProxyConfig:
        existing = self.server.proxies().get(cfg.name)
        if existing is None:
            return await self.create(cfg)
        if (existing.listen, existing.upstream) == (cfg.listen, cfg.upstream):
            # Idempotent, as Toxiproxy: an unchanged proxy keeps its toxics and connections.
            if enabled_given and existing.enabled != cfg.enabled:
                return await self.update(cfg.name, {"enabled": cfg.enabled})
            return existing
        await self.control(self.server.remove_proxy(cfg.name))
        self.events("proxy_removed", {"proxy": cfg.name, "source": "api"})
        return await self.create(cfg)

    async def proxy_show(self, request: web.Request) -> web.Response:
        return web.json_response(self.server.proxy(request.match_info["proxy"]).to_json())

    async def proxy_update(self, request: web.Request) -> web.Response:
        name = request.match_info["proxy"]
        if request.method == "POST":
            log.warning("POST /proxies/%s is deprecated (as in Toxiproxy); use PATCH", name)
        current = self.server.proxy(name)
        body = await _json(request)
        if not isinstance(body, dict):
            raise ApiError(400, f"{BAD_BODY}: expected a JSON object")
        changes: dict[str, Any] = {}
        for key in ("listen", "upstream"):  # only what changes: a new listen re-binds
            if key in body and body[key] != getattr(current, key):
                changes[key] = body[key]
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise ApiError(400, f"{BAD_BODY}: enabled: expected true or false")
            if body["enabled"] != current.enabled:
                changes["enabled"] = body["enabled"]
        updated = await self.update(name, changes) if changes else current
        return web.json_response(updated.to_json())

    async def update(self, name: str, changes: dict[str, Any]) -> ProxyConfig:
        updated = await self.control(self.server.update_proxy(name, **changes))
        self.events("proxy_updated", {"proxy": name, "changes": changes, "source": "api"})
        return updated

    async def proxy_delete(self, request: web.Request) -> web.Response:
        name = request.match_info["proxy"]
        await self.control(self.server.remove_proxy(name))
        self.events("proxy_removed", {"proxy": name, "source": "api"})
        return web.Response(status=204)

    # -- toxics --------------------------------------------------------------------------

    async def toxic_index(self, request: web.Request) -> web.Response:
        proxy = self.server.proxy(request.match_info["proxy"])
        return web.json_response([t.to_json() for t in proxy.toxics])

    async def toxic_create(self, request: web.Request) -> web.Response:
        name = request.match_info["proxy"]
        proxy = self.server.proxy(name)  # 404 before looking at the body, as Toxiproxy
        toxic = _toxic_from_body(await _json(request))
        # Toxiproxy answers a taken name (409) before it looks at the attributes (400).
        if any(t.name == toxic.name for t in proxy.toxics):
            raise ApiError(409, "toxic already exists")
        added = await self.add_toxic(name, toxic)
        return web.json_response(added.to_json())

    async def add_toxic(self, proxy: str, toxic: Toxic) -> Toxic:
        added = await self.control(self.server.add_toxic(proxy, toxic))
        self.events("toxic_added", {"proxy": proxy, "toxic": added.to_json(), "source": "api"})
        return added

    async def toxic_show(self, request: web.Request) -> web.Response:
        return web.json_response(self.find_toxic(request).to_json())

    async def toxic_update(self, request: web.Request) -> web.Response:
        proxy, name = request.match_info["proxy"], request.match_info["toxic"]
        self.find_toxic(request)  # a 404 before looking at the body
        body = await _json(request)
        if not isinstance(body, dict):
            raise ApiError(400, f"{BAD_BODY}: expected a JSON object")
        attributes = body.get("attributes")
        if attributes is not None and not isinstance(attributes, dict):
            raise ApiError(400, f"{BAD_BODY}: attributes: expected an object")
        toxicity = body.get("toxicity")
        if toxicity is not None and not _is_number(toxicity):
            raise ApiError(400, f"{BAD_BODY}: toxicity: expected a number")
        # The server merges the patch into the toxic (as Toxiproxy decodes it over a
        # copy): attributes not named keep their values.
        updated = await self.control(
            self.server.update_toxic(
                proxy, name, attributes, float(toxicity) if toxicity is not None else None
            )
        )
        self.events("toxic_updated", {"proxy": proxy, "toxic": updated.to_json(), "source": "api"})
        return web.json_response(updated.to_json())

    async def toxic_delete(self, request: web.Request) -> web.Response:
        proxy, name = request.match_info["proxy"], request.match_info["toxic"]
        await self.control(self.server.remove_toxic(proxy, name))
        self.events("toxic_removed", {"proxy": proxy, "toxic": name, "source": "api"})
        return web.Response(status=204)

    def find_toxic(self, request: web.Request) -> Toxic:
        name = request.match_info["toxic"]
        for toxic in self.server.proxy(request.match_info["proxy"]).toxics:
            if toxic.name == name:
                return toxic
        raise ApiError(404, "toxic not found")

    # -- the rest ------------------------------------------------------------------------

    async def reset(self, request: web.Request) -> web.Response:
        await self.control(self.server.reset())
        self.events("reset", {"source": "api"})
        return web.Response(status=204)

    async def show_version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": self.version})

    async def metrics(self, request: web.Request) -> web.Response:
        text = prometheus_text(self.server.proxies(), self.server.metrics())
        response = web.Response(body=text.encode("utf-8"))
        response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
        return response

    async def envctl_metrics(self, request: web.Request) -> web.Response:
        return web.json_response(self.server.metrics(), dumps=_dumps)

    async def schedules_show(self, request: web.Request) -> web.Response:
        rows = self.schedules.status() if self.schedules else []
        return web.json_response({"schedules": rows})

    async def schedules_start(self, request: web.Request) -> web.Response:
        if self.schedules is None:
            raise ApiError(404, "no schedules configured")
        started = self.schedules.start()
        return web.json_response(
            {"started": True, "already_started": not started, "schedules": self.schedules.status()}
        )


async def start_site(
    app: web.Application, host: str, port: int
) -> tuple[web.AppRunner, tuple[str, int]]:
    """Serve ``app`` on ``host:port`` (0: any free port); returns the runner and address."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0]
    return runner, (str(bound[0]), int(bound[1]))


def _proxy_from_body(body: Any, where: str = "") -> tuple[ProxyConfig, bool]:
    """A proxy from a request body, and whether ``enabled`` was given explicitly."""
    if not isinstance(body, dict):
        raise ApiError(400, f"{BAD_BODY}: expected a JSON object{where}")
    for key in ("name", "upstream"):
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise ApiError(400, f"{BAD_BODY}: {key}{where}: expected a string")
        if not value:
            raise ApiError(400, f"{MISSING_FIELD}: {key}{where}")
    enabled = body.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise ApiError(400, f"{BAD_BODY}: enabled{where}: expected true or false")
    toxics = body.get("toxics") or []
    if not isinstance(toxics, list):
        raise ApiError(400, f"{BAD_BODY}: toxics{where}: expected a list")
    cfg = ProxyConfig(
        name=body["name"],
        listen=body.get("listen") or "127.0.0.1:0",  # the server checks both addresses
        upstream=body["upstream"],
        enabled=True if enabled is None else enabled,
        toxics=[_toxic_from_body(t) for t in toxics],
    )
    return cfg, enabled is not None


def _toxic_from_body(body: Any) -> Toxic:
    """Toxiproxy's own checks, with its messages; the server checks everything else."""
    if not isinstance(body, dict):
        raise ApiError(400, f"{BAD_BODY}: expected a JSON object")
    stream = body.get("stream")
    if stream is None:
        stream = "downstream"
    if stream not in ("upstream", "downstream"):
        raise ApiError(400, INVALID_STREAM)
    kind = body.get("type")
    if kind not in TOXIC_TYPES:
        raise ApiError(400, INVALID_TYPE)
    toxicity = body.get("toxicity")
    return Toxic(
        type=kind,
        name=body.get("name") or "",
        stream="upstream" if stream == "upstream" else "downstream",
        toxicity=1.0 if toxicity is None else toxicity,
        attributes=body.get("attributes") or {},
    )


async def _json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        raise ApiError(400, f"{BAD_BODY}: EOF")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"{BAD_BODY}: {exc}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _dumps(data: Any) -> str:
    return json.dumps(data, default=str)


def _log_late_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("a control operation that timed out failed later: %s", task.exception())


def _envctl_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("envctl")
    except PackageNotFoundError:
        return "0+unknown"
