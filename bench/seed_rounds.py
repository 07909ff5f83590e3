"""The samples of the seed section: pgbench and envctl's seeder into one PostgreSQL, and
cold and cached ``envctl up``s of a seeded blueprint, each on its own state dir.

``SeedRounds`` has one method per kind of sample; each cleans up what it made (the table
it filled, the environments it started, the state dir it used) before it returns or
raises. Every subprocess is bounded in time and stopped on every exit path; all
traffic is to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import MeasurementError
from bench.figures import Samples
from bench.seed_procs import (
    ACCOUNTS_TABLE,
    SEED_DIR,
    SeedEnvctl,
    Server,
    UpDone,
    libpq_env,
    timed,
)
from bench.seed_worker import URL_VARIABLE

ACCOUNTS_BLUEPRINT = SEED_DIR / "accounts.yaml"  # pgbench_accounts' shape, for the worker
ACCOUNTS_TEXT_BLUEPRINT = SEED_DIR / "accounts-text.yaml"  # the same, filler generated
SHOP_BLUEPRINT = SEED_DIR / "shop.yaml"  # three tables, 1M rows, cache on
PGBENCH_SCALE = 10  # x 100,000 pgbench_accounts rows
ROWS = PGBENCH_SCALE * 100_000
BIG_ROWS = 5 * ROWS  # the memory figure's second size
PGBENCH_TIMEOUT = 120.0
WORKER_TIMEOUT = 300.0
COPY_TIMEOUT = 60.0
MB = 1e6

_GENERATE = re.compile(r"client-side generate ([0-9.]+) s")
_FROM_CACHE = re.compile(r"rows from the cache in ([0-9.]+)s")
_KEPT = re.compile(r"kept for the next environments in ([0-9.]+)s")


class SeedRounds:
    """One method per kind of sample; each returns a line for the progress output."""

    def __init__(self, server: Server, primer: Path, bindir: Path) -> None:
        self.server = server
        self.primer = primer  # a state dir whose cache/postgres holds initdb's output
        self.pgbench_exe = bindir / "pgbench"
        self.cache: dict[str, list[str]] = {"cold": [], "warm": []}
        self.notes: list[str] = []
        self.no_seeding_json = False
        self.env_cpu = 0.0  # CPU seconds of the shop environments, read before each down

    # 1. throughput: pgbench and envctl's seeder, the same shape and row count ---------------

    def pgbench(self, samples: Samples) -> str:
        self.server.clean()
        try:
            seconds, done = timed(
                [str(self.pgbench_exe), "-i", "-s", str(PGBENCH_SCALE), "-I", "dtg", "-q"],
                {**os.environ, **libpq_env(self.server.url)},
                PGBENCH_TIMEOUT,
                "pgbench -i",
            )
            found = _GENERATE.search(done.stderr)
            if found is None:
                tail = done.stderr.strip().splitlines()[-1:]
                raise MeasurementError(f"no 'client-side generate' in pgbench's output: {tail}")
            self.server.count("pgbench_accounts", ROWS)
        finally:
            self.server.clean()
        generate = float(found.group(1))
        samples.add("pgbench_command_s", seconds)
        samples.add("pgbench_generate_s", generate)
        samples.add("pgbench_command_rows_per_s", ROWS / seconds)
        samples.add("pgbench_generate_rows_per_s", ROWS / generate)
        return f"{seconds:.3f}s (client-side generate {generate:.3f}s)"

    def envctl_1m(self, samples: Samples) -> str:
        result = self._worker(ROWS)
        load = result.phases["load"]
        samples.add("envctl_command_s", result.seconds)
        samples.add("envctl_seed_s", result.seed_s)
        samples.add("envctl_command_rows_per_s", ROWS / result.seconds)
        samples.add("envctl_load_rows_per_s", ROWS / load)
        for phase, value in result.phases.items():
            samples.add(f"envctl_phase_{phase}_s", value)
        samples.add("rss_1M_MB", result.rss_added / MB)
        samples.add("peak_rss_1M_MB", result.peak_rss / MB)
        return (
            f"{result.seconds:.3f}s (load {load:.3f}s, seed_entry {result.seed_s:.3f}s, "
            f"+{result.rss_added / MB:.0f} MB RSS)"
        )

    # 3. memory: the same table at 5x the rows -------------------------------------------------

    def envctl_5m(self, samples: Samples) -> str:
        result = self._worker(BIG_ROWS)
        samples.add("envctl_5M_load_rows_per_s", BIG_ROWS / result.phases["load"])
        samples.add("rss_5M_MB", result.rss_added / MB)
        samples.add("peak_rss_5M_MB", result.peak_rss / MB)
        return f"{result.seconds:.3f}s (+{result.rss_added / MB:.0f} MB RSS)"

    def envctl_text_1m(self, samples: Samples) -> str:
        result = self._worker(ROWS, ACCOUNTS_TEXT_BLUEPRINT)
        samples.add("envctl_text_load_rows_per_s", ROWS / result.phases["load"])
        return f"{result.seconds:.3f}s (load {result.phases['load']:.3f}s)"

    def _worker(self, rows: int, blueprint: Path = ACCOUNTS_BLUEPRINT) -> WorkerResult:
        self.server.clean()
        try:
            seconds, done = timed(
                [
                    sys.executable,
                    "-m",
                    "bench.seed_worker",
                    str(blueprint),
                    "--rows",
                    str(rows),
                ],
                {**os.environ, URL_VARIABLE: self.server.url},
                WORKER_TIMEOUT,
                f"the seeder ({rows:,} rows)",
            )
            self.server.count(ACCOUNTS_TABLE, rows)
        finally:
            self.server.clean()  # 5M rows are 670 MB on disk: gone before the next sample
        try:
            out = json.loads(done.stdout)
            stats = out["stats"]
            result = WorkerResult(
                seconds=seconds,
                seed_s=float(out["seed_entry_s"]),
                phases={str(k): float(v) for k, v in stats["phases"].items()},
                rss_added=int(out["peak_rss_bytes"]) - int(out["rss_before_bytes"]),
                peak_rss=int(out["peak_rss_bytes"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise MeasurementError(f"the seeder's output is not as expected: {exc!r}") from exc
        if stats.get("rows") != rows or "load" not in result.phases:
            raise MeasurementError(f"the seeder reported {stats.get('rows')} rows, not {rows}")
        return result

    # 2. cold and cached `envctl up` of a seeded blueprint ---------------------------------------

    def cache_pair(self, samples: Samples) -> str:
        """Cold: the first `up` on a fresh state dir (empty data cache); warm: a second
        `up` on it. initdb's cached output is copied in first, so only the data cache
        differs between the two."""
        state = Path(tempfile.mkdtemp(prefix="bench-seed-cache-"))
        envctl: SeedEnvctl | None = None
        try:
            self._prime(state)
            envctl = SeedEnvctl(state)
            cold = self._up_down(envctl)
            warm = self._up_down(envctl)
        finally:
            if envctl is not None:
                self.notes += [f"seed cache state dir: {n}" for n in envctl.cleanup()]
            shutil.rmtree(state, ignore_errors=True)
        for side, got in (("cold", cold), ("warm", warm)):
            self.cache[side].append(got.cache)
            samples.add(f"seed_{side}_s", got.seed_s)
            samples.add(f"up_{side}_s", got.up_s)
            samples.add(f"down_{side}_s", got.down_s)
            if got.phase_s is not None:
                samples.add(f"seed_phase_{side}_s", got.phase_s)
            if got.keep_s is not None:
                samples.add(f"seed_keep_{side}_s", got.keep_s)
        return (
            f"cold {cold.seed_s:.3f}s ({cold.cache}, up {cold.up_s:.3f}s), "
            f"warm {warm.seed_s:.3f}s ({warm.cache}, up {warm.up_s:.3f}s)"
        )

    def _prime(self, state: Path) -> None:
        templates = self.primer / "cache" / "postgres"
        if not templates.is_dir():
            return
        (state / "cache").mkdir(parents=True)
        done = subprocess.run(
            ["cp", "-a", "--reflink=auto", str(templates), str(state / "cache" / "postgres")],
            capture_output=True,
            check=False,
            timeout=COPY_TIMEOUT,
        )
        if done.returncode != 0:
            raise MeasurementError(f"cannot copy initdb's cached output: {done.stderr!r}")

    def _up_down(self, envctl: SeedEnvctl) -> UpSample:
        up = envctl.up_file(SHOP_BLUEPRINT)
        try:
            got = self._seeding(up)
        finally:
            self.env_cpu += envctl.cpu_seconds(up.env_id)
            down_s, leftovers = envctl.down(up.env_id)
        if leftovers:
            self.notes.append(f"`envctl down {up.env_id}` left behind: {', '.join(leftovers)}")
        return UpSample(up.seconds, down_s, *got)

    def _seeding(self, up: UpDone) -> tuple[float, str, float | None, float | None]:
        """(seconds, cache state, phases.seed, seconds spent keeping the data) of an `up`.

        The seconds and state are ``seeding[0]``'s. Without a ``seeding`` list in the
        JSON, they come from envctl's progress lines: a hit, the cache copy's seconds
        (made while provisioning); a miss, phases.seed minus the keeping."""
        phases = up.data.get("phases") or {}
        phase = phases.get("seed")
        phase = float(phase) if isinstance(phase, int | float) else None
        kept = _KEPT.search(up.stderr)
        keep = float(kept.group(1)) if kept else None
        seeding = up.data.get("seeding")
        if isinstance(seeding, list) and seeding and isinstance(seeding[0], dict):
            first = seeding[0]
            rows = first.get("rows")
            if rows != ROWS:
                raise MeasurementError(f"`envctl up` seeded {rows} rows, not {ROWS:,}")
            return float(first["seconds"]), str(first.get("cache")), phase, keep
        self.no_seeding_json = True
        restored = _FROM_CACHE.search(up.stderr)
        if restored:
            return float(restored.group(1)), "hit?", phase, keep
        if phase is None:
            raise MeasurementError("`envctl up -o json` has neither `seeding` nor phases.seed")
        if keep is not None:
            return phase - keep, "miss?", phase, keep
        return phase, "off?", phase, keep


@dataclass(frozen=True)
class UpSample:
    up_s: float  # `envctl up` launch → exit
    down_s: float
    seed_s: float  # seeding[0].seconds
    cache: str  # hit | miss | off, with '?' when read from the progress lines
    phase_s: float | None  # phases.seed
    keep_s: float | None  # keeping the seeded data for the next environments


@dataclass(frozen=True)
class WorkerResult:
    seconds: float  # launch → exit of the worker process
    seed_s: float  # in seed_entry
    phases: dict[str, float]
    rss_added: int  # peak RSS - RSS right before seeding, bytes
    peak_rss: int
