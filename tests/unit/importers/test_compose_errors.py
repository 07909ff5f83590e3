"""Bad input: one clear message with the file (and line) and a hint; never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.cli.main import main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(args)
    out, err = capsys.readouterr()
    code = done.value.code
    return code if isinstance(code, int) else 1, out, err


CASES = {
    "not yaml": ("services:\n  web: [unclosed\n", "invalid YAML", 3),
    "tabs": ("services:\n\tweb: {}\n", "invalid YAML", 2),
    "a list": ("- web\n- db\n", "a Compose file is a mapping with `services:`, not a list", 1),
    "a string": ("just text\n", "not a string", 1),
    "no services": ("version: '3'\nvolumes: {}\n", "no `services:` in this Compose file", 1),
    "version 1": ("web:\n  image: nginx\n", "version 1 Compose file", 1),
    "empty services": ("services: {}\n", "`services:` must map", 1),
    "service not a mapping": ("services:\n  web: 3\n", "must be a mapping of settings", 2),
    "a NUL in a path": ('services:\n  web:\n    build: "a\\0b"\n', "invalid path", 3),
    "envctl's own markers": (
        "services:\n  web:\n    image: 'x\ufdd0A\ufdd1'\n",
        "Unicode noncharacters envctl keeps for itself",
        1,
    ),
    "bad port": ("services:\n  web:\n    image: x\n    ports: ['80:abc']\n", "invalid port", 4),
    "bad duration": (
        "services:\n  web:\n    image: x\n    healthcheck:\n      test: [CMD, 'true']\n"
        "      interval: soon\n",
        "invalid duration",
        6,
    ),
    "required variable": (
        "services:\n  web:\n    image: 'x:${TAG:?set TAG first}'\n",
        "required variable TAG is missing a value: set TAG first",
        3,
    ),
    "undefined dependency": (
        "services:\n  web:\n    image: x\n    depends_on: [db]\n",
        "depends on 'db', which is not defined",
        4,
    ),
    "unknown condition": (
        "services:\n  db: {image: x}\n  web:\n    image: x\n    depends_on:\n"
        "      db: {condition: service_ready}\n",
        "unknown condition 'service_ready'",
        6,
    ),
    "missing env_file": (
        "services:\n  web:\n    image: x\n    env_file: [nope.env]\n",
        "env_file 'nope.env' not found",
        4,
    ),
    "missing build context": (
        "services:\n  web:\n    build: ./nowhere\n",
        "build context './nowhere' is not a directory",
        3,
    ),
    "duplicate key": ("services:\n  web: {image: x}\n  web: {image: y}\n", "duplicate key", 3),
    "only profiles": (
        "services:\n  web:\n    image: x\n    profiles: [dev]\n",
        "nothing to import",
        1,
    ),
    "wrong type": ("services:\n  web:\n    image: [a, b]\n", "`image` must be a string", 3),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_compose_files_get_one_located_message(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, message, line = CASES[case]
    file = tmp_path / "compose.yaml"
    file.write_text(text)
    code, _, err = run(["import", "compose", str(file)], capsys)
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("envctl: error: ")
    assert f"{file}:{line}:" in err, err
    assert message in err
    assert "\n  hint: " in err
    assert not (tmp_path / f"{tmp_path.name}.yaml").exists(), "nothing written"


@pytest.mark.parametrize("case", ["not yaml", "undefined dependency"])
def test_json_errors_carry_file_line_and_hint(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, message, line = CASES[case]
    file = tmp_path / "compose.yaml"
    file.write_text(text)
    code, out, _ = run(["import", "compose", str(file), "-o", "json"], capsys)
    error = json.loads(out)["error"]
    assert code == 2
    assert error["type"] == "ComposeError"
    assert error["file"] == str(file) and error["line"] == line
    assert message in error["message"] and error["hint"]


def test_an_unknown_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["import", "compose", str(tmp_path / "nope.yml")], capsys)
    assert code == 2 and "Compose file" in err and "not found" in err and "hint:" in err


def test_a_directory_without_a_compose_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["import", "compose"], capsys)
    assert code == 2
    assert "no Compose file in" in err and "compose.yaml" in err and "hint:" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the Compose file is empty"),
        (b"  \n\n", "the Compose file is empty"),
        (b"\xff\xfe\x00binary", "not a text file"),
    ],
)
def test_empty_and_binary_files(
    content: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "docker-compose.yml"
    file.write_bytes(content)
    code, _, err = run(["import", "compose", str(file)], capsys)
    assert code == 2 and message in err and f"{file}:1:" in err and "hint:" in err


def test_an_existing_blueprint_is_not_overwritten_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "compose.yaml"
    file.write_text("services:\n  cache: {image: 'redis:7'}\n")
    target = tmp_path / "out.yaml"
    target.write_text("mine\n")
    code, _, err = run(["import", "compose", str(file), "-o", str(target)], capsys)
    assert code == 2 and "exists; not overwriting it" in err and "--force" in err
    assert target.read_text() == "mine\n"
    code, _, _ = run(["import", "compose", str(file), "-o", str(target), "--force"], capsys)
    assert code == 0 and target.read_text().startswith("# Converted from compose.yaml")


def test_the_compose_file_itself_is_never_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "shop.yaml"
    file.write_text("services:\n  cache: {image: 'redis:7'}\n")
    code, _, err = run(["import", "compose", str(file), "--name", "shop", "--force"], capsys)
    assert code == 2 and "would overwrite the Compose file" in err
    assert file.read_text().startswith("services:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "Not_Valid"], "invalid blueprint name 'Not_Valid'"),
        (["-o", "a.yaml", "-o", "b.yaml"], "one blueprint file, not 2"),
        (["-o", "-", "-o", "json"], "-o - prints the blueprint itself"),
    ],
)
def test_bad_options(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "compose.yaml"
    file.write_text("services:\n  cache: {image: 'redis:7'}\n")
    code, _, err = run(["import", "compose", str(file), *args], capsys)
    assert code == 2 and message in err and "hint:" in err and "Traceback" not in err
