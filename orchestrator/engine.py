"""What commands ask of envctl: run a blueprint, bring one up, tear one down.

``Engine`` holds what one command's lifetime shares (settings, the state store, the
redactor, progress output) and drives ``Session``s through their lifecycle; see
``session.py`` for the phases and ``teardown.py`` for how an environment is removed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from orchestrator import signals
from orchestrator.blueprint.loader import LoadedBlueprint
from orchestrator.exceptions import EnvctlError, Interrupted, StateError, UsageError
from orchestrator.ownership import owned_here, owner_alive
from orchestrator.progress import Progress
from orchestrator.result import RunResult, RunStatus
from orchestrator.runtime import registry
from orchestrator.runtime.base import Runtime
from orchestrator.secrets import Redactor
from orchestrator.session import EnvStatus, Selection, Session, select_suites
from orchestrator.settings import Settings
from orchestrator.state import EnvRecord, StateStore
from orchestrator.suites import SuiteResult, SuiteStatus
from orchestrator.teardown import dismantle

log = logging.getLogger(__name__)

__all__ = ["Engine", "Selection", "Session"]


def _blueprint_profile(loaded: LoadedBlueprint) -> Path | None:
    """The production profile a blueprint names (``profile:``), audited on every run."""
    return loaded.directory / loaded.model.profile if loaded.model.profile else None


class Engine:
    def __init__(
        self,
        settings: Settings,
        redactor: Redactor | None = None,
        progress: Progress | None = None,
        runtime_factory: Callable[[str, Settings], Runtime] = registry.create,
    ) -> None:
        self.settings = settings
        self.redactor = redactor or Redactor()
        self.progress = progress or Progress()
        self.runtime_factory = runtime_factory
        self._state: StateStore | None = None

    @property
    def state(self) -> StateStore:
        if self._state is None:
            self._state = StateStore(self.settings.state_db)
        return self._state

    def _session(
        self,
        loaded: LoadedBlueprint,
        runtime: str,
        mode: str,
        labels: Mapping[str, str] | None = None,
    ) -> Session:
        rt = self.runtime_factory(runtime, self.settings)
        session = Session.create(
            self.settings, loaded, rt, self.state, self.redactor, self.progress, mode
        )
        if labels:  # before anything starts: every resource carries them
            session.env = dataclasses.replace(session.env, labels={**session.env.labels, **labels})
            session.resolver.env = session.env
        return session

    @staticmethod
    def _start(session: Session, seed: bool = True, audit: Path | None = None) -> None:
        """Everything before the suites: provision, links, seed, and the live audit."""
        session.provision()
        session.links()
        if seed:
            session.seed()
        if audit is not None:
            session.audit(audit)

    def run(
        self,
        loaded: LoadedBlueprint,
        runtime: str = "local",
        selection: Selection | None = None,
        echo_suites: bool = False,
        audit: Path | None = None,
    ) -> RunResult:
        """Provision, test, tear down, record. Returns the result even on error."""
        selection = selection or Selection()
        select_suites(loaded, selection)  # an unknown --suite fails before anything starts
        session = self._session(loaded, runtime, "run")
        status, suite_results = RunStatus.error, []
        error: BaseException | None = None
        try:
            with signals.interruptible():
                try:
                    self._start(session, audit=audit or _blueprint_profile(loaded))
                    suite_results = session.run_suites(selection, echo_suites)
                    passed = all(r.status is SuiteStatus.passed for r in suite_results)
                    status = RunStatus.passed if passed else RunStatus.failed
                except EnvctlError as exc:
                    error = exc
                finally:
                    session.teardown()
        except Interrupted as exc:  # a signal that arrived between the blocks above
            error = exc
        except BaseException as exc:
            error = exc
            raise
        finally:
            result = self._finish(session, status, suite_results, error)
        return result

    def open(
        self,
        loaded: LoadedBlueprint,
        runtime: str = "local",
        *,
        seed: bool = True,
        audit: Path | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Session:
        """Provision, link, seed (and audit): the live session, owned by this process
        until ``close``. The caller tests against it in between (the Python API, the
        pytest plugin). When starting fails, it is torn down and the errored run recorded
        before the error is raised."""
        session = self._session(loaded, runtime, "run", labels)
        try:
            with signals.interruptible():
                self._start(session, seed, audit)
        except BaseException as exc:
            self.close(session, RunStatus.error, error=exc)
            raise
        return session

    def close(
        self,
        session: Session,
        status: RunStatus,
        suite_results: Sequence[SuiteResult] = (),
        error: BaseException | None = None,
    ) -> RunResult:
        """Tear down (once: a session already torn down is not touched again) and record
        the run like ``envctl run`` does; the result, leftovers included.

        Shielded from SIGINT/SIGTERM as a whole, not only where teardown itself is: the
        callers (the Python API, the pytest plugin, ``open`` failing) are outside any
        ``interruptible()``, so a second Ctrl-C would otherwise cut it before teardown
        begins, or between teardown and the record."""
        with signals.shielded():
            try:
                session.teardown()
            finally:
                result = self._finish(session, status, suite_results, error)
        return result

    def _finish(
        self,
        session: Session,
        status: RunStatus,
        suite_results: Sequence[SuiteResult],
        error: BaseException | None,
    ) -> RunResult:
        # Shielded: in `run` this comes after `interruptible()` has given the handlers
        # back, and a run cut here (state store, reports, ledger) goes unrecorded.
        with signals.shielded():
            result = session.result(status, list(suite_results), error)
            self._record(result, session.loaded)
        return result

    def up(
        self,
        loaded: LoadedBlueprint,
        runtime: str = "local",
        hold: bool = False,
        on_ready: Callable[[Session], None] | None = None,
    ) -> Session:
        """Provision and leave running. ``hold`` keeps this process as owner until a signal."""
        session = self._session(loaded, runtime, "run" if hold else "up")
        try:
            with signals.interruptible():
                self._start(session)
                if on_ready is not None:
                    on_ready(session)
                if not hold:
                    session.detach()
                    return session
                while True:  # until Ctrl-C / SIGTERM / `envctl down`
                    time.sleep(3600)
        except BaseException:
            session.teardown()
            raise

    def down(self, env_id: str, wait: float = 60.0) -> list[str]:
        record = self.state.get(env_id)
        if record.owner_pid and record.owner_pid != os.getpid():
            if not owned_here(record):
                raise UsageError(
                    f"{env_id!r} is held by an envctl process on host {record.owner_host!r}",
                    hint="run `envctl down` on that host; `envctl gc` reaps it after its ttl",
                )
            if owner_alive(record):
                # Its owner tears down best (it knows its suites); ask it, then make sure.
                self.progress.step(f"asking envctl process {record.owner_pid} to tear down")
                os.kill(record.owner_pid, signal.SIGTERM)
                if self._wait_gone(env_id, wait):
                    return []
                record = self.state.get(env_id)
        return self.destroy(record)

    def destroy(self, record: EnvRecord, wait: float = 60.0) -> list[str]:
        """Tear down from the record alone (``down``, ``gc``); one process at a time."""
        if not self.state.claim_teardown(record.id):
            self.progress.step(f"{record.id} is being torn down by another envctl; waiting")
            if self._wait_gone(record.id, wait):
                return []
            return [f"{record.id} is still being torn down by another envctl process"]
        self.progress.step(f"teardown {record.id}")
        runtime = self.runtime_factory(record.runtime, self.settings)
        leftovers = dismantle(runtime, record, self.redactor)
        try:
            if leftovers:
                self.state.set_status(record.id, EnvStatus.teardown_failed.value)
            else:
                self.state.remove(record.id)
        except StateError as exc:
            leftovers.append(f"state not updated: {exc.message}")
        return leftovers

    def _wait_gone(self, env_id: str, wait: float) -> bool:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if env_id not in {r.id for r in self.state.environments()}:
                return True
            time.sleep(0.2)
        return False

    def _record(self, result: RunResult, loaded: LoadedBlueprint | None = None) -> None:
        """Every run is recorded, passed, failed or errored; secrets redacted first."""
        summary = self.redactor.redact_data(result.to_dict())
        assert isinstance(summary, dict)
        try:
            self.state.record_run(summary)
            (Path(result.run_dir) / "result.json").write_text(
                json.dumps(summary, indent=2), encoding="utf-8"
            )
        except (EnvctlError, OSError) as exc:
            log.error("could not record run %s: %s", result.env, exc)
        # Here, not in `envctl run`: runs of the Python API and the pytest plugin, and
        # runs that end in a bug, get their report.html and envctl-junit.xml too, merged
        # while this process still knows the run's secrets.
        from orchestrator.report import files

        try:
            files.write_run_dir(summary, self.redactor)
        except Exception as exc:  # a report, or a bug in one, must never change the outcome
            log.error(
                "could not write the reports of run %s: %s: %s", result.env, type(exc).__name__, exc
            )
        if loaded is not None:
            from orchestrator.cost import accounting

            try:
                accounting.record(self.settings, loaded, summary)
            except (EnvctlError, OSError) as exc:
                log.error("could not add run %s to the ledger: %s", result.env, exc)
