"""A new state store opened by several envctl processes at once (parallel CI jobs)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from orchestrator.state import StateStore


def _open(path: str) -> str:
    try:
        StateStore(Path(path)).environments()
    except Exception as exc:
        return repr(exc)
    return "ok"


def test_processes_creating_one_store_at_once_all_open_it(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(8) as pool:
        for round_ in range(4):
            path = str(tmp_path / f"store-{round_}" / "state.db")
            assert pool.map(_open, [path] * 8) == ["ok"] * 8
