"""Shell values as markers, then as ${env.NAME}, as values, or as Compose wrote them."""

from __future__ import annotations

from orchestrator.importers import shell_values
from orchestrator.importers.compose_vars import Variables, interpolate


def test_a_shell_value_is_a_marker_and_a_dotenv_value_or_default_is_not() -> None:
    variables = Variables({"KEY": "sk_live_1", "EMPTY": ""}, {"REGION": "eu"}, mark_shell=True)
    text = interpolate("${KEY}|${REGION}|${UNSET:-d}|${KEY:-d}|${EMPTY}|${KEY:+alt}", variables)
    assert "sk_live_1" not in text
    assert shell_values.as_references(text) == "${env.KEY}|eu|d|${env.KEY}||alt"
    assert shell_values.as_written(text) == "${KEY}|eu|d|${KEY}||alt"
    assert shell_values.as_values(text, {"KEY": "sk_live_1"}) == "sk_live_1|eu|d|sk_live_1||alt"
    assert variables.from_shell == ["KEY", "EMPTY"], "a :+ alternative does not use the value"


def test_which_compose_keys_are_templated() -> None:
    assert shell_values.is_templated(("services", "web", "environment", "A"))
    assert shell_values.is_templated(("services", "web", "command", 0))
    assert shell_values.is_templated(("services", "web", "healthcheck", "test"))
    assert not shell_values.is_templated(("services", "web", "healthcheck", "interval"))
    assert not shell_values.is_templated(("services", "web", "image"))
    assert not shell_values.is_templated(("name",))
