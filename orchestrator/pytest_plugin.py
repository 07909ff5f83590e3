"""envctl's pytest plugin: ``pytest --envctl BLUEPRINT`` or ``@pytest.mark.envctl(...)``.

Tests ask for the ``envctl_env`` fixture (an ``orchestrator.Environment``). With
``--envctl``, one environment serves the whole test session; a marker on a module
(``pytestmark``) or a class gives its tests their own, for the marker's ``scope``. Either
way it starts the first time a test asks, and is torn down when its scope ends —
failures and Ctrl-C included — and recorded like ``envctl run`` records a run.

Under pytest-xdist every worker is its own test session, so each brings up its own
environment (the controller runs no tests and starts none); workers send their summary
lines to the controller, which prints them.

pytest loads this plugin in every run of this venv, envctl's own suite included: without
``--envctl`` and without the marker it must do nothing, so envctl itself is imported
only inside the functions that need it.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest

from orchestrator.progress import Progress, plain_line

if TYPE_CHECKING:
    from orchestrator.api import Environment
    from orchestrator.blueprint.loader import LoadedBlueprint

MARKER = "envctl"
SCOPES = ("session", "module", "class", "function")
WORKER_LABEL = "envctl.pytest-worker"
_SCOPE_FIXTURE = {scope: f"_envctl_{scope}_scope" for scope in SCOPES}
_OUTPUT_KEY = "envctl"  # in xdist's workeroutput: the worker's summary lines


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    _rewrite_only_this_module(pluginmanager)
    group = parser.getgroup("envctl", "envctl test environments")
    group.addoption(
        "--envctl",
        metavar="BLUEPRINT",
        help="Bring up BLUEPRINT's environment (a path, or a name under ./blueprints/) "
        "for the test session, for tests that ask for the envctl_env fixture.",
    )
    group.addoption(
        "--envctl-runtime",
        metavar="RUNTIME",
        help="Where environments run: local (default), docker or kubernetes.",
    )


def _rewrite_only_this_module(pluginmanager: pytest.PytestPluginManager) -> None:
    """Keep pytest's assertion rewriting off the rest of envctl.

    pytest rewrites every module of a distribution that declares a pytest11 entry point:
    here all of ``orchestrator``, which envctl's own tests (and this plugin) import, some
    lazily from worker threads, where CPython 3.11 compiling two modules at once fails
    ("SystemError: AST constructor recursion depth mismatch"). Only this module holds
    pytest code; the others import as they do outside pytest, from their .pyc files.
    """
    hook = getattr(pluginmanager, "rewrite_hook", None)
    marked = getattr(hook, "_must_rewrite", None)
    cache = getattr(hook, "_marked_for_rewrite_cache", None)
    if isinstance(marked, set) and "orchestrator" in marked:
        marked.discard("orchestrator")
        marked.add(__name__)
        if isinstance(cache, dict):
            cache.clear()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(blueprint, runtime='local', scope='module'): the envctl_env fixture of "
        "these tests is an environment of BLUEPRINT (relative to the test file), one per "
        f"scope ({', '.join(SCOPES)}).",
    )
    manager = _Manager(config)
    config.stash[_MANAGER] = manager
    manager.configure()


@dataclass(frozen=True)
class _Spec:
    """Which environment a test asks for."""

    blueprint: Path
    runtime: str
    scope: str


@dataclass
class _Held:
    """One environment of one scope: open, or why it could not start."""

    spec: _Spec
    env: Environment | None = None
    error: str | None = None
    interrupted: bool = False
    failed_tests: int = 0
    up_seconds: float = 0.0


@dataclass
class _Manager:
    """Per pytest process: the option's blueprint, every environment opened, the lines
    for the terminal summary."""

    config: pytest.Config
    option_spec: _Spec | None = None
    option_loaded: LoadedBlueprint | None = None
    held: list[_Held] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    signal_name: str = "SIGINT"  # what interrupted the session, for the runs' records
    _sigterm_caught: bool = False

    @property
    def worker(self) -> str | None:
        """The xdist worker id (gw0, gw1 …) in a worker; None otherwise."""
        workerinput = getattr(self.config, "workerinput", None)
        return str(workerinput["workerid"]) if workerinput else None

    def default_runtime(self) -> str:
        return str(self.config.getoption("envctl_runtime") or "local")

    def configure(self) -> None:
        """Check ``--envctl`` and ``--envctl-runtime`` now: a typo or a broken blueprint
        is one usage error before any test runs, not one failure per test."""
        blueprint = self.config.getoption("envctl")
        runtime = self.config.getoption("envctl_runtime")
        if not blueprint and not runtime:
            return
        from orchestrator.exceptions import EnvctlError
        from orchestrator.runtime import registry

        try:
            registry.check_public(self.default_runtime())
            if blueprint:
                from orchestrator.blueprint.loader import load
                from orchestrator.cli.blueprint_arg import resolve

                path = (self.config.invocation_params.dir / resolve(blueprint)).resolve()
                self.option_loaded = load(path)
                self.option_spec = _Spec(path, self.default_runtime(), "session")
        except EnvctlError as exc:
            raise pytest.UsageError(f"envctl: {exc.render()}") from None

    # which environment a test wants -------------------------------------------------

    def spec_for(self, item: pytest.Item) -> _Spec:
        marker = item.get_closest_marker(MARKER)
        if marker is None:
            if self.option_spec is None:
                pytest.fail(
                    f"{item.nodeid} asks for envctl_env, but no environment is configured: "
                    "run pytest with --envctl BLUEPRINT, or mark the test's module or class "
                    f"with @pytest.mark.{MARKER}('blueprint.yaml')",
                    pytrace=False,
                )
            return self.option_spec
        args, kwargs = list(marker.args), dict(marker.kwargs)
        blueprint = kwargs.pop("blueprint", None) or (args.pop(0) if args else None)
        runtime = str(kwargs.pop("runtime", None) or self.default_runtime())
        scope = str(kwargs.pop("scope", "module"))
        if not blueprint or args or kwargs:
            pytest.fail(
                f"{item.nodeid}: @pytest.mark.{MARKER} takes a blueprint path and runtime=, "
                f"scope=; got {marker.args!r} {marker.kwargs!r}",
                pytrace=False,
            )
        if scope not in SCOPES:
            pytest.fail(
                f"{item.nodeid}: @pytest.mark.{MARKER}(scope={scope!r}) is not a scope; "
                f"valid: {', '.join(SCOPES)}",
                pytrace=False,
            )
        path = Path(str(blueprint))
        if not path.is_absolute():  # beside the test file, wherever pytest was started
            path = item.path.parent / path
        return _Spec(path.resolve(), runtime, scope)

    # bringing one up, and down -------------------------------------------------------

    def open(self, held: _Held) -> Environment:
        """The environment of ``held``, started on first use; a failed start fails every
        later test of the same scope at once, with the same message."""
        if held.env is not None:
            return held.env
        if held.interrupted:
            raise KeyboardInterrupt
        if held.error is not None:
            pytest.fail(held.error, pytrace=False)
        from orchestrator.exceptions import EnvctlError, Interrupted

        started = time.monotonic()
        env = None
        try:
            env = self._environment(held.spec)
            env.start()
        except Interrupted as exc:  # Ctrl-C while starting: torn down; stop the session
            held.interrupted, held.error = True, self._redact(env, f"envctl: {exc.render()}")
            self.lines.append(held.error)
            raise KeyboardInterrupt from exc
        except EnvctlError as exc:  # a blueprint's error names its file already
            what = f"{env.name} on {env.runtime}: " if env is not None else ""
            held.error = self._redact(env, f"envctl: {what}{exc.render()}")
            self.lines.append(self._tag(f"envctl: {what}could not start: {exc.message}"))
        except BaseException as exc:  # a bug: its traceback, once; then fail fast
            held.error = f"envctl: could not start {held.spec.blueprint}: {exc!r}"
            raise
        if held.error is not None:  # outside the except: no "during handling of …"
            pytest.fail(held.error, pytrace=False)
        assert env is not None
        held.env, held.up_seconds = env, time.monotonic() - started
        self._catch_sigterm()
        self.held.append(held)
        return env

    def _environment(self, spec: _Spec) -> Environment:
        from orchestrator.api import Environment

        labels = {WORKER_LABEL: self.worker} if self.worker else {}
        progress = _Reporter(self.config, self.worker)
        if self.option_loaded is not None and spec == self.option_spec:
            from orchestrator.settings import Settings

            return Environment(
                self.option_loaded,
                spec.runtime,
                settings=Settings.from_environ(),
                progress=progress,
                labels=labels,
            )
        return Environment.from_blueprint(
            spec.blueprint, spec.runtime, progress=progress, labels=labels
        )

    def close(self, held: _Held, session: pytest.Session | None) -> None:
        """Tear down and record: passed when every test that used it passed."""
        env = held.env
        if env is None or env.state != "ready":
            return
        from orchestrator.exceptions import Interrupted
        from orchestrator.result import RunStatus

        error: BaseException | None = None
        status = RunStatus.failed if held.failed_tests else RunStatus.passed
        exitstatus = getattr(session, "exitstatus", None)
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            error, status = Interrupted(self.signal_name), RunStatus.error
        started = time.monotonic()
        try:
            result = env.close(error, status=status)
        finally:
            if env.state != "closed":
                self.lines.append(self._tag(f"envctl: {env.env_id}: teardown did not finish"))
        left = result.leftovers
        self.lines.append(
            self._tag(
                f"envctl: {result.env} up in {held.up_seconds:.1f}s on {result.runtime}; "
                f"torn down in {time.monotonic() - started:.1f}s, {len(left)} leftovers"
                + (f": {', '.join(left)}" if left else "")
            )
        )

    def close_all(self, session: pytest.Session | None) -> None:
        for held in self.held:
            self.close(held, session)

    def _catch_sigterm(self) -> None:
        """While environments are up, SIGTERM (a CI job cancelled) stops the session as
        Ctrl-C does, so that they are torn down; pytest alone would just die."""
        if self._sigterm_caught or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # someone else's handler: theirs to decide

        def interrupt(signum: int, frame: FrameType | None) -> None:
            self.signal_name = signal.Signals(signum).name
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: teardown must finish
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupt)
        self._sigterm_caught = True

    def release_sigterm(self) -> None:
        if self._sigterm_caught and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            self._sigterm_caught = False

    def _tag(self, line: str) -> str:
        return f"{line} [{self.worker}]" if self.worker else line

    @staticmethod
    def _redact(env: Environment | None, text: str) -> str:
        return env.engine.redactor(text) if env is not None else text


_MANAGER = pytest.StashKey[_Manager]()
_USED = pytest.StashKey[_Held]()


class _Reporter(Progress):
    """envctl's progress lines through pytest's terminal at ``-v`` (never in an xdist
    worker: its output does not reach the terminal)."""

    def __init__(self, config: pytest.Config, worker: str | None) -> None:
        self.config = config
        self.shown = config.get_verbosity() > 0 and worker is None
        self.t0 = time.monotonic()

    def step(self, text: str) -> None:
        if not self.shown:
            return
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if terminal is None:
            return
        line = "envctl " + plain_line(time.monotonic() - self.t0, text)
        if capture is not None:  # a fixture runs while pytest captures output
            with capture.global_and_fixture_disabled():
                terminal.write_line(line)
        else:
            terminal.write_line(line)


# fixtures -----------------------------------------------------------------------------


class _Scope:
    """The environments of one fixture scope (a module, a class …), closed with it."""

    def __init__(self, manager: _Manager, session: pytest.Session) -> None:
        self.manager = manager
        self.session = session
        self.held: dict[_Spec, _Held] = {}

    def get(self, spec: _Spec) -> _Held:
        return self.held.setdefault(spec, _Held(spec))

    def close(self) -> None:
        for held in self.held.values():
            self.manager.close(held, self.session)


def _scope(request: pytest.FixtureRequest) -> Iterator[_Scope]:
    scope = _Scope(request.config.stash[_MANAGER], request.session)
    yield scope
    scope.close()


@pytest.fixture(scope="session")
def _envctl_session_scope(request: pytest.FixtureRequest) -> Iterator[_Scope]:
    yield from _scope(request)


@pytest.fixture(scope="module")
def _envctl_module_scope(request: pytest.FixtureRequest) -> Iterator[_Scope]:
    yield from _scope(request)


@pytest.fixture(scope="class")
def _envctl_class_scope(request: pytest.FixtureRequest) -> Iterator[_Scope]:
    yield from _scope(request)


@pytest.fixture
def _envctl_function_scope(request: pytest.FixtureRequest) -> Iterator[_Scope]:
    yield from _scope(request)


@pytest.fixture
def envctl_env(request: pytest.FixtureRequest) -> Environment:
    """The envctl environment of this test: ``endpoint(name)``, ``url(name)``,
    ``fault(link, kind, **attributes)``; see docs/pytest.md."""
    manager = request.config.stash[_MANAGER]
    item = request.node
    assert isinstance(item, pytest.Item)
    spec = manager.spec_for(item)
    scope: _Scope = request.getfixturevalue(_SCOPE_FIXTURE[spec.scope])
    held = scope.get(spec)
    item.stash[_USED] = held
    return manager.open(held)


# hooks --------------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test counts against its environment's run (status ``failed``)."""
    outcome = yield
    held = item.stash.get(_USED, None)
    if held is not None and outcome.get_result().failed:  # type: ignore[attr-defined]
        held.failed_tests += 1


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After the fixtures' teardown: whatever is still up goes now; a worker hands its
    summary lines to the controller."""
    manager = session.config.stash.get(_MANAGER, None)
    if manager is None:
        return
    manager.close_all(session)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None and manager.lines:
        workeroutput[_OUTPUT_KEY] = list(manager.lines)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: a worker finished; keep its envctl lines for the summary."""
    workeroutput = getattr(node, "workeroutput", None) or {}
    manager = node.config.stash.get(_MANAGER, None)
    if manager is not None:
        manager.lines.extend(workeroutput.get(_OUTPUT_KEY, []))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    manager = config.stash.get(_MANAGER, None)
    if manager is None or not manager.lines or manager.worker:
        return
    for line in manager.lines:
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    manager = config.stash.get(_MANAGER, None)
    if manager is not None:  # nothing is left up when pytest exits, however it ends
        manager.close_all(None)
        manager.release_sigterm()
