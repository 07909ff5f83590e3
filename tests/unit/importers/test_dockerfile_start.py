"""How a Dockerfile says its image starts: the last stage's CMD, ENTRYPOINT, WORKDIR."""

from __future__ import annotations

from pathlib import Path

from orchestrator.importers.dockerfile import ImageStart, StartCommand, read


def dockerfile(tmp_path: Path, text: str) -> ImageStart:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    return read(path)


def test_exec_and_shell_forms(tmp_path: Path) -> None:
    start = dockerfile(tmp_path, 'FROM python\nWORKDIR /app\nCMD ["python", "app.py"]\n')
    assert start == ImageStart(None, StartCommand(argv=("python", "app.py")), "/app")
    start = dockerfile(tmp_path, "FROM python\nCMD python app.py \\\n  --port 8000\n")
    assert start.cmd == StartCommand(shell="python app.py --port 8000")


def test_the_last_stage_counts_and_entrypoint_resets_cmd(tmp_path: Path) -> None:
    start = dockerfile(
        tmp_path,
        'FROM node AS build\nCMD ["npm", "run", "build"]\nWORKDIR /build\n'
        '# the runtime stage\nFROM python\nCMD ["ignored"]\nENTRYPOINT ["python"]\n'
        "WORKDIR /srv\nWORKDIR app\n",
    )
    assert start == ImageStart(StartCommand(argv=("python",)), None, "/srv/app")


def test_a_missing_or_unreadable_file_says_nothing(tmp_path: Path) -> None:
    assert read(tmp_path / "nope") == ImageStart()
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    assert read(tmp_path / "bin") == ImageStart()


def test_json_that_is_not_a_string_list_is_shell_form(tmp_path: Path) -> None:
    assert dockerfile(tmp_path, "FROM x\nCMD [1, 2]\n").cmd == StartCommand(shell="[1, 2]")
