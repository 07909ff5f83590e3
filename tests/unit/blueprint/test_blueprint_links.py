"""Links and their faults: every bad spec is refused at load time, at its line."""

from __future__ import annotations

import textwrap

import pytest

from orchestrator.blueprint.loader import loads
from orchestrator.exceptions import BlueprintError, BlueprintErrors

HEAD = """\
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: l}
services:
  a: {ports: [1]}
  b: {ports: [2]}
links:
"""


def error(links: str) -> BlueprintError:
    with pytest.raises(BlueprintError) as info:
        loads(HEAD + textwrap.dedent(links), "l.yaml")
    err = info.value
    return err.errors[0] if isinstance(err, BlueprintErrors) else err


@pytest.mark.parametrize(
    ("links", "line", "key_path", "message"),
    [
        (
            "  - {from: a, to: b, latency: {mean: -5ms}}\n",
            8,
            "links[0].latency.mean",
            "invalid duration '-5ms'",
        ),
        (
            "  - from: a\n    to: b\n    faults:\n      - {reset_peer: {probability: 1.5}}\n",
            11,
            "links[0].faults[0].reset_peer.probability",
            "less than or equal to 1",
        ),
        (
            "  - from: a\n    to: b\n    faults:\n      - {corrupt: {probability: 0.1}}\n",
            11,
            "links[0].faults[0].corrupt",
            "unknown key 'corrupt'",
        ),
        (
            "  - {from: a, to: c}\n",
            8,
            "links[0].to",
            "unknown service 'c'",
        ),
        (
            "  - {from: a, to: b, latency: {p50: 100ms, p99: 50ms}}\n",
            8,
            "links[0].latency",
            "percentiles must not decrease",
        ),
        (
            "  - from: a\n    to: b\n    faults:\n      - {timeout: {timeout: 1s}, down: {}}\n",
            11,
            "links[0].faults[0]",
            "exactly one type key",
        ),
        (
            "  - from: a\n    to: b\n    schedule:\n      - {at: 30s, for: 10s, fault: donw}\n",
            11,
            "links[0].schedule[0].fault.donw",
            "unknown key 'donw'",
        ),
        (
            "  - from: a\n    to: b\n    faults:\n      - {bandwidth: {rate: 0}}\n",
            11,
            "links[0].faults[0].bandwidth.rate",
            "greater than 0",
        ),
        (
            "  - from: a\n    to: b\n    faults:\n"
            "      - {latency: {mean: 5ms, stream: sideways}}\n",
            11,
            "links[0].faults[0].latency.stream",
            "'upstream' or 'downstream'",
        ),
        (
            "  - {from: a, to: b}\n  - {from: a, to: b}\n",
            9,
            "links[1]",
            "a second link from 'a' to 'b'",
        ),
    ],
)
def test_bad_links_are_refused_where_they_are(
    links: str, line: int, key_path: str, message: str
) -> None:
    err = error(links)
    assert (err.location.file, err.location.line) == ("l.yaml", line)
    assert err.location.key_path == key_path
    assert message in err.message


def test_did_you_mean_for_a_misspelt_fault() -> None:
    err = error("  - from: a\n    to: b\n    faults:\n      - {rest_peer: {}}\n")
    assert err.hint == "did you mean 'reset_peer'?"


def test_a_good_link_loads_with_its_defaults() -> None:
    loaded = loads(
        HEAD
        + "  - from: suite\n    to: b\n    latency: {p50: 120ms, p99: 450ms}\n"
        + "    faults:\n      - {reset_peer: {probability: 0.01}}\n"
        + "    schedule:\n      - {at: 30s, for: 10s, fault: down}\n",
        "l.yaml",
    )
    [link] = loaded.model.links
    assert link.name == "suite-b"
    assert link.latency is not None and link.latency.stream == "downstream"
    assert (link.latency.p50, link.latency.p99) == (0.12, 0.45)
    assert link.faults[0].kind == "reset_peer" and link.faults[0].params.probability == 0.01
    assert link.schedule[0].fault.kind == "down" and link.schedule[0].for_ == 10.0
