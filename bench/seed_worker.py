"""``python -m bench.seed_worker BLUEPRINT [--rows N]``: envctl's seeder in a process of
its own, against the PostgreSQL at ``$BENCH_SEED_URL`` (in the environment, not argv,
so the password stays out of ``ps``).

Seeds data entry 0 of BLUEPRINT (every table gets N rows with ``--rows``) through the
seeder's Python API, as the session does after ``envctl up`` starts a service, and
prints one JSON object: the seeder's stats (``SeedStats.to_dict()``), the process's RSS
right before seeding and its peak RSS (``ru_maxrss``), and the seconds in ``seed_entry``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

URL_VARIABLE = "BENCH_SEED_URL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seed_worker")
    parser.add_argument("blueprint")
    parser.add_argument("--rows", type=int, help="rows for every table (default: the blueprint's)")
    args = parser.parse_args(argv)
    url = os.environ.get(URL_VARIABLE)
    if not url:
        print(f"seed_worker: ${URL_VARIABLE} is not set", file=sys.stderr)
        return 2

    import psutil

    from orchestrator.blueprint.loader import load
    from orchestrator.exceptions import EnvctlError
    from orchestrator.seed import volumes
    from orchestrator.seed.run import SeedRequest, seed_entry

    try:
        loaded = load(args.blueprint)
        rows = volumes.rows(loaded, 0)
        if args.rows is not None:
            rows = dict.fromkeys(rows, args.rows)
        request = SeedRequest(loaded, 0, url, rows, say=lambda message: None)
        # psycopg and numpy load on first use: import them before the baseline
        import numpy  # noqa: F401
        import psycopg  # noqa: F401

        rss_before = psutil.Process().memory_info().rss
        started = time.perf_counter()
        stats = seed_entry(request)
        seconds = time.perf_counter() - started
    except EnvctlError as exc:
        print(f"seed_worker: {exc}", file=sys.stderr)
        return 1
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    out = {
        "stats": stats.to_dict(),
        "seed_entry_s": round(seconds, 4),
        "rss_before_bytes": rss_before,
        "peak_rss_bytes": peak_kib * 1024,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
