"""A finished run's JSON, found the way ``envctl report [RUN]`` names it.

RUN is an env id (its ``<state dir>/runs/<env>/result.json``, else the summary the state
store's runs table keeps), a path to a ``result.json`` (or to the run dir holding it), or
nothing: the most recent run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.exceptions import UsageError
from orchestrator.settings import Settings

RECENT = 5  # run ids an "unknown run" message offers


def find(settings: Settings, run: str | None) -> dict[str, Any]:
    if run is None:
        latest = _runs(settings, 1)
        if not latest:
            raise UsageError(
                f"no recorded runs in {settings.state_dir}",
                hint="`envctl run BLUEPRINT` records one; or give a path to a result.json",
            )
        return _by_id(settings, str(latest[0]["env"])) or latest[0]
    path = Path(run)
    if path.is_dir():
        path = path / "result.json"
    if path.is_file():
        return _read(path)
    found = _by_id(settings, run)
    if found is not None:
        return found
    for summary in _runs(settings, 10_000):
        if summary.get("env") == run:
            return summary
    recent = [str(r.get("env")) for r in _runs(settings, RECENT)]
    raise UsageError(
        f"no recorded run {run!r} (neither an env id nor a result.json)",
        hint=f"recent runs: {', '.join(recent)}" if recent else "no runs are recorded yet",
    )


def _by_id(settings: Settings, env_id: str) -> dict[str, Any] | None:
    if "/" in env_id or env_id in (".", ".."):
        return None
    path = settings.runs_dir / env_id / "result.json"
    return _read(path) if path.is_file() else None


def _runs(settings: Settings, limit: int) -> list[dict[str, Any]]:
    """The newest recorded runs first; none when there is no state store (reading one
    must not create it)."""
    if not settings.state_db.exists():
        return []
    from orchestrator.state import StateStore

    return StateStore(settings.state_db).runs(limit)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(
            f"cannot read the run in {str(path)!r}: {exc}",
            hint="give an env id, or a result.json that envctl wrote",
        ) from exc
    if not isinstance(data, dict) or "env" not in data or "status" not in data:
        raise UsageError(
            f"{str(path)!r} is not a run's result.json (no env and status)",
            hint="envctl writes one per run: <state dir>/runs/<env>/result.json",
        )
    return data
