"""Fixtures of the checkout suite: the environment's endpoints, as envctl sets them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import redis

ENV_VARS = {
    "orders_url": "ENVCTL_ORDERS_URL",
    "payments_url": "ENVCTL_PAYMENTS_PROVIDER_URL",
    "db_url": "ENVCTL_DB_URL",
    "cache_url": "ENVCTL_CACHE_URL",
}

@dataclass(frozen=True)
class Endpoints:
    orders_url: str
    payments_url: str
    db_url: str
    cache_url: str


# --------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def endpoints() -> Endpoints:
    missing = [var for var in ENV_VARS.values() if not os.environ.get(var)]
    if missing:
        pytest.fail(
            f"missing environment variable(s): {', '.join(missing)}. "
            "This suite is meant to run under `envctl run blueprints/checkout.yaml`, "
            "which starts the environment and sets them.",
            pytrace=False,
        )
    return Endpoints(**{field: os.environ[var].rstrip("/") for field, var in ENV_VARS.items()})


@pytest.fixture
def orders_url(endpoints: Endpoints) -> str:
    return endpoints.orders_url


@pytest.fixture
def db(endpoints: Endpoints) -> Iterator[psycopg.Connection[Any]]:
    # autocommit: every check sees what the app has committed so far.
    with psycopg.connect(endpoints.db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def cache(endpoints: Endpoints) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(endpoints.cache_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def customer() -> str:
    """A customer name no earlier run has used, so the suite is rerunnable."""
    return f"test-{uuid.uuid4().hex}"


