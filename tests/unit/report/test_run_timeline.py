"""The timeline's layout: lanes from the run's spans, in the order things started."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from orchestrator.report import svg, timeline


def test_a_lane_per_service_in_the_order_they_started(passed: dict[str, Any]) -> None:
    laid = timeline.layout(passed)
    spans = [s for s in passed["timeline"] if s["kind"] == "service"]
    lanes = [lane for lane in laid.lanes if lane.kind == "service"]
    expected = [s["name"] for s in sorted(spans, key=lambda s: (s["start"], s["name"]))]
    assert [lane.name for lane in lanes] == expected
    assert set(passed["services"]) <= {lane.name for lane in lanes}  # and envctl's proxy
    for lane in lanes:
        first = lane.bars[0]
        assert first.kind == "service"
        if lane.name in passed["services"]:
            assert first.start == passed["services"][lane.name]["started_offset_seconds"]


def test_seeding_goes_in_its_services_lane_after_it_was_ready(passed: dict[str, Any]) -> None:
    lanes = {lane.name: lane for lane in timeline.layout(passed).lanes}
    for seed in passed["seeding"]:
        kinds = [b.kind for b in lanes[seed["service"]].bars]
        assert kinds == ["service", "seed"]
        ready, seeding = lanes[seed["service"]].bars
        assert ready.end <= seeding.start
        assert f"{seed['rows']:,} rows" in seeding.label


def test_phases_suites_and_the_axis(passed: dict[str, Any]) -> None:
    laid = timeline.layout(passed)
    assert [p.name for p in laid.phases] == [
        s["name"] for s in passed["timeline"] if s["kind"] == "phase"
    ]
    assert {p.name for p in laid.phases} == {"plan", "provision", "seed", "audit", "suites",
                                             "teardown"}  # fmt: skip
    (suite,) = [lane for lane in laid.lanes if lane.kind == "suite"]
    assert suite.name == "contract" and suite.bars[0].status == "passed"
    assert f"{passed['suites'][0]['tests']['total']} tests" in suite.bars[0].label
    assert laid.end >= passed["duration_seconds"]
    assert laid.end >= max(s["end"] for s in passed["timeline"])


def test_scheduled_faults_are_cut_at_the_runs_end(passed: dict[str, Any]) -> None:
    data = copy.deepcopy(passed)
    end = data["duration_seconds"]
    data["timeline"] += [
        {"kind": "fault", "name": "orders-db", "status": "down", "start": 14.0, "end": 16.0,
         "scheduled": True},
        {"kind": "fault", "name": "orders-db", "status": "latency", "start": 18.0,
         "end": end + 30, "scheduled": True},
        {"kind": "fault", "name": "late", "status": "down", "start": end + 5, "end": end + 9,
         "scheduled": True},
    ]  # fmt: skip
    laid = timeline.layout(data)
    faults = [lane for lane in laid.lanes if lane.kind == "fault"]
    assert [lane.name for lane in faults] == ["orders-db"]  # 'late' never fired
    down, latency = faults[0].bars
    assert (down.status, down.start, down.end) == ("down", 14.0, 16.0)
    assert latency.end == laid.end == end and "the run ended first" in latency.tip


def test_an_errored_run_has_its_failed_service_and_phase(errored: dict[str, Any]) -> None:
    laid = timeline.layout(errored)
    statuses = {lane.name: lane.bars[0].status for lane in laid.lanes}
    assert statuses == {"cache": "ready", "broken": "failed"}
    assert "exited with code 7" in next(b for lane in laid.lanes for b in lane.bars
                                        if b.name == "broken").tip  # fmt: skip
    assert ("provision", "failed") in {(p.name, p.status) for p in laid.phases}
    assert not [lane for lane in laid.lanes if lane.kind == "suite"]


def test_a_run_from_before_timelines_still_shows_its_services(passed: dict[str, Any]) -> None:
    del passed["timeline"]
    laid = timeline.layout(passed)
    assert not laid.phases
    assert [lane.name for lane in laid.lanes] == sorted(
        passed["services"], key=lambda n: (passed["services"][n]["started_offset_seconds"], n)
    )
    for lane in laid.lanes:
        s = passed["services"][lane.name]
        (bar,) = lane.bars
        assert bar.start == s["started_offset_seconds"]
        assert bar.end - bar.start == pytest.approx(s["ready_seconds"])


def test_nothing_to_lay_out(bare: dict[str, Any]) -> None:
    laid = timeline.layout(bare)
    assert laid.empty
    assert "recorded no timeline" in timeline.render(laid)


def test_spans_that_are_not_spans_are_skipped(passed: dict[str, Any]) -> None:
    passed["timeline"] += [{"kind": "service"}, "junk", {"kind": "seed", "name": "db",
                                                         "start": "soon", "end": 1}]  # fmt: skip
    assert timeline.layout(passed) == timeline.layout(
        {**passed, "timeline": passed["timeline"][:-3]}
    )


def test_a_bars_label_never_covers_another_bar(passed: dict[str, Any]) -> None:
    """Labels go after a bar, before it, or inside it, wherever the lane is free."""
    lanes = [chunk.split("</svg>")[0] for chunk in _svg(passed).split('<g class="lane ')[1:]]
    assert len(lanes) == len(timeline.layout(passed).lanes)
    for lane in lanes:
        rects = [
            (float(x), float(x) + float(w))
            for x, w in re.findall(r'<rect class="bar [^>]*x="([\d.]+)"[^>]*width="([\d.]+)"', lane)
        ]
        for cls, x, anchor, label in re.findall(
            r'<text class="(bar-label[^"]*)" x="([\d.]+)"[^>]*text-anchor="(\w+)">([^<]*)</text>',
            lane,
        ):
            width = len(label) * svg.CHAR_PX
            span = (
                (float(x), float(x) + width) if anchor == "start" else (float(x) - width, float(x))
            )
            covered = [r for r in rects if r[0] < span[1] and span[0] < r[1]]
            if "inside" in cls:
                assert len(covered) == 1 and covered[0][0] <= span[0] and span[1] <= covered[0][1]
            else:
                assert covered == [], (label, span, rects)


def test_hemmed_in_labels_go_inside_their_bar(passed: dict[str, Any]) -> None:
    """db started late and seeded right after it was ready: no room around its bar."""
    for span in passed["timeline"]:
        if span["kind"] == "service" and span["name"] == "db":
            span["start"] = 0.5
    drawn = _svg(passed)
    assert re.search(r'class="bar-label inside"[^>]*>ready in 4\.55s<', drawn)


def _svg(data: dict[str, Any]) -> str:
    return timeline.render(timeline.layout(data))


def test_spans_without_a_status_or_start_are_skipped(passed: dict[str, Any]) -> None:
    clean = timeline.layout(passed)
    passed["timeline"] += [
        {"kind": "service", "name": "db", "start": 0.0, "end": 1.0},
        {"kind": "phase", "name": "seed", "end": 1.0, "status": "done"},
        {"kind": "suite", "name": "contract", "start": True, "end": 1.0, "status": "passed"},
    ]
    assert timeline.layout(passed) == clean
    assert _svg(passed) == _svg({**passed, "timeline": passed["timeline"][:-3]})
