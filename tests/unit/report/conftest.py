"""Fixtures of runs to render; what they are is in ``run_samples``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.report import run_samples


@pytest.fixture
def passed() -> dict[str, Any]:
    return run_samples.passed()


@pytest.fixture
def failed() -> dict[str, Any]:
    return run_samples.failed()


@pytest.fixture
def errored() -> dict[str, Any]:
    return run_samples.errored()


@pytest.fixture
def contract_junit() -> str:
    return run_samples.contract_junit()


@pytest.fixture
def failing_junit() -> str:
    return run_samples.failing_junit()


@pytest.fixture
def failed_demo() -> dict[str, Any]:
    return run_samples.failed_demo(run_samples.passed())


@pytest.fixture
def leftover_run() -> dict[str, Any]:
    return run_samples.leftover_run(run_samples.passed())


@pytest.fixture
def hostile() -> dict[str, Any]:
    return run_samples.hostile(run_samples.passed())


@pytest.fixture
def bare() -> dict[str, Any]:
    return run_samples.bare()
