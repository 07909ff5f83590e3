"""CLI behaviour that needs no environment: fast help, errors, schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from orchestrator.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


def test_help_does_not_load_the_engine_or_its_sdks() -> None:
    """`envctl --help` stays fast: no pydantic, psycopg, redis or psutil at import."""
    heavy = ("pydantic", "psycopg", "redis", "psutil", "yaml")
    code = (
        "import sys, orchestrator.cli.main; "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_schema_check_detects_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "schema.json"
    stale.write_text("{}")
    result = CliRunner().invoke(cli, ["schema", "--check", str(stale)])
    assert result.exit_code == 1 and "stale" in result.output
    current = CliRunner().invoke(
        cli, ["schema", "--check", str(ROOT / "blueprints/blueprint.schema.json")]
    )
    assert current.exit_code == 0


def test_schema_output_is_the_json_schema() -> None:
    result = CliRunner().invoke(cli, ["schema", "-o", "json"])
    assert json.loads(result.output)["properties"]["apiVersion"]["const"] == "envctl/v1"


def test_validate_reports_every_problem_as_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: envctl/v1\nkind: Blueprint\nmetadata: {name: x}\nservices:\n"
        "  a: {image: x, depends_on: [b], env: {U: '${c.host}'}}\n"
    )
    result = CliRunner().invoke(cli, ["validate", "-o", "json", str(bad)])
    assert result.exit_code == 2
    [report] = json.loads(result.output)
    assert [e["key_path"] for e in report["errors"]] == [
        "services.a.depends_on[0]",
        "services.a.env.U",
    ]
