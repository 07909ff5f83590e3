"""The Python API: one environment as a context manager, for tests and scripts.

    from orchestrator import Environment

    with Environment.from_blueprint("blueprints/checkout.yaml") as env:
        env.url("orders")                      # 'http://127.0.0.1:25172'
        with env.fault("orders-payments-provider", "latency", mean="300ms"):
            ...                                # slower while inside

Loading validates the blueprint (a ``BlueprintError`` with file:line, as the CLI shows);
nothing starts until ``start()``/``__enter__``. ``close()``/``__exit__`` tear down and
record the run like ``envctl run`` does, and so does Python's exit for an environment
never closed (``api_exit``); while one is up in the main thread, SIGTERM stops the
caller's code as Ctrl-C does, so that it gets there. Only SIGKILL (or ``os._exit``)
skips all of that: ``envctl gc`` reaps what it leaves once the process is gone.

Addresses are the host's view, the one suites get (through ``from: suite`` links), with
credentials: it is the caller's own environment. Only their ``repr`` hides passwords,
so a test's output does not. The recorded result (``env.result``) is what was recorded:
redacted, as ``envctl run -o json`` prints it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Self

from orchestrator import api_exit, signals
from orchestrator.api_types import CallerError, Endpoint, LinkFault, State, redacted
from orchestrator.blueprint.loader import LoadedBlueprint
from orchestrator.engine import Engine
from orchestrator.exceptions import EnvctlError, Interrupted, UsageError
from orchestrator.progress import Progress
from orchestrator.result import RunResult, RunStatus
from orchestrator.runtime import registry
from orchestrator.runtime.base import Runtime
from orchestrator.session import Session
from orchestrator.settings import Settings

__all__ = ["Endpoint", "Environment", "LinkFault", "State"]


class Environment:
    """One environment of a blueprint, owned by this process from ``start`` to ``close``."""

    def __init__(
        self,
        loaded: LoadedBlueprint,
        runtime: str = "local",
        *,
        settings: Settings | None = None,
        seed: bool = True,
        audit: Path | None = None,
        progress: Progress | None = None,
        labels: Mapping[str, str] | None = None,
        runtime_factory: Callable[[str, Settings], Runtime] = registry.create,
    ) -> None:
        self.loaded = loaded
        self.runtime = runtime
        self.seed = seed
        self.audit = audit
        self.labels = dict(labels or {})
        self.engine = Engine(
            settings or Settings.from_environ(),
            progress=progress,
            runtime_factory=runtime_factory,
        )
        self.state = State.new
        self.error: BaseException | None = None  # why it could not start
        self._session: Session | None = None
        self._services: Mapping[str, Endpoint] = MappingProxyType({})
        self._result: RunResult | None = None
        self._release_sigterm: Callable[[], None] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_blueprint(
        cls,
        path: str | Path,
        runtime: str = "local",
        *,
        secrets_file: str | Path | None = None,
        state_dir: str | Path | None = None,
        seed: bool = True,
        audit: bool | str | Path = False,
        progress: Progress | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Environment:
        """Load and validate ``path``; settings from the environment (``ENVCTL_*``)."""
        from orchestrator.blueprint.loader import load

        registry.check_public(runtime)
        settings = Settings.from_environ()
        if state_dir is not None:
            settings = dataclasses.replace(settings, state_dir=Path(state_dir))
        if secrets_file is not None:
            settings = dataclasses.replace(settings, secrets_file=Path(secrets_file))
        loaded = load(path)
        profile: Path | None = None
        if audit is True:
            if not loaded.model.profile:
                raise UsageError(
                    f"{loaded.path.name} names no production profile to audit against",
                    hint="add `profile:` to the blueprint, or pass audit=PATH",
                )
            profile = loaded.directory / loaded.model.profile
        elif audit:
            profile = Path(audit)
        return cls(
            loaded,
            runtime,
            settings=settings,
            seed=seed,
            audit=profile,
            progress=progress,
            labels=labels,
        )

    # lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        """Provision, link and seed; on failure everything is torn down and it raises."""
        with self._lock:
            if self.state is not State.new:
                raise UsageError(
                    f"this environment of {self.name!r} was already started ({self.state})",
                    hint="an Environment starts once; make a new one",
                )
            self.state = State.starting
        # Held from before it starts: starting handles SIGTERM itself (``Interrupted``),
        # and no moment between that and ready may fall back to dying at once.
        self._release_sigterm = signals.hold_sigterm()
        try:
            session = self.engine.open(
                self.loaded, self.runtime, seed=self.seed, audit=self.audit, labels=self.labels
            )
        except BaseException as exc:
            self._let_go()
            self.error, self.state = exc, State.failed
            raise
        self._session = session
        api_exit.track(self)  # a script that never closes it: torn down as Python exits
        ordered = [name for name in self.loaded.model.services if name in session.services]
        self._services = MappingProxyType({n: self._endpoint(session, n) for n in ordered})
        self.state = State.ready
        return self

    def close(
        self, error: BaseException | None = None, *, status: RunStatus | None = None
    ) -> RunResult:
        """Tear down and record the run: ``passed`` by default, ``error`` with ``error``.
        Once; later calls return the same result."""
        with self._lock:
            if self._result is not None:
                return self._result
            session = self._require_session()
            if isinstance(error, signals.Terminated):
                error = Interrupted("SIGTERM")
            elif error is not None and not isinstance(error, EnvctlError):
                error = CallerError(error)
            if status is None:
                status = RunStatus.error if error is not None else RunStatus.passed
            try:
                result = self.engine.close(session, status, error=error)
            finally:
                self._let_go()  # teardown runs once: a close that raised is not retried
            self._result = redacted(result, self.engine.redactor)
            self.state = State.closed
            return self._result

    def _let_go(self) -> None:
        api_exit.untrack(self)
        release, self._release_sigterm = self._release_sigterm, None
        if release is not None:
            release()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.state is State.ready:
            self.close(exc)

    @property
    def result(self) -> RunResult:
        """The recorded run, once closed: status, teardown and its leftovers, cost …
        Redacted as it was recorded: ``to_dict()`` is ``envctl run -o json``'s JSON and
        ``result.json``, and secrets are ``***`` in it (``exception`` is the original)."""
        if self._result is None:
            raise UsageError(
                f"the environment of {self.name!r} is {self.state}: no result until it is closed",
                hint="read env.result after the `with` block (or env.close())",
            )
        return self._result

    # what it is ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The blueprint's name."""
        return self.loaded.name

    @property
    def session(self) -> Session:
        return self._require_session(live=True)

    @property
    def env_id(self) -> str:
        return self._require_session().env_id

    @property
    def env_file(self) -> Path:
        """``ENVCTL_<SERVICE>_HOST/_PORT/_URL`` as a dotenv file, as suites get them."""
        return self._require_session(live=True).env_file

    @property
    def run_dir(self) -> Path:
        """Logs and reports, kept after teardown."""
        return self._require_session().env.run_dir

    @property
    def services(self) -> Mapping[str, Endpoint]:
        self._require_session(live=True)
        return self._services

    def endpoint(self, service: str) -> Endpoint:
        services = self.services
        if service not in services:
            raise UsageError(
                f"{self.name!r} has no service {service!r}",
                hint=f"services: {', '.join(services) or '(none)'}",
            )
        return services[service]

    def url(self, service: str) -> str:
        return self.endpoint(service).url

    @staticmethod
    def _endpoint(session: Session, name: str) -> Endpoint:
        resolver = session.resolver
        # The suites' view: through the proxy when a `from: suite` link fronts it.
        at = resolver.suite_links.get(name, resolver.external[name])
        return Endpoint(name, at.host, at.port, resolver.url_at(name, at))

    def _require_session(self, live: bool = False) -> Session:
        if self._session is None:
            hint = "use `with Environment.from_blueprint(...) as env:` or call env.start()"
            if self.state is State.failed:
                hint = f"it could not start: {self.engine.redactor(_render(self.error))}"
            raise UsageError(f"the environment of {self.name!r} is not started", hint=hint)
        if live and self.state is State.closed:
            raise UsageError(
                f"{self._session.env_id!r} was torn down", hint="use it inside the `with` block"
            )
        return self._session

    # faults on links ------------------------------------------------------------------

    @property
    def links(self) -> list[str]:
        """The blueprint's link names (``from-to``), which faults are put on."""
        return [link.name for link in self.loaded.model.links]

    def faults(self, link: str) -> list[LinkFault]:
        """What is on ``link`` now: the blueprint's own faults and any added since."""
        data = self._proxy("GET", f"/proxies/{self._link(link)}/toxics")
        return [LinkFault.from_json(link, t) for t in data or []]

    def add_fault(
        self, link: str, kind: str, name: str | None = None, **attributes: Any
    ) -> LinkFault:
        """Add a fault of ``kind`` with blueprint-style attributes (``mean="300ms"``,
        ``probability=0.5``, ``stream="upstream"``); live at once, until removed."""
        from orchestrator import livefaults

        self._link(link)
        toxic = livefaults.toxic(kind, attributes, name)
        created = self._proxy("POST", f"/proxies/{link}/toxics", toxic.to_json())
        return LinkFault.from_json(link, created)

    def remove_fault(self, link: str, name: str) -> None:
        self._proxy("DELETE", f"/proxies/{self._link(link)}/toxics/{name}")

    def reset_faults(self) -> None:
        """Remove every fault from every link (the blueprint's own too)."""
        self._proxy("POST", "/reset")

    @contextmanager
    def fault(
        self, link: str, kind: str, name: str | None = None, **attributes: Any
    ) -> Iterator[LinkFault]:
        """``add_fault`` for the duration of a ``with`` block, removed on the way out."""
        added = self.add_fault(link, kind, name, **attributes)
        try:
            yield added
        finally:
            if self.state is State.ready:  # a closed environment took its faults with it
                self.remove_fault(link, added.name)

    def _link(self, link: str) -> str:
        if link not in self.links:
            raise UsageError(
                f"{self.name!r} has no link {link!r}",
                hint=f"links: {', '.join(self.links) or '(none: declare `links:`)'}",
            )
        return link

    def _proxy(self, method: str, path: str, body: Any = None) -> Any:
        from orchestrator import livefaults

        session = self._require_session(live=True)
        api = session.resolver.proxy_api
        if api is None or api.port is None:
            raise UsageError(f"{self.name!r} has no links", hint="declare `links:` in it")
        return livefaults.call(session.env_id, api.host, api.port, method, path, body)

    def __repr__(self) -> str:
        which = self._session.env_id if self._session is not None else self.name
        return f"<Environment {which} on {self.runtime}: {self.state}>"


def _render(error: BaseException | None) -> str:
    if isinstance(error, EnvctlError):
        return error.render()
    return f"{type(error).__name__}: {error}" if error is not None else "unknown"
