"""envctl's pytest plugin: ``pytest --envctl BLUEPRINT`` or ``@pytest.mark.envctl(...)``.

Tests ask for the ``envctl_env`` fixture (an ``orchestrator.Environment``). With
``--envctl``, one environment serves the whole test session; a marker on a module
(``pytestmark``) or a class gives its tests their own, for the marker's ``scope``. Either
way it starts the first time a test asks, and is torn down when its scope ends —
failures and Ctrl-C included — and recorded like ``envctl run`` records a run.

Under pytest-xdist every worker is its own test session, so each brings up its own
environment (the controller runs no tests and starts none); workers send their summary
lines to the controller, which prints them.

The hooks and fixtures are here; the environments, in ``pytest_envs.py``. pytest loads
this plugin in every run of this venv, envctl's own suite included: without ``--envctl``
and without the marker it must do nothing, so envctl itself is imported only inside the
functions that need it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from orchestrator.api import Environment
    from orchestrator.pytest_envs import Held, Manager, Spec

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
    pytest code that asserts; the others (``pytest_envs`` too, imported after this ran)
    import as they do outside pytest, from their .pyc files.
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
    from orchestrator import pytest_envs

    config.addinivalue_line(
        "markers",
        f"{pytest_envs.MARKER}(blueprint, runtime='local', scope='module'): the envctl_env "
        "fixture of these tests is an environment of BLUEPRINT (relative to the test "
        f"file), one per scope ({', '.join(pytest_envs.SCOPES)}).",
    )
    manager = pytest_envs.Manager(config)
    config.stash[pytest_envs.MANAGER] = manager
    config.pluginmanager.register(manager, "envctl-environments")  # its hooks
    manager.configure()


def _manager(config: pytest.Config) -> Manager | None:
    from orchestrator import pytest_envs

    return config.stash.get(pytest_envs.MANAGER, None)


# fixtures -----------------------------------------------------------------------------


class _Scope:
    """The environments of one fixture scope (a module, a class …), closed with it."""

    def __init__(self, manager: Manager, session: pytest.Session) -> None:
        self.manager = manager
        self.session = session
        self.held: dict[Spec, Held] = {}

    def get(self, spec: Spec) -> Held:
        from orchestrator.pytest_envs import Held

        return self.held.setdefault(spec, Held(spec))

    def close(self) -> None:
        for held in self.held.values():
            self.manager.close(held, self.session)


def _scope(request: pytest.FixtureRequest) -> Iterator[_Scope]:
    manager = _manager(request.config)
    assert manager is not None, "pytest_configure made it"
    scope = _Scope(manager, request.session)
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
    from orchestrator import pytest_envs

    manager = request.config.stash[pytest_envs.MANAGER]
    item = request.node
    assert isinstance(item, pytest.Item)
    spec = manager.spec_for(item)
    scope: _Scope = request.getfixturevalue(f"_envctl_{spec.scope}_scope")  # below
    held = scope.get(spec)
    item.stash[pytest_envs.USED] = held
    return manager.open(held)


# hooks --------------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test counts against its environment's run (status ``failed``)."""
    outcome = yield
    from orchestrator import pytest_envs

    held = item.stash.get(pytest_envs.USED, None)
    if held is not None and outcome.get_result().failed:  # type: ignore[attr-defined]
        held.failed_tests += 1


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After the fixtures' teardown: whatever is still up goes now; a worker hands its
    summary lines to the controller."""
    manager = _manager(session.config)
    if manager is None:
        return
    manager.close_all(session)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None and manager.lines:
        workeroutput[_OUTPUT_KEY] = list(manager.lines)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config: pytest.Config, specs: Any) -> None:
    """xdist's controller, before it starts the workers: SIGTERM as Ctrl-C."""
    manager = _manager(config)
    if manager is not None:
        manager.hold_sigterm_in_controller()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: a worker finished; keep its envctl lines for the summary."""
    workeroutput = getattr(node, "workeroutput", None) or {}
    manager = _manager(node.config)
    if manager is not None:
        manager.lines.extend(workeroutput.get(_OUTPUT_KEY, []))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    manager = _manager(config)
    if manager is None or not manager.lines or manager.worker:
        return
    for line in manager.lines:
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    manager = _manager(config)
    if manager is not None:  # nothing is left up when pytest exits, however it ends
        manager.close_all(None)
        manager.release_sigterm()
