"""Counters and the bounded delay reservoir."""

from __future__ import annotations

from orchestrator.proxy.metrics import ProxyMetrics, Reservoir


def test_reservoir_is_bounded_and_counts_everything() -> None:
    reservoir = Reservoir(size=100)
    for i in range(10_000):
        reservoir.add(float(i))
    assert reservoir.count == 10_000
    assert len(reservoir.values) == 100
    median = reservoir.quantile(0.5)
    assert median is not None
    assert 2_000 < median < 8_000  # a uniform sample of 0..9999


def test_reservoir_quantiles_interpolate() -> None:
    reservoir = Reservoir()
    assert reservoir.quantile(0.5) is None
    for value in (1.0, 2.0, 3.0, 4.0, 5.0):
        reservoir.add(value)
    assert reservoir.quantile(0.5) == 3.0
    assert reservoir.quantile(0.0) == 1.0
    assert reservoir.quantile(1.0) == 5.0
    assert reservoir.quantile(0.25) == 2.0


def test_snapshot_shape() -> None:
    m = ProxyMetrics()
    m.connections_total = 3
    m.fault_fired("lat", "latency", "downstream")
    m.fault_fired("lat", "latency", "downstream")
    m.delay_applied("lat", "latency", "downstream", 0.010)
    m.retire("upstream", 10, 8)
    snap = m.snapshot(1, {"upstream": 5, "downstream": 0}, {"upstream": 5, "downstream": 2})
    assert snap["connections_total"] == 3
    assert snap["connections_active"] == 1
    assert snap["bytes"] == {"upstream": 13, "downstream": 2}
    assert snap["faults_fired"] == {"lat": 2}
    assert snap["injected_delay_ms"]["count"] == 1
    assert abs(snap["injected_delay_ms"]["p50"] - 10.0) < 1e-9
    assert snap["upstream"] == {"received_bytes": 15, "sent_bytes": 13}
    assert snap["toxics"]["lat"]["fired"] == 2
