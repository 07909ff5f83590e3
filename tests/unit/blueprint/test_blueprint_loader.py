"""Loading blueprints: the reference blueprint, and every way a blueprint can be wrong.

Each error case checks what a user sees: the error type, the exact file:line:column and
key path, and a message (and hint) that says what to fix.
"""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest

from orchestrator.blueprint.loader import LoadedBlueprint, load, loads
from orchestrator.blueprint.model import Engine, Tier
from orchestrator.exceptions import BlueprintError, BlueprintErrors, ExitCode

REPO = Path(__file__).resolve().parents[3]
CHECKOUT = REPO / "blueprints" / "checkout.yaml"
FILE = "bp.yaml"


def bp(text: str) -> str:
    return textwrap.dedent(text)


def error_of(text: str, file: str = FILE) -> BlueprintError:
    with pytest.raises(BlueprintError) as info:
        loads(bp(text), file)
    return info.value


def assert_at(
    err: BlueprintError, line: int, column: int, key_path: str, *, file: str = FILE
) -> None:
    loc = err.location
    assert (loc.file, loc.line, loc.column, loc.key_path) == (file, line, column, key_path), (
        err.render()
    )


# A valid two-service blueprint most cases start from (line numbers on the right):
MINIMAL = """\
apiVersion: envctl/v1
kind: Blueprint
metadata:
  name: demo
services:
  db:
    image: postgres:15
    engine: postgres
  api:
    image: api:1
    depends_on: [db]
"""


# ------------------------------------------------------------------- the reference blueprint


@pytest.fixture(scope="module")
def checkout() -> LoadedBlueprint:
    return load(CHECKOUT)


def test_reference_blueprint_loads(checkout: LoadedBlueprint) -> None:
    model = checkout.model
    assert checkout.name == "checkout"
    assert model.api_version == "envctl/v1"
    assert model.metadata.owner == "payments-team"
    assert model.metadata.tier is Tier.critical
    assert list(model.services) == ["db", "cache", "payments-provider", "orders"]


def test_reference_blueprint_services(checkout: LoadedBlueprint) -> None:
    db, cache, orders = (checkout.service(n) for n in ("db", "cache", "orders"))
    assert orders.depends_on == ["db", "cache", "payments-provider"]
    assert db.depends_on == []
    assert db.declared_version == "15"
    assert cache.declared_version == "7.0"
    assert db.engine is Engine.postgres
    assert cache.engine is Engine.redis
    assert checkout.service("payments-provider").engine is None
    assert db.ports == [5432]
    assert db.resources.cpu == 1.0
    assert db.resources.memory == 2**30
    assert orders.ready is not None
    assert orders.ready.http == "/healthz"
    assert orders.ready.timeout == 30.0
    assert orders.env["PAYMENTS_URL"] == (
        "http://${payments-provider.host}:${payments-provider.port}"
    )


def test_reference_blueprint_suites_data_and_lifetime(checkout: LoadedBlueprint) -> None:
    model = checkout.model
    (suite,) = model.suites
    assert suite.name == "contract"
    assert suite.tier is Tier.critical
    assert suite.timeout == 300.0
    assert suite.junit == "${run.dir}/contract.xml"
    assert model.ttl == 7200.0
    assert model.budget is not None
    assert model.budget.per_run_usd == 0.05
    db, cache = model.data
    assert (db.service, db.schema_, db.seed) == ("db", "checkout/schema.sql", 42)
    assert {name: t.rows for name, t in db.tables.items()} == {
        "customers": 10_000,
        "products": 500,
        "orders": 100_000,
        "order_items": 200_000,
    }
    assert db.tables["orders"].columns["customer_id"].ref == "customers.id"
    assert (cache.service, cache.keyspaces[0].count) == ("cache", 20_000)
    assert model.secrets["DB_PASSWORD"].generate is True
    assert model.secrets["DB_PASSWORD"].length == 24


def test_reference_blueprint_knows_where_it_came_from(checkout: LoadedBlueprint) -> None:
    assert checkout.path == CHECKOUT
    assert checkout.directory == CHECKOUT.parent
    loc = checkout.service_location("orders")
    text = CHECKOUT.read_text(encoding="utf-8").splitlines()
    assert text[loc.line - 1].strip() == "orders:"
    assert loc.column == 3
    assert loc.file == str(CHECKOUT)


def test_model_is_immutable(checkout: LoadedBlueprint) -> None:
    with pytest.raises(ValueError, match="frozen"):
        checkout.model.ttl = 1.0  # type: ignore[misc]


def test_defaults_of_a_minimal_blueprint() -> None:
    loaded = loads(MINIMAL, FILE)
    model = loaded.model
    assert model.ttl == 7200.0
    assert model.metadata.tier is Tier.standard
    assert model.links == []
    assert model.suites == []
    assert model.budget is None
    assert loaded.service("api").declared_version == "1"


def test_env_scalars_become_text() -> None:
    # YAML reads `PORT: 8000` as int and `DEBUG: true` as bool; env values are strings.
    loaded = loads(
        bp("""\
        apiVersion: envctl/v1
        kind: Blueprint
        metadata: {name: demo}
        services:
          api:
            env: {PORT: 8000, DEBUG: true, OFF: false, RATIO: 0.5, NAME: x}
        """),
        FILE,
    )
    assert loaded.service("api").env == {
        "PORT": "8000",
        "DEBUG": "true",
        "OFF": "false",
        "RATIO": "0.5",
        "NAME": "x",
    }


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("postgres:15.4", "15.4"),
        ("postgres", None),
        ("registry.local:5000/team/orders", None),
        ("registry.local:5000/team/orders:1.2", "1.2"),
        ("orders:1.2@sha256:abc", "1.2"),
    ],
)
def test_declared_version_is_the_image_tag(image: str, version: str | None) -> None:
    loaded = loads(MINIMAL.replace("image: api:1", f"image: '{image}'"), FILE)
    assert loaded.service("api").declared_version == version


# ------------------------------------------------------------------------- shape errors


def test_unknown_key_suggests_the_closest_one() -> None:
    err = error_of("""\
        apiVersion: envctl/v1
        kind: Blueprint
        metadata:
          name: demo
        services:
          db:
            imgae: postgres:15
        """)
    assert type(err) is BlueprintError
    assert_at(err, 7, 5, "services.db.imgae")
    assert err.message == "unknown key 'imgae'"
    assert err.hint == "did you mean 'image'?"
    assert err.exit_code is ExitCode.USAGE


def test_unknown_key_in_a_list_item_suggests_the_alias() -> None:
    err = error_of(MINIMAL + "data:\n  - service: db\n    shema: schema.sql\n")
    assert_at(err, 14, 5, "data[0].shema")
    assert err.hint == "did you mean 'schema'?"


def test_unknown_key_without_a_close_match_lists_valid_keys() -> None:
    err = error_of(MINIMAL + "zzzzzz: 1\n")
    assert_at(err, 12, 1, "zzzzzz")
    assert err.hint is not None
    assert err.hint.startswith(
        "valid keys here: apiVersion, budget, data, egress, intentional, kind"
    )


def test_missing_required_key() -> None:
    err = error_of("""\
        apiVersion: envctl/v1
        kind: Blueprint
        metadata:
          owner: payments
        services:
          db: {engine: postgres}
        """)
    assert type(err) is BlueprintError
    # Reported at the key of the mapping that lacks it.
    assert_at(err, 3, 1, "metadata.name")
    assert err.message == "missing required key 'name'"


def test_missing_services() -> None:
    err = error_of("apiVersion: envctl/v1\nkind: Blueprint\nmetadata: {name: demo}\n")
    assert_at(err, 1, 1, "services")
    assert err.message == "missing required key 'services'"


def test_wrong_api_version_has_a_hint() -> None:
    err = error_of(MINIMAL.replace("envctl/v1", "envctl/v2"))
    assert_at(err, 1, 1, "apiVersion")
    assert "envctl/v1" in err.message
    assert err.hint == "use 'apiVersion: envctl/v1'"


@pytest.mark.parametrize("name", ["Api", "api_1", "-api", "api-", "a" * 64])
def test_bad_service_name(name: str) -> None:
    err = error_of(MINIMAL.replace("  api:", f"  {name}:"))
    assert type(err) is BlueprintError
    assert_at(err, 9, 3, f"services.{name}")
    assert err.message == f"invalid name {name!r}"
    assert err.hint == (
        "names are lowercase letters, digits and '-', starting with a letter or digit"
    )


def test_bad_blueprint_name_points_at_the_value() -> None:
    err = error_of(MINIMAL.replace("name: demo", "name: Demo"))
    assert_at(err, 4, 3, "metadata.name")
    assert err.hint is not None
    assert "lowercase" in err.hint


def test_service_with_a_bad_port() -> None:
    err = error_of(MINIMAL.replace("    depends_on: [db]\n", "    ports: [8000, 70000]\n"))
    assert_at(err, 11, 19, "services.api.ports[1]")
    assert "65535" in err.message


def test_two_readiness_probes() -> None:
    err = error_of(MINIMAL.replace("    depends_on: [db]\n", "    ready: {tcp: true, http: /h}\n"))
    assert_at(err, 11, 5, "services.api.ready")
    assert err.message == "choose one readiness probe, not tcp and http"


def test_bad_duration() -> None:
    err = error_of(MINIMAL + "ttl: 15 minutes\n")
    assert type(err) is BlueprintError
    assert_at(err, 12, 1, "ttl")  # positions point at the key
    assert "invalid duration '15 minutes'" in err.message
    assert "'1h30m'" in err.message


def test_bad_duration_nested() -> None:
    err = error_of(MINIMAL + "suites:\n  - name: a\n    run: x\n    timeout: soon\n")
    assert_at(err, 15, 5, "suites[0].timeout")
    assert "invalid duration 'soon'" in err.message


def test_bad_size_and_cpu() -> None:
    err = error_of(
        MINIMAL.replace("    depends_on: [db]\n", "    resources: {cpu: 0m, memory: 1Xi}\n")
    )
    assert isinstance(err, BlueprintErrors)
    assert [(e.location.key_path, e.location.line) for e in err.errors] == [
        ("services.api.resources.cpu", 11),
        ("services.api.resources.memory", 11),
    ]
    assert "must be positive, got '0m'" in err.errors[0].message
    assert "invalid size '1Xi'" in err.errors[1].message


# ------------------------------------------------------------------------ reference rules


def test_reserved_service_name() -> None:
    err = error_of(MINIMAL.replace("  api:", "  suite:"))
    assert type(err) is BlueprintError
    assert_at(err, 9, 3, "services.suite")
    assert err.message == "'suite' is reserved and cannot name a service"
    assert err.hint == ("reserved: env, envctl-proxy, envctl-watchdog, run, secret, self, suite")


@pytest.mark.parametrize("name", ["self", "secret", "env", "run", "envctl-proxy"])
def test_other_reserved_service_names(name: str) -> None:
    err = error_of(MINIMAL.replace("  api:", f"  {name}:"))
    assert err.message == f"{name!r} is reserved and cannot name a service"


def test_unknown_depends_on() -> None:
    err = error_of(MINIMAL.replace("[db]", "[db, queue]"))
    assert type(err) is BlueprintError
    assert_at(err, 11, 22, "services.api.depends_on[1]")
    assert err.message == "unknown service 'queue' in depends_on"
    assert err.hint == "services in this blueprint: api, db"


def test_dependency_cycle_shows_the_cycle() -> None:
    err = error_of("""\
        apiVersion: envctl/v1
        kind: Blueprint
        metadata: {name: demo}
        services:
          a:
            depends_on: [b]
          b:
            depends_on: [c]
          c:
            depends_on: [a]
        """)
    assert type(err) is BlueprintError
    assert err.message.startswith("dependency cycle: ")
    cycle = err.message.removeprefix("dependency cycle: ").split(" -> ")
    # A closed walk over exactly a, b, c, following depends_on edges.
    assert cycle[0] == cycle[-1]
    assert sorted(cycle[:-1]) == ["a", "b", "c"]
    edges = {"a": "b", "b": "c", "c": "a"}
    for here, there in itertools.pairwise(cycle):
        assert edges[here] == there or edges[there] == here
    # Located at the depends_on of the service the cycle is reported from.
    line = {"a": 6, "b": 8, "c": 10}[cycle[0]]
    assert_at(err, line, 5, f"services.{cycle[0]}.depends_on")
    assert err.hint == "remove one of these depends_on entries"


def test_two_service_cycle() -> None:
    err = error_of(
        MINIMAL.replace("    engine: postgres\n", "    engine: postgres\n    depends_on: [api]\n")
    )
    assert err.message in (
        "dependency cycle: db -> api -> db",
        "dependency cycle: api -> db -> api",
    )


def test_self_dependency() -> None:
    err = error_of(MINIMAL.replace("[db]", "[api]"))
    # Reported once as a self-dependency, not additionally as a cycle.
    assert type(err) is BlueprintError
    assert_at(err, 11, 18, "services.api.depends_on[0]")
    assert err.message == "a service cannot depend on itself"


def test_link_to_unknown_service() -> None:
    err = error_of(MINIMAL + "links:\n  - from: api\n    to: nowhere\n")
    assert type(err) is BlueprintError
    assert_at(err, 14, 5, "links[0].to")
    assert err.message == "unknown service 'nowhere'"
    assert err.hint == "services: api, db"


def test_link_from_unknown_service_mentions_suite() -> None:
    err = error_of(MINIMAL + "links:\n  - from: ghost\n    to: api\n")
    assert_at(err, 13, 5, "links[0].from")
    assert err.message == "unknown service 'ghost'"
    assert err.hint is not None
    assert "'suite'" in err.hint


def test_link_from_suite_is_allowed() -> None:
    loaded = loads(
        MINIMAL + "links:\n  - from: suite\n    to: api\n    latency: {mean: 50ms}\n", FILE
    )
    (link,) = loaded.model.links
    assert (link.from_, link.to) == ("suite", "api")
    assert link.latency is not None
    assert link.latency.mean == pytest.approx(0.05)


def test_link_to_itself() -> None:
    err = error_of(MINIMAL + "links:\n  - from: api\n    to: api\n")
    assert_at(err, 13, 5, "links[0]")
    assert err.message == "a link must join two different services"


def test_data_on_unknown_service() -> None:
    err = error_of(MINIMAL + "data:\n  - service: ghost\n")
    assert type(err) is BlueprintError
    assert_at(err, 13, 5, "data[0].service")
    assert err.message == "unknown service 'ghost'"
    assert err.hint == "services: api, db"


def test_data_on_a_service_without_engine() -> None:
    err = error_of(MINIMAL + "data:\n  - service: api\n")
    assert_at(err, 13, 5, "data[0].service")
    assert err.message == "service 'api' has no engine to seed"
    assert err.hint is not None
    assert "engine: postgres" in err.hint


def test_duplicate_suite_names() -> None:
    err = error_of(
        MINIMAL
        + bp("""\
        suites:
          - name: contract
            run: pytest
          - name: smoke
            run: pytest -k smoke
          - name: contract
            run: pytest -x
        """)
    )
    assert type(err) is BlueprintError
    assert_at(err, 17, 5, "suites[2].name")
    assert err.message == "duplicate suite name 'contract' (also suites[0])"


def test_bad_interpolation_reference() -> None:
    err = error_of(MINIMAL + "    env:\n      URL: '${dbx.url}'\n")
    assert type(err) is BlueprintError
    assert_at(err, 13, 7, "services.api.env.URL")
    assert err.message == "'${dbx.url}': unknown service 'dbx'"
    assert err.hint == "services in this blueprint: api, db"


def test_self_reference_in_a_suite() -> None:
    err = error_of(MINIMAL + "suites:\n  - name: a\n    run: 'curl ${self.url}'\n")
    assert_at(err, 14, 5, "suites[0].run")
    assert "'self' only means something inside a service" in err.message


def test_malformed_interpolation_in_local_command() -> None:
    err = error_of(MINIMAL + "    local:\n      command: 'run --port ${self.port'\n")
    assert_at(err, 13, 7, "services.api.local.command")
    assert "unterminated reference" in err.message


# ------------------------------------------------------------------------- schema files


def _write(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> Path:
    for name, content in (files or {}).items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    path = tmp_path / "blueprint.yaml"
    path.write_text(bp(text), encoding="utf-8")
    return path


WITH_SCHEMA = MINIMAL + "data:\n  - service: db\n    schema: sql/schema.sql\n"


def test_schema_file_relative_to_the_blueprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, WITH_SCHEMA, {"sql/schema.sql": "CREATE TABLE t (id int);\n"})
    monkeypatch.chdir(REPO)  # the working directory must not matter
    loaded = load(path)
    assert loaded.directory == tmp_path
    assert loaded.model.data[0].schema_ == "sql/schema.sql"


def test_schema_file_missing(tmp_path: Path) -> None:
    path = _write(tmp_path, WITH_SCHEMA)
    with pytest.raises(BlueprintError) as info:
        load(path)
    err = info.value
    assert type(err) is BlueprintError
    assert_at(err, 14, 5, "data[0].schema", file=str(path))
    assert err.message == "schema file 'sql/schema.sql' not found"
    assert err.hint is not None
    assert str(tmp_path) in err.hint


def test_schema_on_a_redis_service(tmp_path: Path) -> None:
    text = WITH_SCHEMA.replace("engine: postgres", "engine: redis")
    path = _write(tmp_path, text, {"sql/schema.sql": "CREATE TABLE t (id int);\n"})
    with pytest.raises(BlueprintError) as info:
        load(path)
    err = info.value
    assert type(err) is BlueprintError
    assert_at(err, 14, 5, "data[0].schema", file=str(path))
    assert err.message == "`schema` is for SQL: it needs `engine: postgres`"


@pytest.mark.parametrize("schema", ["s" * 300 + ".sql", "a/" * 3000 + "x.sql", "a\\0b.sql"])
def test_unusable_schema_path_is_a_blueprint_error(tmp_path: Path, schema: str) -> None:
    # Too long for the OS, or with a NUL byte: still "not found", never an OSError.
    path = _write(tmp_path, WITH_SCHEMA.replace("schema: sql/schema.sql", f'schema: "{schema}"'))
    with pytest.raises(BlueprintError) as info:
        load(path)
    assert_at(info.value, 14, 5, "data[0].schema", file=str(path))
    assert info.value.message.startswith("schema file ")
    assert info.value.message.endswith(" not found")


# ------------------------------------------------------------------------- YAML problems


def test_duplicate_yaml_key() -> None:
    err = error_of("""\
        apiVersion: envctl/v1
        kind: Blueprint
        metadata:
          name: demo
        services:
          db:
            engine: postgres
            image: postgres:15
            engine: redis
        """)
    assert type(err) is BlueprintError
    assert_at(err, 9, 5, "services.db.engine")
    assert err.message == "duplicate key 'engine' (first defined on line 7)"
    assert err.hint is not None
    assert "silently keep only the last" in err.hint


def test_duplicate_top_level_key() -> None:
    err = error_of(MINIMAL + "kind: Blueprint\n")
    assert_at(err, 12, 1, "kind")
    assert err.message == "duplicate key 'kind' (first defined on line 2)"


def test_duplicate_service_is_not_silently_merged() -> None:
    err = error_of(MINIMAL + "  db:\n    image: postgres:16\n")
    assert_at(err, 12, 3, "services.db")
    assert err.message == "duplicate key 'db' (first defined on line 6)"


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(text: str) -> None:
    err = error_of(text)
    assert type(err) is BlueprintError
    assert_at(err, 1, 1, "(document)")
    assert err.message == "the blueprint is empty"
    assert err.hint is not None


@pytest.mark.parametrize(
    "text", ["- apiVersion: envctl/v1\n- kind: Blueprint\n", "checkout\n", "42\n"]
)
def test_top_level_must_be_a_mapping(text: str) -> None:
    err = error_of(text)
    assert type(err) is BlueprintError
    assert_at(err, 1, 1, "(document)")
    assert err.message == "a blueprint must be a mapping"
    assert err.hint == "start with 'apiVersion: envctl/v1'"


def test_invalid_yaml_reports_the_line_of_the_problem() -> None:
    err = error_of("""\
        apiVersion: envctl/v1
        kind: Blueprint
        metadata:
          name: demo
        services:
          db:
            image: postgres:15
           engine: postgres
        """)
    assert type(err) is BlueprintError
    assert_at(err, 8, 4, "(document)")
    assert err.message.startswith("invalid YAML: ")
    assert err.hint == "check indentation and quoting around this line"


def test_invalid_yaml_tab_indentation() -> None:
    err = error_of(MINIMAL + "\tttl: 2h\n")
    assert_at(err, 12, 1, "(document)")
    assert "'\\t'" in err.message


def test_invalid_yaml_unclosed_flow_sequence() -> None:
    err = error_of(MINIMAL.replace("[db]", "[db"))
    assert err.location.line == 12  # where the parser gave up: end of input
    assert err.message.startswith("invalid YAML: ")


def test_more_than_one_document() -> None:
    err = error_of(MINIMAL + "---\nkind: Blueprint\n")
    assert_at(err, 12, 1, "(document)")
    assert "another document" in err.message


def test_unknown_yaml_tag_is_located() -> None:
    err = error_of(MINIMAL + "ttl: !!python/object:os.system x\n")
    assert_at(err, 12, 1, "ttl")
    assert err.message.startswith("cannot read value ")
    assert "python/object" in err.message


def test_complex_mapping_key() -> None:
    err = error_of(MINIMAL + "? [a, b]\n: 1\n")
    assert_at(err, 12, 3, "(document)")
    assert err.message == "mapping keys must be plain text"


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\ufffe"])
def test_control_character_reports_its_line_and_column(char: str) -> None:
    err = error_of(MINIMAL + f"ttl: 2h{char}\n")
    assert type(err) is BlueprintError
    assert_at(err, 12, 8, "(document)")
    assert err.hint is not None
    assert "control characters" in err.hint


def test_control_character_is_named_readably() -> None:
    err = error_of(MINIMAL + "ttl: 2h\x00\n")
    assert "\\x00" in err.message or "U+0000" in err.message, err.message


def test_control_character_line_in_a_cr_only_file() -> None:
    err = error_of(MINIMAL.replace("\n", "\r") + "ttl: 2h\x00\r")
    assert (err.location.line, err.location.column) == (12, 8)


@pytest.mark.parametrize(
    "value",
    [
        "2024-13-45",  # no tag: YAML reads it as a date, and datetime.date() fails
        "2024-01-01 25:00:00",
        "!!int abc",
        "!!int",
        "!!float abc",
        "!!bool maybe",
        "!!timestamp soon",
        "0x_",
    ],
)
def test_unconstructible_scalar_is_a_located_blueprint_error(value: str) -> None:
    err = error_of(MINIMAL + f"ttl: {value}\n")
    assert type(err) is BlueprintError
    assert_at(err, 12, 1, "ttl")
    assert err.message.startswith("cannot read value ")


def test_impossible_date_in_a_label_is_located() -> None:
    err = error_of(MINIMAL.replace("  name: demo", "  name: demo\n  labels: {release: 2024-02-30}"))
    assert_at(err, 5, 12, "metadata.labels.release")
    assert "'2024-02-30'" in err.message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9" * 400, "too large"),
        ("9" * 400 + "s", "finite"),
        (".nan", "finite"),
        (".inf", "finite"),
        ("-1", "cannot be negative"),
    ],
)
def test_out_of_range_duration_is_located(value: str, message: str) -> None:
    err = error_of(MINIMAL + f"ttl: {value}\n")
    assert type(err) is BlueprintError
    assert_at(err, 12, 1, "ttl")
    assert message in err.message


def test_non_finite_cpu_message_keeps_its_capitals() -> None:
    err = error_of(MINIMAL.replace("    depends_on: [db]\n", "    resources: {cpu: .nan}\n"))
    assert_at(err, 11, 17, "services.api.resources.cpu")
    assert "cPU" not in err.message, err.message


# ------------------------------------------------------------------- anchors and aliases


def test_alias_that_refers_to_itself() -> None:
    err = error_of("apiVersion: envctl/v1\nloop: &x [1, *x]\n")
    assert type(err) is BlueprintError
    assert_at(err, 2, 7, "loop[1]")  # column of the anchored node
    assert err.message == "an alias refers to itself"


def test_nested_alias_cycle_terminates() -> None:
    err = error_of("a: &x\n  b:\n    - c: *x\n")
    assert err.message == "an alias refers to itself"
    assert err.location.key_path == "a.b[0].c"


def test_aliases_can_be_reused() -> None:
    loaded = loads(MINIMAL.replace("[db]", "&deps [db]") + "  web:\n    depends_on: *deps\n", FILE)
    assert loaded.service("web").depends_on == ["db"]


def test_merge_keys_work() -> None:
    loaded = loads(
        bp("""\
        apiVersion: envctl/v1
        kind: Blueprint
        metadata: {name: demo}
        services:
          api:
            <<: &app {image: 'app:1', ports: [8000]}
            env: {ROLE: api}
          worker:
            <<: *app
            env: {ROLE: worker}
        """),
        FILE,
    )
    api, worker = loaded.service("api"), loaded.service("worker")
    assert (api.image, api.ports, api.env) == ("app:1", [8000], {"ROLE": "api"})
    assert (worker.image, worker.ports, worker.env) == ("app:1", [8000], {"ROLE": "worker"})


def test_merge_of_a_list_of_mappings() -> None:
    loaded = loads(MINIMAL + "  web:\n    <<: [{image: 'web:2'}, {ports: [80]}]\n", FILE)
    assert (loaded.service("web").image, loaded.service("web").ports) == ("web:2", [80])


def test_bad_merge_value() -> None:
    err = error_of(MINIMAL + "  web:\n    <<: 3\n")
    assert_at(err, 12, 3, "services.web")
    assert err.message.startswith("bad merge key: ")


def test_merge_keys_can_be_overridden() -> None:
    loaded = loads(
        bp("""\
        apiVersion: envctl/v1
        kind: Blueprint
        metadata: {name: demo}
        services:
          api:
            <<: &app {image: 'app:1', ports: [8000]}
          worker:
            <<: *app
            image: 'app:2'
        """),
        FILE,
    )
    assert loaded.service("worker").image == "app:2"
    assert loaded.service("worker").ports == [8000]


def test_first_merge_source_wins() -> None:
    # "Keys in mapping nodes earlier in the sequence override keys specified in later
    # mapping nodes" (YAML merge key spec); yaml.safe_load gives image 'a:1'.
    loaded = loads(MINIMAL + "  web:\n    <<: [{image: 'a:1'}, {image: 'b:1', ports: [2]}]\n", FILE)
    assert (loaded.service("web").image, loaded.service("web").ports) == ("a:1", [2])


def test_own_key_before_the_merge_also_overrides() -> None:
    loaded = loads(MINIMAL + "  web:\n    image: 'own:1'\n    <<: {image: 'merged:1'}\n", FILE)
    assert loaded.service("web").image == "own:1"


def test_duplicate_own_keys_next_to_a_merge_are_still_reported() -> None:
    err = error_of(MINIMAL + "  web:\n    <<: {image: 'a:1'}\n    image: 'b:1'\n    image: 'c:1'\n")
    assert_at(err, 15, 5, "services.web.image")
    assert err.message == "duplicate key 'image' (first defined on line 14)"


def test_mapping_with_merge_and_override_can_be_reused_by_alias() -> None:
    loaded = loads(
        bp("""\
        apiVersion: envctl/v1
        kind: Blueprint
        metadata: {name: demo}
        services:
          api: &api
            <<: {image: 'app:1', ports: [8000]}
            image: 'app:2'
          web: *api
        """),
        FILE,
    )
    assert loaded.service("web").image == "app:2"
    assert loaded.service("web").ports == [8000]


# ------------------------------------------------------------------------- files on disk


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(BlueprintError) as info:
        load(path)
    err = info.value
    assert type(err) is BlueprintError
    assert (err.location.file, err.location.line, err.location.column) == (str(path), 0, 0)
    assert err.message == "blueprint file not found"
    assert err.hint == "check the path"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError, match="cannot read blueprint") as info:
        load(tmp_path)
    assert info.value.location.file == str(tmp_path)


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(MINIMAL.replace("demo", "d\xe9mo").encode("latin-1"))
    with pytest.raises(BlueprintError, match="cannot read blueprint") as info:
        load(path)
    assert info.value.location.file == str(path)


def test_load_reports_the_path_it_was_given(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL + "ttl: nope\n")
    with pytest.raises(BlueprintError) as info:
        load(str(path))
    assert info.value.render().startswith(f"{path}:12:1: ttl: invalid duration 'nope'")


def test_loads_default_file_name() -> None:
    with pytest.raises(BlueprintError) as info:
        loads("[]")
    assert info.value.location.file == "<blueprint>"


# ------------------------------------------------------------------ many problems at once


def test_reference_problems_are_reported_together_sorted_by_line() -> None:
    err = error_of("""\
        apiVersion: envctl/v1
        kind: Blueprint
        metadata: {name: demo}
        suites:
          - name: a
            run: x
          - name: a
            run: 'echo ${nope.url}'
        services:
          api:
            depends_on: [ghost]
        links:
          - {from: api, to: nowhere}
        """)
    assert isinstance(err, BlueprintErrors)
    assert [(e.location.line, e.location.key_path) for e in err.errors] == [
        (7, "suites[1].name"),
        (8, "suites[1].run"),
        (11, "services.api.depends_on[0]"),
        (13, "links[0].to"),
    ]
    # The aggregate presents as its first problem and renders all of them.
    assert err.location == err.errors[0].location
    rendered = err.render().splitlines()
    assert rendered[0].startswith("bp.yaml:7:5: suites[1].name: duplicate suite name 'a'")
    assert sum(line.startswith("bp.yaml:") for line in rendered) == 4
    listed = err.as_dict()["errors"]
    assert isinstance(listed, list)
    assert [e["line"] for e in listed] == [7, 8, 11, 13]


def test_shape_problems_are_reported_together_sorted_by_line() -> None:
    err = error_of("""\
        ttl: forever
        apiVersion: envctl/v1
        kind: Blueprint
        metadata: {name: demo}
        services:
          api:
            imgae: api:1
            ports: [0]
        """)
    assert isinstance(err, BlueprintErrors)
    assert [(e.location.line, e.location.key_path) for e in err.errors] == [
        (1, "ttl"),
        (7, "services.api.imgae"),
        (8, "services.api.ports[0]"),
    ]
    assert err.errors[1].hint == "did you mean 'image'?"


def test_error_as_dict_for_machine_readable_output() -> None:
    err = error_of(MINIMAL.replace("[db]", "[db, queue]"))
    assert err.as_dict() == {
        "type": "BlueprintError",
        "message": "unknown service 'queue' in depends_on",
        "hint": "services in this blueprint: api, db",
        "file": FILE,
        "line": 11,
        "column": 22,
        "key_path": "services.api.depends_on[1]",
    }


@pytest.mark.parametrize(
    ("text", "key_path", "hint"),
    [
        (MINIMAL + "links:\n  - from_: api\n    to: db\n", "links[0].from_", "'from'"),
        (MINIMAL + "data:\n  - service: db\n    schema_: x.sql\n", "data[0].schema_", "'schema'"),
        (MINIMAL.replace("apiVersion:", "api_version:"), "api_version", "'apiVersion'"),
    ],
)
def test_python_field_names_are_not_blueprint_keys(text: str, key_path: str, hint: str) -> None:
    # Only the names the JSON Schema documents are keys; from_/schema_ are Python's.
    err = error_of(text)
    problems = err.errors if isinstance(err, BlueprintErrors) else [err]
    unknown = [e for e in problems if e.location.key_path == key_path]
    assert len(unknown) == 1
    assert unknown[0].message.startswith("unknown key ")
    assert unknown[0].hint == f"did you mean {hint}?"
