"""Row counts: as given, or a share of production's from the blueprint's profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.blueprint.loader import load
from orchestrator.exceptions import BlueprintError
from orchestrator.seed import volumes

PROFILE = """\
apiVersion: envctl/v1
kind: ProductionProfile
metadata: {name: prod}
services:
  db:
    tables:
      customers: {rows: 1200000}
      orders: {rows: 9000000}
"""

BLUEPRINT = """\
apiVersion: envctl/v1
kind: Blueprint
metadata: {{name: scaled}}
{profile}services:
  db: {{image: "postgres:15", engine: postgres}}
data:
  - service: db
    scale: 0.01
    tables:
      customers: {{}}
      orders: {{scale: 0.002}}
      coupons: {{rows: 40}}
"""


def write(
    tmp_path: Path, profile: str | None = PROFILE, line: str = "profile: prod.yaml\n"
) -> Path:
    if profile is not None:
        (tmp_path / "prod.yaml").write_text(profile)
    path = tmp_path / "bp.yaml"
    path.write_text(BLUEPRINT.format(profile=line))
    return path


def test_scale_takes_a_share_of_the_profile(tmp_path: Path) -> None:
    loaded = load(write(tmp_path))
    assert volumes.rows(loaded, 0) == {"customers": 12000, "orders": 18000, "coupons": 40}


def test_scale_without_a_profile_is_refused_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as info:
        load(write(tmp_path, None, line=""))
    assert "needs a production profile" in info.value.render()
    assert info.value.location.line == 8


def test_a_table_the_profile_does_not_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as info:
        load(write(tmp_path, PROFILE.replace("      orders: {rows: 9000000}\n", "")))
    assert "no row count for db.orders" in info.value.message
    assert info.value.location.line == 12


def test_a_bad_profile_is_refused_at_its_own_line(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as info:
        load(write(tmp_path, PROFILE.replace("rows: 1200000", "rows: -5")))
    assert info.value.location.file.endswith("prod.yaml")
    assert info.value.location.line == 7
