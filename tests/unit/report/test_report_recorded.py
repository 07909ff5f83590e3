"""Finding a recorded run: by env id, by path, the latest; unknown ones answered with ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.exceptions import UsageError
from orchestrator.report import recorded
from orchestrator.settings import Settings
from tests.unit.report.run_samples import record


def renamed(data: dict[str, Any], env: str, finished: str) -> dict[str, Any]:
    return {**data, "env": env, "finished_at": finished}


def test_by_env_id_by_path_and_by_directory(settings: Settings, passed: dict[str, Any]) -> None:
    kept = record(settings, passed)
    assert recorded.find(settings, kept["env"]) == kept
    run_dir = settings.runs_dir / kept["env"]
    assert recorded.find(settings, str(run_dir / "result.json")) == kept
    assert recorded.find(settings, str(run_dir)) == kept


def test_the_latest_run_by_default(
    settings: Settings, passed: dict[str, Any], errored: dict[str, Any]
) -> None:
    record(settings, renamed(passed, "checkout-0001", "2026-01-01T10:00:00+00:00"))
    newest = record(settings, renamed(errored, "crashing-0002", "2026-01-02T10:00:00+00:00"))
    record(settings, renamed(passed, "checkout-0003", "2025-12-31T10:00:00+00:00"))
    assert recorded.find(settings, None) == newest


def test_a_run_whose_dir_is_gone_comes_from_the_state_store(
    settings: Settings, passed: dict[str, Any]
) -> None:
    kept = record(settings, passed, file=False)
    assert recorded.find(settings, kept["env"]) == kept
    assert recorded.find(settings, None) == kept


def test_an_unknown_run_lists_recent_ones(settings: Settings, passed: dict[str, Any]) -> None:
    for i in range(7):
        record(settings, renamed(passed, f"checkout-{i:04d}", f"2026-01-0{i + 1}T10:00:00+00:00"))
    with pytest.raises(UsageError) as err:
        recorded.find(settings, "checkout-ffff")
    assert err.value.message == (
        "no recorded run 'checkout-ffff' (neither an env id nor a result.json)"
    )
    assert err.value.hint == (
        "recent runs: checkout-0006, checkout-0005, checkout-0004, checkout-0003, checkout-0002"
    )


def test_no_runs_at_all_and_no_state_dir_made(settings: Settings) -> None:
    with pytest.raises(UsageError, match="no recorded runs in"):
        recorded.find(settings, None)
    with pytest.raises(UsageError) as err:
        recorded.find(settings, "checkout-1a2b")
    assert err.value.hint == "no runs are recorded yet"
    assert not settings.state_dir.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "cannot read the run in"), ('{"a": 1}', "is not a run's result.json"),
     ("[1, 2]", "is not a run's result.json")],
)  # fmt: skip
def test_a_file_that_is_not_a_result(
    settings: Settings, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "result.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        recorded.find(settings, str(path))
