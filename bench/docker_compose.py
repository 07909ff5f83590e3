"""The checkout services with docker-compose (v1, the ``docker-compose`` command), as a
compose user starts them: ``bench/compose/checkout.yml``.

One sample: ``docker-compose -p PROJECT -f bench/compose/checkout.yml up -d``, which
creates db, cache and payments-provider, waits until their healthchecks pass
(``depends_on: condition: service_healthy``), creates orders and returns; then, since
compose v1 does not wait for the last service's health, poll orders' health
(``docker inspect``, through the SDK) until ``healthy``: what a compose user waits for.
Then ``schema.sql`` is applied from the host over the published port with psycopg, as
envctl's seed phase and the floor do. The clock runs from launching ``docker-compose``
to the schema applied. ``docker-compose down -v`` follows, timed apart; if anything
fails or is interrupted, ``down -v`` still runs, and whatever carries the project's
label is removed through the SDK.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import MeasurementError
from bench.docker_engine import COMPOSE_PROJECT, Selector, found, poll, remove
from bench.docker_floor import DB_NAME, DB_USER, apply_schema

COMPOSE_FILE = Path(__file__).resolve().parent / "compose" / "checkout.yml"
UP_TIMEOUT = 180.0
DOWN_TIMEOUT = 120.0
HEALTHY_TIMEOUT = 60.0


def executable() -> str | None:
    return shutil.which("docker-compose")


def version() -> str | None:
    exe = executable()
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, "version", "--short"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


@dataclass
class ComposeResult:
    total: float  # launch → orders healthy and schema applied
    up_returned: float  # launch → `up -d` exited (three healthy, orders started)
    schema_s: float
    down_s: float | None = None  # `down -v`, when it ran cleanly
    leftovers: list[str] = field(default_factory=list)


class ComposeProject:
    """One compose project; ``close()`` (also on error) runs ``down -v`` if it has not
    run yet and removes whatever still carries the project's label."""

    def __init__(self, client: Any, project: str, poll_interval: float, health: str) -> None:
        exe = executable()
        if exe is None:
            raise MeasurementError("docker-compose is not installed")
        self.exe = exe
        self.client = client
        self.project = project
        self.poll_interval = poll_interval
        self.db_password = secrets.token_hex(16)
        self.environ = {
            **os.environ,
            "DB_PASSWORD": self.db_password,
            "CACHE_PASSWORD": secrets.token_hex(16),
            "HEALTH_INTERVAL": health,
        }
        self.down_done = False

    def _compose(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        argv = [self.exe, "-p", self.project, "-f", str(COMPOSE_FILE), *args]
        try:
            done = subprocess.run(
                argv,
                env=self.environ,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise MeasurementError(
                f"`docker-compose {' '.join(args)}` timed out after {timeout:g}s"
            ) from None
        if done.returncode != 0:
            tail = " | ".join(done.stderr.strip().splitlines()[-5:])
            raise MeasurementError(
                f"`docker-compose {' '.join(args)}` exited with {done.returncode}: {tail}"
            )
        return done

    def _container(self, service: str) -> Any:
        filters = {
            "label": [f"{COMPOSE_PROJECT}={self.project}", f"com.docker.compose.service={service}"]
        }
        found = self.client.containers.list(all=True, filters=filters)
        if not found:
            raise MeasurementError(f"compose: no container for {service}")
        return found[0]

    def up(self) -> ComposeResult:
        t0 = time.perf_counter()
        self._compose("up", "-d", timeout=UP_TIMEOUT)
        up_returned = time.perf_counter() - t0
        orders = self._container("orders").id

        def healthy() -> bool:
            state = self.client.api.inspect_container(orders)["State"]
            health = (state.get("Health") or {}).get("Status")
            if health == "unhealthy" or state.get("Status") in ("exited", "dead"):
                raise MeasurementError(f"compose: orders is {health or state.get('Status')}")
            return health == "healthy"

        poll(healthy, HEALTHY_TIMEOUT, self.poll_interval, "compose: orders healthy")
        db = self.client.api.inspect_container(self._container("db").id)
        port = int(db["NetworkSettings"]["Ports"]["5432/tcp"][0]["HostPort"])
        t = time.perf_counter()
        apply_schema(f"postgresql://{DB_USER}:{self.db_password}@127.0.0.1:{port}/{DB_NAME}")
        schema_s = time.perf_counter() - t
        return ComposeResult(time.perf_counter() - t0, up_returned, schema_s)

    def down(self) -> float:
        t = time.perf_counter()
        self.down_done = True  # tried: close() removes by label if it failed
        self._compose("down", "-v", timeout=DOWN_TIMEOUT)
        return time.perf_counter() - t

    def close(self) -> list[str]:
        """``down -v`` unless it ran, then remove what still carries the project's label
        or name; returns what could not be removed (normally nothing)."""
        notes = []
        if not self.down_done:
            self.down_done = True
            try:
                self._compose("down", "-v", timeout=DOWN_TIMEOUT)
            except MeasurementError as exc:
                notes.append(str(exc))
        for selector in (
            Selector(label=f"{COMPOSE_PROJECT}={self.project}"),
            Selector(name=self.project),
        ):
            left = found(self.client, selector)
            if left:
                notes += [f"after `down -v`: {x}" for x in left]
                notes += remove(self.client, selector)
        return notes


def measure(client: Any, project: str, poll_interval: float, health: str) -> ComposeResult:
    """One compose sample: up (timed), down -v (timed apart), leftovers checked."""
    stack = ComposeProject(client, project, poll_interval, health)
    try:
        result = stack.up()
        result.down_s = stack.down()
    finally:
        leftovers = stack.close()
    result.leftovers = leftovers
    return result
