"""envctl's benchmark harness: ``python -m bench`` (or ``make bench``).

It times ``envctl up``/``run``/``--help`` against the same four checkout services
started by a plain Python script, in one interleaved run; see bench/README.md.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BLUEPRINT = "blueprints/checkout.yaml"  # relative to REPO, as a user would type it
CHECKOUT_DIR = REPO / "blueprints" / "checkout"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SERVICES = ("db", "cache", "payments-provider", "orders")


class MeasurementError(Exception):
    """One measurement could not be taken (a process failed, a probe timed out, …)."""
