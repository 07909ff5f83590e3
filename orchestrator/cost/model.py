"""What a run used and what it cost, as frozen data shared by metering, pricing, the
ledger and the reports. Units are in the names: seconds, GiB-seconds, GiB-hours, USD."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

PHASES = ("provision", "seed", "suites", "teardown")  # what a run's time is split into
GIB = 1024**3
HOURS_PER_MONTH = 730.0  # the convention of OpenCost, Infracost and the cloud bills


def usd(amount: float) -> str:
    """Money for people, the same in every report: cents from a dollar up, three
    significant digits below one ($0.000312: a run can cost that little), '$0' for none."""
    if amount == 0 or not math.isfinite(amount):
        return "$0" if amount == 0 else f"${amount}"
    sign, value = ("-", -amount) if amount < 0 else ("", amount)
    if round(value, 2) >= 1:
        return f"{sign}${value:,.2f}"
    decimals = min(12, max(2, 2 - math.floor(math.log10(value))))
    text = f"{value:.{decimals}f}".rstrip("0")
    return f"{sign}${text}{'0' * max(0, 4 - len(text))}"  # keep $0.50, not $0.5


@dataclass(frozen=True)
class Usage:
    """Resources one service (or the suites, or all of a run) used in one span of time."""

    seconds: float = 0.0  # wall time the service existed in the span
    cpu_seconds: float = 0.0  # measured CPU time (user + system)
    memory_gib_seconds: float = 0.0  # measured resident memory, integrated over time
    memory_peak_bytes: int = 0
    storage_gib_hours: float = 0.0  # data on disk, integrated over time
    network_bytes: int = 0  # through the fault proxy's links, where there are any

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.seconds + other.seconds,
            self.cpu_seconds + other.cpu_seconds,
            self.memory_gib_seconds + other.memory_gib_seconds,
            max(self.memory_peak_bytes, other.memory_peak_bytes),
            self.storage_gib_hours + other.storage_gib_hours,
            self.network_bytes + other.network_bytes,
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class ServiceUsage:
    """One service over a run: its usage per phase and what the blueprint requested."""

    service: str
    phases: dict[str, Usage]
    cpu_request: float | None = None  # cores (resources.cpu)
    memory_request_bytes: int | None = None  # resources.memory
    storage_request_bytes: int | None = None  # resources.storage

    @property
    def total(self) -> Usage:
        out = Usage()
        for usage in self.phases.values():
            out = out + usage
        return out


@dataclass(frozen=True)
class Charge:
    """Money for one service in one phase (or any sum of them)."""

    cpu_usd: float = 0.0
    memory_usd: float = 0.0
    storage_usd: float = 0.0
    network_usd: float = 0.0
    runner_usd: float = 0.0  # the CI runner's time, charged to the run as a whole

    @property
    def total_usd(self) -> float:
        return (
            self.cpu_usd + self.memory_usd + self.storage_usd + self.network_usd + self.runner_usd
        )

    def __add__(self, other: Charge) -> Charge:
        return Charge(
            self.cpu_usd + other.cpu_usd,
            self.memory_usd + other.memory_usd,
            self.storage_usd + other.storage_usd,
            self.network_usd + other.network_usd,
            self.runner_usd + other.runner_usd,
        )

    def to_dict(self) -> dict[str, float]:
        out = {k: round(v, 8) for k, v in asdict(self).items()}
        out["total_usd"] = round(self.total_usd, 8)
        return out


@dataclass(frozen=True)
class RunCost:
    """A priced run: every charge by service and phase; totals are sums of these."""

    charges: dict[str, dict[str, Charge]]  # service → phase → charge ("run" for the runner)
    usage: dict[str, ServiceUsage]
    prices: dict[str, Any]  # the price book used: values, units, where each came from
    budget: dict[str, Any] = field(default_factory=dict)  # per_run_usd, status, projection

    @property
    def total(self) -> Charge:
        out = Charge()
        for phases in self.charges.values():
            for charge in phases.values():
                out = out + charge
        return out

    def by_phase(self) -> dict[str, Charge]:
        out: dict[str, Charge] = {}
        for phases in self.charges.values():
            for phase, charge in phases.items():
                out[phase] = out.get(phase, Charge()) + charge
        return out

    def by_service(self) -> dict[str, Charge]:
        out: dict[str, Charge] = {}
        for service, phases in self.charges.items():
            for charge in phases.values():
                out[service] = out.get(service, Charge()) + charge
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": "USD",
            "total_usd": round(self.total.total_usd, 8),
            "total": self.total.to_dict(),
            "by_phase": {k: v.to_dict() for k, v in self.by_phase().items()},
            "by_service": {k: v.to_dict() for k, v in self.by_service().items()},
            "usage": {
                name: {
                    "total": u.total.to_dict(),
                    "phases": {p: x.to_dict() for p, x in u.phases.items()},
                    "requests": {
                        "cpu": u.cpu_request,
                        "memory_bytes": u.memory_request_bytes,
                        "storage_bytes": u.storage_request_bytes,
                    },
                }
                for name, u in self.usage.items()
            },
            "prices": self.prices,
            "budget": self.budget,
        }
