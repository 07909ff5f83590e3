"""The checkout services on Docker, started by a plain script: the floor for
``envctl up blueprints/checkout.yaml --runtime docker``.

What a careful person does by hand with the Docker SDK (``docker run -d`` and friends):

1. one user-defined bridge network, on which the services find each other by name;
2. db (``postgres:15``, POSTGRES_USER/PASSWORD/DB), cache (``redis:7.0`` with
   ``--requirepass``, as envctl runs it) and payments-provider (``payments-stub:2024.05``)
   at once, on three threads, each with its port published on 127.0.0.1 and probed from
   the host: psycopg connect + ``SELECT 1``, redis ``PING``, ``GET /healthz``; as soon as
   the db answers, ``blueprints/checkout/schema.sql`` is applied (envctl's seed phase);
3. orders (``orders:1.42.0``) once all three are ready, pointed at them directly
   (``db:5432``, ``cache:6379``, ``payments-provider:8080``: no fault proxy, no edge network),
   probed with ``GET /healthz`` (200 once postgres and redis answer).

The clock runs from before the network is created until orders answers. The blueprint's
``resources`` for db (1 CPU, 1 GiB) are applied as envctl applies them, and each image
``VOLUME`` gets a named volume as with envctl. Everything carries the labels
``envctl-bench.run`` and ``envctl-bench.stack`` and is removed on exit (untimed), also on
failure or Ctrl-C: by label, after the threads have stopped, so nothing a thread was
still creating escapes.

    .venv/bin/python -m bench.docker_floor [--poll-interval 0.05]   # prints JSON
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any

from bench import CHECKOUT_DIR, MeasurementError
from bench.docker_engine import (
    IMAGES,
    RUN_LABEL,
    STACK_LABEL,
    Selector,
    connect,
    found,
    new_prefix,
    poll,
    remove,
)
from bench.plain_script import http_ready, postgres_ready, redis_ready

READY_TIMEOUT = 60.0  # per service, like envctl's default `ready.timeout`
JOIN_TIMEOUT = 3 * READY_TIMEOUT  # the three dependencies, with their Docker calls
DB_USER, DB_NAME = "app", "orders"


@dataclass
class FloorResult:
    total: float  # start → orders ready (schema applied meanwhile)
    services: dict[str, float]  # each service: before `docker run` → probe passed
    network_s: float
    schema_s: float
    remove_s: float = 0.0  # the untimed removal, for reference next to `envctl down`
    leftovers: list[str] = field(default_factory=list)


class FloorStack:
    """One set of the four containers, a network and two volumes; removes all of it on
    exit. ``up()`` starts them and returns the timings."""

    def __init__(
        self,
        name: str,
        run_label: str,
        poll_interval: float,
        client_factory: Callable[[], Any] = connect,
    ) -> None:
        self.name = name
        self.labels = {RUN_LABEL: run_label, STACK_LABEL: name}
        self.poll_interval = poll_interval
        self.client_factory = client_factory
        self.client: Any = None
        self.cancel = threading.Event()
        self.db_password = secrets.token_hex(16)
        self.cache_password = secrets.token_hex(16)
        self.ports: dict[str, int] = {}
        self._pool = futures.ThreadPoolExecutor(max_workers=3, thread_name_prefix=name)

    # -- the script -------------------------------------------------------------------------

    def up(self) -> FloorResult:
        t0 = time.perf_counter()
        self.client = self.client_factory()  # a script's `docker.from_env()`
        self.client.networks.create(self.network, driver="bridge", labels=self.labels)
        network_s = time.perf_counter() - t0
        schema: list[float] = []
        branches: dict[str, Callable[[], float]] = {
            "db": lambda: self._db(schema),
            "cache": self._cache,
            "payments-provider": self._payments,
        }
        pending = {self._pool.submit(branch): name for name, branch in branches.items()}
        services: dict[str, float] = {}
        try:
            for done in futures.as_completed(pending, timeout=JOIN_TIMEOUT):
                services[pending[done]] = done.result()  # the first failure raises here
        except futures.TimeoutError:
            raise MeasurementError("floor: the three dependencies did not finish") from None
        except BaseException:
            self.cancel.set()  # the other branches stop polling
            raise
        services["orders"] = self._orders()
        total = time.perf_counter() - t0
        return FloorResult(total, services, network_s, schema[0] if schema else 0.0)

    @property
    def network(self) -> str:
        return f"{self.name}-net"

    def _run(self, service: str, env: dict[str, str], port: int, **extra: Any) -> Any:
        """``docker run -d --network NET --network-alias SERVICE -p 127.0.0.1::PORT``;
        returns the host port."""
        container = self.client.containers.create(
            IMAGES[service],
            name=f"{self.name}-{service}",
            hostname=service,
            environment=env,
            labels=self.labels,
            network=self.network,
            networking_config={
                self.network: self.client.api.create_endpoint_config(aliases=[service])
            },
            ports={f"{port}/tcp": ("127.0.0.1", None)},
            **extra,
        )
        container.start()
        container.reload()  # the published port is known once it runs
        bindings = container.attrs["NetworkSettings"]["Ports"].get(f"{port}/tcp") or []
        host_port = next((int(b["HostPort"]) for b in bindings if b.get("HostPort")), None)
        if host_port is None:
            raise MeasurementError(f"floor {service}: Docker published no port for {port}")
        self.ports[service] = host_port
        return container

    def _volume(self, service: str) -> str:
        name = f"{self.name}-{service}-0"
        self.client.volumes.create(name, labels=self.labels)
        return name

    def _wait(self, service: str, container: Any, probe: Callable[[], bool]) -> None:
        polls = 0

        def check() -> bool:
            nonlocal polls
            polls += 1
            if probe():
                return True
            if polls % 20 == 0:  # about once a second: fail fast if it died
                container.reload()
                if container.status in ("exited", "dead"):
                    tail = container.logs(tail=10).decode("utf-8", "replace").strip()
                    raise MeasurementError(f"floor {service} exited: {tail[-500:]}")
            return False

        poll(check, READY_TIMEOUT, self.poll_interval, f"floor {service}", self.cancel.is_set)

    def _db(self, schema: list[float]) -> float:
        t = time.perf_counter()
        env = {"POSTGRES_USER": DB_USER, "POSTGRES_PASSWORD": self.db_password}
        volume = self._volume("db")
        container = self._run(
            "db",
            env | {"POSTGRES_DB": DB_NAME},
            5432,
            volumes={volume: {"bind": "/var/lib/postgresql/data", "mode": "rw"}},
            nano_cpus=1_000_000_000,  # the blueprint's resources: {cpu: "1", memory: 1Gi}
            mem_limit=1 << 30,
        )
        url = self.db_url("127.0.0.1", self.ports["db"])
        self._wait("db", container, lambda: postgres_ready(url))
        ready = time.perf_counter() - t
        apply_schema(url)  # as soon as it answers, while the others may still start
        schema.append(time.perf_counter() - t - ready)
        return ready

    def _cache(self) -> float:
        t = time.perf_counter()
        volume = self._volume("cache")
        container = self._run(
            "cache",
            {"REDIS_PASSWORD": self.cache_password},
            6379,
            command=["sh", "-c", 'exec redis-server --requirepass "$REDIS_PASSWORD"'],
            volumes={volume: {"bind": "/data", "mode": "rw"}},
        )
        port = self.ports["cache"]
        self._wait("cache", container, lambda: redis_ready(port, self.cache_password))
        return time.perf_counter() - t

    def _payments(self) -> float:
        t = time.perf_counter()
        container = self._run("payments-provider", {}, 8080)
        port = self.ports["payments-provider"]
        self._wait("payments-provider", container, lambda: http_ready(port))
        return time.perf_counter() - t

    def _orders(self) -> float:
        t = time.perf_counter()
        env = {
            "DATABASE_URL": self.db_url("db", 5432),
            "REDIS_URL": f"redis://:{self.cache_password}@cache:6379/0",
            "PAYMENTS_URL": "http://payments-provider:8080",
            "PAYMENTS_TIMEOUT_SECONDS": "2",
        }
        container = self._run("orders", env, 8000)
        port = self.ports["orders"]
        self._wait("orders", container, lambda: http_ready(port))
        return time.perf_counter() - t

    def db_url(self, host: str, port: int) -> str:
        return f"postgresql://{DB_USER}:{self.db_password}@{host}:{port}/{DB_NAME}"

    # -- removal, on every exit path -----------------------------------------------------

    def __enter__(self) -> FloorStack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> list[str]:
        """Stop the threads, remove everything labelled with this stack; returns what
        could not be removed or is still there afterwards (normally nothing)."""
        import docker

        self.cancel.set()
        # Each thread ends within one Docker call (≤ API_TIMEOUT) or one probe (≤ 2 s),
        # so whatever it was creating exists, labelled, before we remove by label.
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self.client is None:
            return []
        selector = Selector(label=f"{STACK_LABEL}={self.name}")
        try:
            return remove(self.client, selector) + found(self.client, selector)
        except docker.errors.DockerException as exc:
            return [f"floor {self.name}: removal failed: {exc}"]
        finally:
            self.client.close()
            self.client = None


def apply_schema(url: str) -> None:
    """What envctl's seed phase does (orchestrator/seed/schema.py): the whole file in one
    simple-query call, autocommit."""
    import psycopg

    sql = (CHECKOUT_DIR / "schema.sql").read_bytes()
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)
    except psycopg.Error as exc:
        raise MeasurementError(f"schema.sql failed: {exc}") from None


def measure(name: str, run_label: str, poll_interval: float) -> FloorResult:
    """One floor sample: start → all ready, then remove everything (timed apart)."""
    stack = FloorStack(name, run_label, poll_interval)
    try:
        result = stack.up()
    finally:
        t = time.perf_counter()
        leftovers = stack.close()
    result.remove_s = time.perf_counter() - t
    result.leftovers = leftovers
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.docker_floor", description=__doc__)
    parser.add_argument("--poll-interval", type=float, default=0.05)
    args = parser.parse_args(argv)
    prefix = new_prefix()
    try:
        result = measure(f"{prefix}-f1", prefix, args.poll_interval)
    except MeasurementError as exc:
        print(f"docker_floor: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(result), indent=2))
    return 1 if result.leftovers else 0


if __name__ == "__main__":
    sys.exit(main())
