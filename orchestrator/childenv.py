"""The environment variables every child process (service, probe, suite) starts from."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def base_environ() -> dict[str, str]:
    """envctl's own environment, without its secret sources, with its Python first on PATH.

    `python` in a blueprint command then means the interpreter envctl runs on, with the
    same packages, as tox and nox do; ``ENVCTL_SECRET_*`` reach a child only through
    ``${secret.…}`` where the blueprint asks for them.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVCTL_SECRET_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", os.defpath)
    return env


def write_env_file(path: Path, variables: dict[str, str]) -> None:
    """The endpoints as a dotenv, for tools that read one (0600: URLs hold passwords)."""
    path.touch(mode=0o600)
    path.write_text("".join(f"{k}={v}\n" for k, v in sorted(variables.items())), encoding="utf-8")


def read_env_file(path: Path) -> dict[str, str]:
    """What ``write_env_file`` wrote: ``KEY=value`` a line (the value may hold '=')."""
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {key.strip(): value for key, value in pairs}
