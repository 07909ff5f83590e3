"""Suites as Jobs: what goes in (the packed cwd) and what comes back (the markers)."""

from __future__ import annotations

import base64
import io
import tarfile
from pathlib import Path

import pytest

from orchestrator.blueprint.loader import loads
from orchestrator.exceptions import BlueprintError
from orchestrator.runtime.kubernetes import bundle
from orchestrator.runtime.kubernetes.suite import Markers, _Lines, unpack, wrapper
from orchestrator.secrets import Redactor
from orchestrator.suites import ContainerSuite

MARKERS = Markers("envctl-artifacts-t-begin", "envctl-artifacts-t-end")


def lines_of(chunks: list[bytes]) -> tuple[list[str], bytes | None]:
    emitted: list[str] = []
    lines = _Lines(emitted.append, MARKERS)
    for chunk in chunks:
        lines.feed(chunk)
    lines.close()
    return emitted, lines.artifacts()


def test_output_before_the_markers_is_the_suites_and_between_them_its_files() -> None:
    payload = base64.b64encode(b"archive bytes").decode()
    emitted, artifacts = lines_of([
        b"collected 3 items\n...\n3 pass",
        b"ed\n\nenvctl-artifacts-t-begin\n",
        payload[:6].encode() + b"\n" + payload[6:].encode() + b"\n",
        b"envctl-artifacts-t-end 0\n",
    ])  # fmt: skip
    assert emitted == ["collected 3 items", "...", "3 passed"], "the wrapper's blank line goes"
    assert artifacts == b"archive bytes"


def test_a_suite_that_printed_no_final_newline_keeps_its_last_line() -> None:
    emitted, _ = lines_of(
        [b"no newline at the end\nenvctl-artifacts-t-begin\nenvctl-artifacts-t-end 1\n"]
    )
    assert emitted == ["no newline at the end"]


def test_blank_lines_of_the_suite_are_kept_and_no_end_marker_means_no_files() -> None:
    emitted, artifacts = lines_of([b"a\n\n\nb\n", b"envctl-artifacts-t-begin\nZm9v\n"])
    assert emitted == ["a", "", "", "b"]
    assert artifacts is None, "cut off before its end: nothing is trusted"


def test_markers_carry_a_fresh_token() -> None:
    a, b = Markers.fresh(), Markers.fresh()
    assert a.begin != b.begin and a.begin.endswith("-begin") and a.end.endswith("-end")


def archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_only_files_under_the_run_dir_or_the_junit_path_come_back(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "env"
    junit = tmp_path / "elsewhere" / "junit.xml"
    rel = str(tmp_path).lstrip("/")
    data = archive({
        f"{rel}/runs/env/contract.xml": b"<testsuite/>",
        f"{rel}/runs/env/sub/inside.txt": b"hi",
        f"{rel}/elsewhere/junit.xml": b"<testsuites/>",
        f"{rel}/elsewhere/other.txt": b"no",
        f"{rel}/runs/env/../../escape.txt": b"no",
        "etc/passwd": b"no",
    })  # fmt: skip
    written = unpack(data, run_dir, junit)
    assert sorted(written) == sorted([
        run_dir / "contract.xml", run_dir / "sub" / "inside.txt", junit
    ])  # fmt: skip
    assert (run_dir / "sub" / "inside.txt").read_text() == "hi"
    assert not (tmp_path / "elsewhere" / "other.txt").exists()
    assert not (tmp_path / "escape.txt").exists()


def test_the_wrapper_unpacks_runs_and_reports_with_quoted_paths(tmp_path: Path) -> None:
    suite = ContainerSuite(
        name="inside",
        tier="standard",
        image="img:1",
        command="run-the-checks -q",
        cwd=Path("/src/my suite"),
        env={},
        timeout=60,
        log_path=tmp_path / "run" / "logs" / "suite-inside.log",
        junit_path=tmp_path / "other" / "inside.xml",
        redactor=Redactor(),
    )
    script = wrapper(suite, tmp_path / "run", MARKERS)
    assert "-C '/src/my suite'" in script and "cd '/src/my suite'" in script
    assert "/bin/sh /envctl/run/command" in script, "the command comes from a Secret"
    assert "run-the-checks" not in script
    assert f"{str(tmp_path / 'other' / 'inside.xml').lstrip('/')}" in script, "junit kept"
    assert script.rstrip().endswith('exit "$code"')


def test_a_directory_packs_without_virtualenvs_caches_and_vcs(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("def test(): pass\n")
    for skipped in (".venv/lib/x.py", "__pycache__/x.pyc", ".git/HEAD", "tests/__pycache__/y.pyc"):
        (tmp_path / skipped).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / skipped).write_text("x")
    data = bundle.pack(tmp_path)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["tests/test_x.py"]


def test_a_directory_too_big_to_ship_is_a_blueprint_error_at_the_suite(tmp_path: Path) -> None:
    import os

    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "blob.bin").write_bytes(os.urandom(bundle.MAX_BYTES + 1000))
    text = (
        "apiVersion: envctl/v1\nkind: Blueprint\nmetadata: {name: big}\n"
        "services: {cache: {image: 'redis:7.0', engine: redis}}\n"
        "suites:\n  - {name: inside, run: 'true', image: 'img:1', cwd: suite}\n"
    )
    path = tmp_path / "big.yaml"
    path.write_text(text)
    with pytest.raises(BlueprintError) as caught:
        bundle.pack_suites(loads(text, str(path)))
    assert "packs to 1.0 MiB" in caught.value.message and "at most" in caught.value.message
    assert caught.value.location.line == 6
    assert "drop `image`" in (caught.value.hint or "")
