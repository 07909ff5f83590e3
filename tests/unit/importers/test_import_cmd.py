"""`envctl import compose` as a command: where it reads, where it writes, what it prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from orchestrator.cli.main import main
from tests.unit.importers.compose_snippets import write

FILE = "services:\n  cache:\n    image: redis:7\n    restart: always\n"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(args)
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


@pytest.mark.parametrize(
    "name", ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"]
)
def test_it_finds_the_compose_file_here_and_writes_next_to_it(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "my_shop"
    project.mkdir()
    (project / name).write_text(FILE)
    monkeypatch.chdir(project)
    code, out, err = run(["import", "compose"], capsys)
    assert code == 0, err
    written = project / "my-shop.yaml"
    assert yaml.safe_load(written.read_text())["services"]["cache"]["engine"] == "redis"
    assert out.startswith("wrote my-shop.yaml: 1 services (cache), no secrets, 1 notes")
    assert "next: envctl validate my-shop.yaml && envctl up my-shop.yaml" in out
    assert f"note: {name}:4: services.cache.restart: envctl restarts nothing" in err


def test_compose_yaml_wins_over_docker_compose_yml_as_in_compose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "docker-compose.yml").write_text("services:\n  old:\n    image: redis:6\n")
    (tmp_path / "compose.yaml").write_text(FILE)
    code, out, _ = run(["import", "compose", str(tmp_path), "-o", "-"], capsys)
    assert code == 0 and "cache:" in out and "old:" not in out


def test_dash_prints_the_blueprint_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "compose.yaml").write_text(FILE)
    code, out, err = run(["import", "compose", str(tmp_path / "compose.yaml"), "-o", "-"], capsys)
    assert code == 0
    assert yaml.safe_load(out)["kind"] == "Blueprint"
    assert out.startswith("# Converted from compose.yaml")
    assert "1 services (cache), no secrets, 1 notes" in err
    assert list(tmp_path.iterdir()) == [tmp_path / "compose.yaml"]


def test_json_names_the_blueprint_and_lists_the_notes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("volumes", tmp_path)
    target = tmp_path / "out" / "vol.yaml"
    code, out, _ = run(
        ["import", "compose", str(tmp_path / "compose.yaml"), "-o", "json", "-o", str(target)],
        capsys,
    )
    assert code == 0
    data = json.loads(out)
    assert data["blueprint"] == str(target) and target.is_file()
    assert data["services"] == ["db", "web"] and data["secrets"] == []
    assert data["notes"][0] == {
        "key": "services.db.volumes[0]",
        "line": 5,
        "message": "pgdata: dropped — environments start empty; seed with data:",
    }
    assert yaml.safe_load(target.read_text())["data"][0]["schema"] == "../db/schema.sql"


def test_quiet_drops_the_notes_but_not_the_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "compose.yaml").write_text(FILE)
    code, out, err = run(["-q", "import", "compose", str(tmp_path), "--name", "c"], capsys)
    assert code == 0 and err == "" and out.startswith("wrote ")
    assert (tmp_path / "c.yaml").is_file()


def test_the_written_file_validates_with_envctl_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("references", tmp_path)
    run(["import", "compose", str(tmp_path), "--name", "refs"], capsys)
    code, out, _ = run(["validate", str(tmp_path / "refs.yaml"), "-o", "json"], capsys)
    assert code == 0 and json.loads(out)[0]["valid"] is True


def test_help_lists_the_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["import", "--help"], capsys)
    assert code == 0 and "compose" in out
    code, out, _ = run(["import", "compose", "--help"], capsys)
    assert code == 0 and "FILE|-|json|text" in out and "--force" in out
