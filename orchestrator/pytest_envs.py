"""The pytest plugin's environments: which one a test asks for, bringing them up and
down, and every line the plugin prints (each through its environment's ``Redactor``).

The hooks and fixtures are in ``pytest_plugin.py``; this module is imported from them
once pytest is configured, so pytest's assertion rewriting, which the plugin keeps to
its own module, never applies here: nothing in it relies on ``assert``.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from orchestrator.progress import Progress, plain_line

if TYPE_CHECKING:
    from orchestrator.api import Environment
    from orchestrator.blueprint.loader import LoadedBlueprint

MARKER = "envctl"
SCOPES = ("session", "module", "class", "function")
WORKER_LABEL = "envctl.pytest-worker"


@dataclass(frozen=True)
class Spec:
    """Which environment a test asks for."""

    blueprint: Path
    runtime: str
    scope: str


@dataclass
class Held:
    """One environment of one scope: open, or why it could not start."""

    spec: Spec
    env: Environment | None = None
    error: str | None = None
    interrupted: bool = False
    failed_tests: int = 0
    up_seconds: float = 0.0


@dataclass
class Manager:
    """Per pytest process: the option's blueprint, every environment opened, the lines
    for the terminal summary."""

    config: pytest.Config
    option_spec: Spec | None = None
    option_loaded: LoadedBlueprint | None = None
    configured: bool = False  # --envctl or --envctl-runtime given
    held: list[Held] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    signal_name: str = "SIGINT"  # what interrupted the session, for the runs' records
    _release_sigterm: Callable[[], None] | None = None

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
        self.configured = True
        from orchestrator.exceptions import EnvctlError
        from orchestrator.runtime import registry

        try:
            registry.check_public(self.default_runtime())
            if blueprint:
                from orchestrator.blueprint.loader import load
                from orchestrator.cli.blueprint_arg import resolve

                path = (self.config.invocation_params.dir / resolve(blueprint)).resolve()
                self.option_loaded = load(path)
                self.option_spec = Spec(path, self.default_runtime(), "session")
        except EnvctlError as exc:
            raise pytest.UsageError(f"envctl: {exc.render()}") from None

    # which environment a test wants -------------------------------------------------

    def spec_for(self, item: pytest.Item) -> Spec:
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
        return Spec(path.resolve(), runtime, scope)

    # bringing one up, and down -------------------------------------------------------

    def open(self, held: Held) -> Environment:
        """The environment of ``held``, started on first use; a failed start fails every
        later test of the same scope at once, with the same message. SIGTERM while it is
        up stops the session as Ctrl-C does: the ``Environment`` sees to that."""
        if held.env is not None:
            return held.env
        if held.interrupted:
            raise KeyboardInterrupt
        if held.error is not None:
            pytest.fail(held.error, pytrace=False)
        from orchestrator.exceptions import EnvctlError, Interrupted

        started = time.monotonic()
        env = None
        shown = ""  # why it could not start, for this test (held.error: for the later ones)
        try:
            env = self._environment(held.spec)
            env.start()
        except Interrupted as exc:  # Ctrl-C while starting: torn down; stop the session
            self.signal_name = exc.signal_name
            held.interrupted, held.error = True, _redact(env, f"envctl: {exc.render()}")
            self.say(env, held.error)
            raise KeyboardInterrupt from exc
        except EnvctlError as exc:  # a blueprint's error names its file already
            what = f"{env.name} on {env.runtime}: " if env is not None else ""
            held.error = shown = _redact(env, f"envctl: {what}{exc.render()}")
            self.say(env, f"envctl: {what}could not start: {exc.message}")
        except Exception as exc:  # a bug: its traceback, once, redacted; then fail fast
            held.error = _redact(env, f"envctl: could not start {held.spec.blueprint}: {exc!r}")
            trace = "".join(traceback.format_exception(exc))
            shown = _redact(env, f"{held.error} (a bug in envctl)\n{trace}")
        except BaseException:  # KeyboardInterrupt, SystemExit …: the session stops
            held.interrupted = True
            raise
        if env is None or shown:  # outside the except: no "during handling of …"
            pytest.fail(shown, pytrace=False)
        held.env, held.up_seconds = env, time.monotonic() - started
        self.held.append(held)
        return env

    def _environment(self, spec: Spec) -> Environment:
        from orchestrator.api import Environment

        labels = {WORKER_LABEL: self.worker} if self.worker else {}
        progress = Reporter(self.config, self.worker)
        if self.option_loaded is not None and spec == self.option_spec:
            from orchestrator.settings import Settings

            env = Environment(
                self.option_loaded,
                spec.runtime,
                settings=Settings.from_environ(),
                progress=progress,
                labels=labels,
            )
        else:
            env = Environment.from_blueprint(
                spec.blueprint, spec.runtime, progress=progress, labels=labels
            )
        progress.redact = env.engine.redactor  # knows every secret once they are resolved
        return env

    def close(self, held: Held, session: pytest.Session | None) -> None:
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
                self.say(env, f"envctl: {env.env_id}: teardown did not finish")
        left = result.leftovers
        self.say(
            env,
            f"envctl: {result.env} up in {held.up_seconds:.1f}s on {result.runtime}; "
            f"torn down in {time.monotonic() - started:.1f}s, {len(left)} leftovers"
            + (f": {', '.join(left)}" if left else ""),
        )

    def close_all(self, session: pytest.Session | None) -> None:
        for held in self.held:
            self.close(held, session)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """A hook (the manager is a plugin too): which signal stopped the session, for
        the records of the runs it interrupted."""
        from orchestrator.signals import Terminated

        if isinstance(excinfo.value, Terminated):
            self.signal_name = "SIGTERM"

    def say(self, env: Environment | None, line: str) -> None:
        """A line for the terminal summary: redacted, and tagged with the xdist worker."""
        line = _redact(env, line)
        self.lines.append(f"{line} [{self.worker}]" if self.worker else line)

    # pytest-xdist's controller -------------------------------------------------------

    def hold_sigterm_in_controller(self) -> None:
        """Under ``-n`` the controller holds no environment, but when it dies at once on
        SIGTERM its workers go too (execnet ``os._exit``s them), mid-teardown. So it
        stops as on Ctrl-C, after passing SIGTERM on to the workers, which tear down
        within xdist's grace (10 s). Only when envctl is configured for the session:
        the controller collects no tests, so it cannot see markers."""
        if not self.configured or self._release_sigterm is not None:
            return
        from orchestrator import signals

        self._release_sigterm = signals.hold_sigterm(on_signal=self._forward_sigterm)

    def release_sigterm(self) -> None:
        release, self._release_sigterm = self._release_sigterm, None
        if release is not None:
            release()

    def _forward_sigterm(self) -> None:
        # A terminal's Ctrl-C reaches every process of its group; a CI job cancelled by
        # `kill PID` reaches the controller alone. Without this, workers would hear of it
        # only from xdist's shutdown, 5 s later, and keep 5 s of the 10 for teardown.
        dsession = self.config.pluginmanager.get_plugin("dsession")
        group = getattr(getattr(dsession, "nodemanager", None), "group", None)
        for gateway in list(group or ()):
            popen = getattr(getattr(gateway, "_io", None), "popen", None)  # execnet's own
            pid = getattr(popen, "pid", None)
            if isinstance(pid, int):
                with suppress(OSError):
                    os.kill(pid, signal.SIGTERM)


def _redact(env: Environment | None, text: str) -> str:
    # No environment yet means no secret resolved yet: nothing to hide.
    return env.engine.redactor(text) if env is not None else text


class Reporter(Progress):
    """envctl's progress lines through pytest's terminal at ``-v`` (never in an xdist
    worker: its output does not reach the terminal), redacted."""

    def __init__(self, config: pytest.Config, worker: str | None) -> None:
        self.config = config
        self.shown = config.get_verbosity() > 0 and worker is None
        self.t0 = time.monotonic()
        self.redact: Callable[[str], str] = lambda text: text  # its Redactor, once made

    def step(self, text: str) -> None:
        if not self.shown:
            return
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if terminal is None:
            return
        line = "envctl " + plain_line(time.monotonic() - self.t0, self.redact(text))
        if capture is not None:  # a fixture runs while pytest captures output
            with capture.global_and_fixture_disabled():
                terminal.write_line(line)
        else:
            terminal.write_line(line)


MANAGER = pytest.StashKey[Manager]()
USED = pytest.StashKey[Held]()
