"""The proxy figures' measurements: one ``ProxyRounds`` method per kind of sample.

Each method takes one sample of its kind on every side (direct loopback, the proxy,
socat), the sides in an order rotated by the round number, and adds them to ``Samples``;
``proxy_bench`` runs the rounds and turns the samples into the JSON section and table.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench import MeasurementError
from bench.figures import Samples
from bench.proxy_net import paced, percentile, ping_pong, setup_times, stream
from bench.proxy_procs import ProxyServe, Upstream, socat

GB = 1e9
T = TypeVar("T")


@dataclass(frozen=True)
class Sizes:
    """How much each sample measures; the defaults keep 5 rounds near a minute."""

    stream_max_bytes: int = 1 << 30
    stream_max_s: float = 5.0
    rtt_count: int = 2000
    setup_count: int = 200
    paced_rate: float = 500.0
    paced_count: int = 1000  # per latency toxic and round
    paced_baseline_count: int = 500  # direct, and proxy without toxics
    paced_connections: int = 64

    def warmup(self) -> Sizes:
        return Sizes(
            stream_max_bytes=128 << 20,
            stream_max_s=2.0,
            rtt_count=200,
            setup_count=20,
            paced_count=100,
            paced_baseline_count=100,
        )


@dataclass(frozen=True)
class LatencyCase:
    key: str  # figure names start with it
    attributes: dict[str, float]
    p50: float  # what the toxic should add, ms
    p99: float


CASES = (
    LatencyCase("latency_5ms", {"latency": 5, "jitter": 0}, 5.0, 5.0),
    LatencyCase("latency_50ms", {"latency": 50, "jitter": 0}, 50.0, 50.0),
    LatencyCase("latency_p50_20_p99_60", {"p50": 20, "p99": 60}, 20.0, 60.0),
)


@dataclass
class Pools:
    """Added-latency samples of every round, per case, for pooled quantiles and CIs."""

    added: dict[str, list[float]] = field(default_factory=dict)
    late_sends: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)


class ProxyRounds:
    """One method per kind of sample; each takes its sides (direct, proxy, socat) in an
    order rotated by the round number. Without a proxy (it did not start) the other
    sides are still measured, so the baselines are there."""

    def __init__(self, upstream: Upstream, proxy: ProxyServe | None, sizes: Sizes) -> None:
        self.upstream = upstream
        self.proxy = proxy
        self.started = proxy is not None
        self.sizes = sizes
        self.pools = Pools()
        self.warnings: list[str] = []

    def _proxy(self) -> ProxyServe:
        if self.proxy is None:
            raise MeasurementError("the proxy is gone (see the first error)")
        if not self.proxy.alive():
            gone = self.proxy
            self.proxy = None  # later measurements fail short, without the log again
            raise MeasurementError(f"the proxy process is gone:\n{gone.log_tail()}")
        return self.proxy

    def died(self) -> str:
        """If the proxy process has exited, say so (once) and stop using it."""
        if self.proxy is None or self.proxy.alive():
            return ""
        gone, self.proxy = self.proxy, None
        code = gone.proc.returncode if gone.proc else None
        return (
            f" (the proxy process exited, status {code}: {gone.log_tail()[-500:] or 'no output'})"
        )

    def _rotated(self, r: int, sides: list[tuple[str, T]]) -> list[tuple[str, T]]:
        if not self.started:
            sides = [side for side in sides if side[0] != "proxy"]
        k = r % len(sides)
        return sides[k:] + sides[:k]

    def _echo_port(self, name: str) -> int:
        return self.upstream.echo if name == "direct" else self._proxy().ports[ProxyServe.ECHO]

    # -- figure 1 and 5: one stream, direct / proxy / socat ------------------------------

    def throughput(self, samples: Samples, r: int) -> str:
        sides: list[tuple[str, Callable[[Samples], float]]] = [
            ("direct", self._stream_direct),
            ("proxy", self._stream_proxy),
            ("socat", self._stream_socat),
        ]
        done, failed = [], []
        for name, measure in self._rotated(r, sides):
            try:
                done.append(f"{name} {measure(samples):.0f}")
            except MeasurementError as exc:
                failed.append(f"{name}: {exc}")
        if failed:  # the other sides are recorded all the same
            raise MeasurementError("; ".join(failed) + f" (done: {', '.join(done) or '-'})")
        return "MB/s " + ", ".join(done)

    def _stream_direct(self, samples: Samples) -> float:
        t = stream(self.upstream.sink, self.sizes.stream_max_bytes, self.sizes.stream_max_s)
        samples.add("throughput_direct_MBps", t.mb_per_s)
        return t.mb_per_s

    def _stream_proxy(self, samples: Samples) -> float:
        proxy = self._proxy()
        before = proxy.cpu_seconds()
        t = stream(
            proxy.ports[ProxyServe.STREAM], self.sizes.stream_max_bytes, self.sizes.stream_max_s
        )
        cpu = proxy.cpu_seconds() - before
        samples.add("throughput_proxy_MBps", t.mb_per_s)
        samples.add("cpu_s_per_GB_proxy", cpu / (t.bytes / GB))
        return t.mb_per_s

    def _stream_socat(self, samples: Samples) -> float:
        with socat(self.upstream.sink) as run:
            t = stream(run.port, self.sizes.stream_max_bytes, self.sizes.stream_max_s)
        samples.add("throughput_socat_MBps", t.mb_per_s)
        if run.cpu_seconds is not None:
            samples.add("cpu_s_per_GB_socat", run.cpu_seconds / (t.bytes / GB))
        return t.mb_per_s

    # -- figure 2: closed-loop 64 B ping-pong ---------------------------------------------

    def rtt(self, samples: Samples, r: int) -> str:
        got: dict[str, tuple[float, float]] = {}
        for name, _ in self._rotated(r, [("direct", None), ("proxy", None)]):
            rtts = ping_pong(self._echo_port(name), self.sizes.rtt_count)
            got[name] = (percentile(rtts, 0.5), percentile(rtts, 0.99))
            samples.add(f"rtt_{name}_p50_ms", got[name][0])
            samples.add(f"rtt_{name}_p99_ms", got[name][1])
        (d50, d99) = got["direct"]
        if "proxy" not in got:
            return f"direct p50 {d50 * 1e3:.0f} µs, p99 {d99 * 1e3:.0f} µs"
        (p50, p99) = got["proxy"]
        samples.add("rtt_added_p50_ms", p50 - d50)
        samples.add("rtt_added_p99_ms", p99 - d99)
        return f"added p50 {(p50 - d50) * 1e3:.0f} µs, p99 {(p99 - d99) * 1e3:.0f} µs"

    # -- figure 4: connect + first byte echoed ---------------------------------------------

    def setup(self, samples: Samples, r: int) -> str:
        got: dict[str, float] = {}
        for name, _ in self._rotated(r, [("direct", None), ("proxy", None)]):
            got[name] = percentile(setup_times(self._echo_port(name), self.sizes.setup_count), 0.5)
            samples.add(f"setup_{name}_p50_ms", got[name])
        if "proxy" in got:
            samples.add("setup_added_p50_ms", got["proxy"] - got["direct"])
        return "p50 " + ", ".join(f"{name} {ms:.3f}" for name, ms in got.items()) + " ms"

    # -- figure 3: latency toxics under a paced load ---------------------------------------

    def latency(self, samples: Samples, r: int) -> str:
        s = self.sizes
        direct = paced(
            self.upstream.echo, s.paced_rate, s.paced_baseline_count, s.paced_connections
        )
        base = statistics.median(direct.rtts)
        samples.add("paced_direct_p50_ms", base)
        samples.add("paced_direct_p99_ms", percentile(direct.rtts, 0.99))
        notes = [f"direct p50 {base:.3f}"]
        if not self.started:
            return notes[0] + " ms"
        proxy = self._proxy()
        port = proxy.ports[ProxyServe.ECHO]
        bare = paced(port, s.paced_rate, s.paced_baseline_count, s.paced_connections)
        self._record(samples, "latency_0ms", [x - base for x in bare.rtts], 0.0, 0.0, bare)
        notes.append(f"no toxic +{percentile(bare.rtts, 0.5) - base:.3f}")
        for _, case in self._rotated(r, [(c.key, c) for c in CASES]):
            before = proxy.delay_totals(case.key)
            proxy.add_latency(case.key, case.attributes)
            try:
                # fresh connections: the toxic is in place before their first byte
                got = paced(port, s.paced_rate, s.paced_count, s.paced_connections)
                after = proxy.delay_totals(case.key)
            finally:
                proxy.remove_toxic(case.key)
            added = [x - base for x in got.rtts]
            self._record(samples, case.key, added, case.p50, case.p99, got)
            if before and after and after[1] > before[1]:
                # the proxy's own account: mean delay applied (release - arrival) per chunk
                mean = (after[0] - before[0]) / (after[1] - before[1]) * 1e3
                samples.add(f"{case.key}_proxy_mean_delay_ms", mean)
            notes.append(f"{case.key.removeprefix('latency_')} +{percentile(added, 0.5):.2f}")
        left = proxy.toxics()
        if left:
            self.warnings.append(f"toxics left on the proxy after DELETE: {left}")
        return ", ".join(notes) + " ms"

    def _record(
        self, samples: Samples, key: str, added: list[float], p50: float, p99: float, got: Any
    ) -> None:
        m50, m99 = percentile(added, 0.5), percentile(added, 0.99)
        samples.add(f"{key}_added_p50_ms", m50)
        samples.add(f"{key}_added_p99_ms", m99)
        samples.add(f"{key}_err_p50_ms", m50 - p50)
        samples.add(f"{key}_err_p99_ms", m99 - p99)
        self.pools.added.setdefault(key, []).extend(added)
        self.pools.late_sends[key] = self.pools.late_sends.get(key, 0) + got.late_sends
        self.pools.max_in_flight[key] = max(self.pools.max_in_flight.get(key, 0), got.max_in_flight)
