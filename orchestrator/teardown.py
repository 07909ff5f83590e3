"""Removing an environment: keep its logs if possible, then remove everything, always.

Each step is best-effort on its own: a log that cannot be copied (a full disk, a broken
run dir) must never stop the processes from being stopped and the files removed.
"""

from __future__ import annotations

import logging

from orchestrator.exceptions import EnvctlError
from orchestrator.runtime.base import Runtime
from orchestrator.secrets import Redactor, load_redactions
from orchestrator.state import EnvRecord

log = logging.getLogger(__name__)


def dismantle(runtime: Runtime, record: EnvRecord, redactor: Redactor) -> list[str]:
    """Copy logs (redacted) into the run dir, then destroy; return what is left behind."""
    load_redactions(redactor, record.work_dir)  # when another process created it
    try:
        runtime.collect_logs(record, record.run_dir / "logs", redactor)
    except (OSError, EnvctlError) as exc:
        log.warning("could not keep the logs of %s: %s", record.id, exc)
    try:
        return list(runtime.destroy(record))
    except (OSError, EnvctlError) as exc:
        return [f"teardown error: {exc}"]
