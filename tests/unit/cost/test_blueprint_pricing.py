"""A blueprint's own prices: checked at validation, at their line, units required."""

from __future__ import annotations

import pytest

from orchestrator.blueprint.loader import loads
from orchestrator.exceptions import BlueprintError

BLUEPRINT = """\
apiVersion: envctl/v1
kind: Blueprint
metadata: {name: priced}
services:
  web: {local: {command: "sleep 100"}}
pricing:
"""


def test_a_price_without_a_unit_is_refused_at_its_line() -> None:
    with pytest.raises(BlueprintError) as info:
        loads(BLUEPRINT + "  usd_per_gib_month: 3.1\n  cpu: 0.03\n", "bp.yaml")
    assert (info.value.location.file, info.value.location.line) == ("bp.yaml", 8)
    assert "usd_per_vcpu_hour" in (info.value.hint or "")


def test_prices_with_units_load() -> None:
    loaded = loads(BLUEPRINT + "  usd_per_vcpu_month: 18.25\n", "bp.yaml")
    assert loaded.model.pricing == {"usd_per_vcpu_month": 18.25}
