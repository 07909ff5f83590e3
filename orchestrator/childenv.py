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
