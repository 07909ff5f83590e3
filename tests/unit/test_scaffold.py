"""`envctl init`: the files it writes load as a valid blueprint; it never overwrites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.blueprint.loader import load
from orchestrator.cli.main import main
from orchestrator.exceptions import UsageError
from orchestrator.scaffold import engines_from, render, scaffold


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(args)
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


@pytest.mark.parametrize("engines", [(), ("postgres",), ("redis",), ("postgres", "redis")], ids=str)
def test_every_combination_is_a_valid_blueprint(tmp_path: Path, engines: tuple[str, ...]) -> None:
    done = scaffold(tmp_path / "env", name=None, engines=engines, force=False)
    model = load(done.blueprint).model
    assert model.metadata.name == "env"
    expected = (
        {"app"}
        | ({"db"} if "postgres" in engines else set())
        | ({"cache"} if "redis" in engines else set())
    )
    assert set(model.services) == expected
    app = model.services["app"]
    assert app.local is not None and app.local.command == "python app.py --port ${self.port}"
    assert set(app.depends_on) == expected - {"app"}
    assert [s.name for s in model.suites] == ["smoke"]
    tests = (tmp_path / "env" / "tests" / "test_smoke.py").read_text()
    assert ("ENVCTL_DB_URL" in tests) == ("postgres" in engines)
    assert ("ENVCTL_CACHE_URL" in tests) == ("redis" in engines)
    assert {p.name for p in done.files} == {
        "blueprint.yaml",
        "app.py",
        "test_smoke.py",
        "pytest.ini",
    }


def test_the_blueprint_teaches_in_comments() -> None:
    text = render("demo", ("postgres", "redis"))["blueprint.yaml"]
    comments = [line for line in text.splitlines() if "#" in line]
    assert len(comments) >= 20
    for topic in ("envctl validate", "engine", "${secret.NAME}", "depends_on", "ready", "suites"):
        assert topic in text, topic
    assert all(len(line) <= 100 for line in text.splitlines())


def test_the_same_options_give_the_same_files() -> None:
    assert render("a", ("redis",)) == render("a", ("redis",))


def test_it_refuses_to_overwrite_and_says_how(tmp_path: Path) -> None:
    scaffold(tmp_path, name="x", engines=(), force=False)
    (tmp_path / "app.py").write_text("# mine\n")
    with pytest.raises(UsageError) as caught:
        scaffold(tmp_path, name="x", engines=(), force=False)
    assert "already has blueprint.yaml, app.py, tests/test_smoke.py, pytest.ini" in str(
        caught.value
    )
    assert caught.value.hint and "--force" in caught.value.hint
    assert (tmp_path / "app.py").read_text() == "# mine\n"
    scaffold(tmp_path, name="x", engines=(), force=True)
    assert (tmp_path / "app.py").read_text() != "# mine\n"


def test_one_existing_file_is_enough_to_refuse(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_smoke.py").write_text("")
    with pytest.raises(UsageError, match="already has tests/test_smoke.py"):
        scaffold(tmp_path, name=None, engines=(), force=False)
    assert not (tmp_path / "blueprint.yaml").exists()


def test_with_engines() -> None:
    assert engines_from(("redis,postgres",)) == ("postgres", "redis")
    assert engines_from(("postgres", "redis")) == ("postgres", "redis")
    assert engines_from(()) == ()
    with pytest.raises(UsageError) as caught:
        engines_from(("postgres,mysql",))
    assert "'mysql'" in str(caught.value) and "postgres, redis" in (caught.value.hint or "")


def test_names(tmp_path: Path) -> None:
    odd = tmp_path / "My_Project.v2"
    assert scaffold(odd, name=None, engines=(), force=False).name == "my-project-v2"
    with pytest.raises(UsageError, match="invalid name"):
        scaffold(tmp_path / "b", name="Bad_Name", engines=(), force=False)


def test_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(["init", "svc", "--with", "postgres"], capsys)
    assert code == 0
    assert out.startswith("wrote blueprint.yaml, app.py, tests/test_smoke.py, pytest.ini in svc/")
    assert "next: envctl run svc/blueprint.yaml" in out
    code, _, err = run(["init", "svc"], capsys)
    assert code == 2 and "not overwriting" in err and "--force" in err and "Traceback" not in err
    code, out, _ = run(["init", "svc", "--force", "--name", "other", "-o", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["name"] == "other" and data["with"] == []
    assert data["blueprint"] == str(tmp_path / "svc" / "blueprint.yaml")
    code, _, err = run(["init", "x", "--with", "mongo"], capsys)
    assert code == 2 and "unknown --with 'mongo'" in err
