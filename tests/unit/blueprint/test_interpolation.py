"""``${…}`` references: parse, check against a blueprint, render (blueprint.interpolation)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.blueprint.interpolation import (
    InterpolationError,
    Reference,
    check,
    parse,
    render,
)

SERVICES = {"db", "cache", "payments-provider"}

# ---------------------------------------------------------------------------------- parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${db.host}", Reference("db", "host", None, "${db.host}")),
        ("${db.port}", Reference("db", "port", None, "${db.port}")),
        ("${db.url}", Reference("db", "url", None, "${db.url}")),
        ("${self.port}", Reference("self", "port", None, "${self.port}")),
        (
            "${secret.DB_PASSWORD}",
            Reference("secret", "DB_PASSWORD", None, "${secret.DB_PASSWORD}"),
        ),
        ("${env.HOME}", Reference("env", "HOME", None, "${env.HOME}")),
        ("${env.HOME:-/tmp}", Reference("env", "HOME", "/tmp", "${env.HOME:-/tmp}")),
        ("${env.EMPTY:-}", Reference("env", "EMPTY", "", "${env.EMPTY:-}")),
        ("${env.X:-a:b-c d}", Reference("env", "X", "a:b-c d", "${env.X:-a:b-c d}")),
        ("${run.dir}", Reference("run", "dir", None, "${run.dir}")),
        ("${run.id}", Reference("run", "id", None, "${run.id}")),
        (
            "${payments-provider.host}",
            Reference("payments-provider", "host", None, "${payments-provider.host}"),
        ),
    ],
)
def test_parse_every_reference_kind(text: str, expected: Reference) -> None:
    assert parse(text) == [expected]


def test_parse_finds_all_references_in_order_within_surrounding_text() -> None:
    refs = parse("http://${payments-provider.host}:${payments-provider.port}/pay?k=${secret.KEY}")
    assert [(r.namespace, r.name) for r in refs] == [
        ("payments-provider", "host"),
        ("payments-provider", "port"),
        ("secret", "KEY"),
    ]


def test_reference_is_service_distinguishes_addresses_from_values() -> None:
    kinds = {
        r.namespace: r.is_service
        for r in parse("${db.url} ${self.port} ${secret.A} ${env.B} ${run.id}")
    }
    assert kinds == {"db": True, "self": True, "secret": False, "env": False, "run": False}


@pytest.mark.parametrize(
    "text", ["", "plain text", "$HOME", "cost: $5", "$$", "{db.url}", "$ {db.url}", "}"]
)
def test_parse_text_without_references(text: str) -> None:
    assert parse(text) == []


@pytest.mark.parametrize("text", ["$${db.url}", "echo $${HOME}", "$${", "a $${ b"])
def test_double_dollar_escapes_a_literal_reference(text: str) -> None:
    # $${ is how a user writes a literal '${' (e.g. for a shell); it is neither a
    # reference nor an unterminated one.
    assert parse(text) == []


def test_escape_and_reference_side_by_side() -> None:
    assert [r.text for r in parse("$${HOME} ${db.url}")] == ["${db.url}"]


@pytest.mark.parametrize(
    "text",
    [
        "${}",
        "${db}",
        "${db.}",
        "${.url}",
        "${db.url.extra}",
        "${1db.url}",
        "${db url}",
        "${db:url}",
    ],
)
def test_parse_rejects_malformed_references(text: str) -> None:
    with pytest.raises(InterpolationError, match="malformed reference") as info:
        parse(text)
    assert text in str(info.value)
    assert info.value.hint is not None
    assert "$${" in info.value.hint  # tells how to write a literal '${'


@pytest.mark.parametrize(
    "text", ["${secret.X:-fallback}", "${db.url:-localhost}", "${run.dir:-/tmp}"]
)
def test_only_env_references_may_have_a_default(text: str) -> None:
    with pytest.raises(InterpolationError, match=r"only \$\{env\.NAME:-default\}"):
        parse(text)


@pytest.mark.parametrize("text", ["${db.url", "x ${", "${db.url} and ${cache.url", "${"])
def test_parse_rejects_unterminated_references(text: str) -> None:
    with pytest.raises(InterpolationError, match="unterminated reference") as info:
        parse(text)
    assert repr(text) in str(info.value)
    assert info.value.hint is not None
    assert "'}'" in info.value.hint


def test_interpolation_error_is_a_value_error() -> None:
    # Callers (and pydantic) treat it as a ValueError.
    assert issubclass(InterpolationError, ValueError)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(alphabet="${}.:-_ aZ1\n", max_size=30))
def test_parse_raises_only_interpolation_error(text: str) -> None:
    try:
        refs = parse(text)
    except InterpolationError as exc:
        assert str(exc)
        return
    # Whatever parses can be rendered; an identity lookup reproduces the text with
    # every $${ escape turned into a literal ${.
    assert render(text, lambda ref: ref.text) == text.replace("$${", "${")
    for ref in refs:
        assert ref.text in text


# ---------------------------------------------------------------------------------- check


def _one(text: str) -> Reference:
    (ref,) = parse(text)
    return ref


@pytest.mark.parametrize(
    ("text", "in_service"),
    [
        ("${db.url}", None),
        ("${db.host}", "orders"),
        ("${payments-provider.port}", "orders"),
        ("${self.port}", "orders"),
        ("${self.url}", "db"),
        ("${secret.ANYTHING}", None),
        ("${env.ANYTHING}", None),
        ("${env.X:-y}", "db"),
        ("${run.dir}", None),
        ("${run.id}", "db"),
    ],
)
def test_check_accepts_resolvable_references(text: str, in_service: str | None) -> None:
    check(_one(text), SERVICES, in_service=in_service)


def test_check_rejects_unknown_service_and_lists_the_known_ones() -> None:
    with pytest.raises(InterpolationError, match="unknown service 'dbx'") as info:
        check(_one("${dbx.url}"), SERVICES, in_service=None)
    assert "${dbx.url}" in str(info.value)
    assert info.value.hint == "services in this blueprint: cache, db, payments-provider"


def test_check_unknown_service_in_a_blueprint_without_services() -> None:
    with pytest.raises(InterpolationError) as info:
        check(_one("${db.url}"), set(), in_service=None)
    assert info.value.hint is not None
    assert "(none)" in info.value.hint


@pytest.mark.parametrize("text", ["${db.password}", "${self.user}", "${cache.URL}"])
def test_check_rejects_unknown_service_attribute(text: str) -> None:
    with pytest.raises(InterpolationError, match="unknown service attribute") as info:
        check(_one(text), SERVICES, in_service="db")
    assert info.value.hint == "valid: host, port, url"


def test_check_rejects_self_outside_a_service() -> None:
    with pytest.raises(
        InterpolationError, match="'self' only means something inside a service"
    ) as info:
        check(_one("${self.port}"), SERVICES, in_service=None)
    assert info.value.hint is not None
    assert "name the service instead" in info.value.hint


@pytest.mark.parametrize("text", ["${run.directory}", "${run.host}", "${run.ID}"])
def test_check_rejects_unknown_run_attribute(text: str) -> None:
    with pytest.raises(InterpolationError, match="unknown run attribute") as info:
        check(_one(text), SERVICES, in_service=None)
    assert info.value.hint == "valid: run.dir, run.id"


def test_suite_is_not_a_reference_namespace() -> None:
    # 'suite' is reserved as a link source, not something a string can point at.
    with pytest.raises(InterpolationError, match="unknown service 'suite'"):
        check(_one("${suite.host}"), SERVICES, in_service=None)


# --------------------------------------------------------------------------------- render


ADDRESSES = {
    ("db", "url"): "postgresql://app@127.0.0.1:5432/orders",
    ("db", "host"): "127.0.0.1",
    ("self", "port"): "8000",
    ("secret", "DB_PASSWORD"): "s3cr3t",
    ("run", "dir"): "/runs/42",
}


def _lookup(ref: Reference) -> str:
    if ref.namespace == "env":
        return ref.default if ref.default is not None else "<unset>"
    return ADDRESSES[(ref.namespace, ref.name)]


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("${db.url}", "postgresql://app@127.0.0.1:5432/orders"),
        ("python app.py --port ${self.port}", "python app.py --port 8000"),
        ("http://${db.host}:${self.port}/", "http://127.0.0.1:8000/"),
        ("--junitxml=${run.dir}/contract.xml", "--junitxml=/runs/42/contract.xml"),
        ("${env.LEVEL:-info}", "info"),
        ("no references", "no references"),
        ("echo $${HOME}", "echo ${HOME}"),
        ("$${db.url} is ${db.host}", "${db.url} is 127.0.0.1"),
    ],
)
def test_render(text: str, rendered: str) -> None:
    assert render(text, _lookup) == rendered


def test_render_passes_the_parsed_reference_to_lookup() -> None:
    seen: list[Reference] = []

    def lookup(ref: Reference) -> str:
        seen.append(ref)
        return "x"

    render("${env.A:-1} ${ db.url }", lookup)
    assert seen == [
        Reference("env", "A", "1", "${env.A:-1}"),
        Reference("db", "url", None, "${ db.url }"),
    ]


def test_render_does_not_expand_references_inside_substituted_values() -> None:
    # A secret whose value happens to contain '${…}' must come through verbatim.
    assert render("${secret.DB_PASSWORD}", lambda ref: "p${db.url}w") == "p${db.url}w"
    assert render("${secret.X}", lambda ref: "$${") == "$${"
