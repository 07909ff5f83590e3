"""Fuzzing the loader: whatever the input, a user gets a located ``BlueprintError``.

The loader promises that nothing but ``BlueprintError`` (or ``BlueprintErrors``) leaves
``loads()``; anything else is a bug that would show the user a traceback. Inputs are
mutations of the reference blueprint, at the text level (broken YAML) and at the structure
level (valid YAML, wrong values), so that they get past the parser into validation.

The generators reach the bugs fixed so far: PyYAML constructor errors (`!!int abc`,
impossible dates), schema paths too long for the OS, non-finite and huge numbers.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from orchestrator.blueprint.loader import LoadedBlueprint, loads
from orchestrator.exceptions import BlueprintError, BlueprintErrors

REPO = Path(__file__).resolve().parents[3]
REFERENCE = REPO / "blueprints" / "checkout.yaml"
# The reference names checkout/schema.sql relative to its own directory, so the file
# name given to loads() is the real path: unmutated, the schema file resolves.
FILE = str(REFERENCE)
TEXT = REFERENCE.read_text(encoding="utf-8")
DATA: dict[str, Any] = yaml.safe_load(TEXT)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,  # nothing written outside the test tree
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


def assert_loader_contract(text: str, file: str = FILE) -> None:
    """``loads`` returns a blueprint or raises a located BlueprintError; nothing else."""
    try:
        loaded = loads(text, file)
    except BlueprintError as exc:
        _event(f"rejected: {type(exc).__name__}")
        assert_located(exc, file)
    else:
        _event("accepted")
        assert isinstance(loaded, LoadedBlueprint)
        assert_cross_field_rules_hold(loaded)


def _event(label: str) -> None:
    # Shown by --hypothesis-show-statistics: how many inputs got past validation.
    if currently_in_test_context():
        event(label)


def assert_located(exc: BlueprintError, file: str) -> None:
    errors = exc.errors if isinstance(exc, BlueprintErrors) else [exc]
    assert errors
    for err in errors:
        loc = err.location
        assert loc.file == file
        assert loc.line >= 0
        assert loc.column >= 0
        assert isinstance(err.message, str)
        assert err.message
        assert isinstance(loc.key_path, str)
    if isinstance(exc, BlueprintErrors):
        assert len(errors) >= 2
        positions = [(e.location.line, e.location.column) for e in errors]
        assert positions == sorted(positions)
        assert exc.location == errors[0].location
    rendered = exc.render()
    assert file in rendered
    assert "Traceback" not in rendered
    assert rendered.count(f"{file}:") >= len(errors)  # every problem says where


def assert_cross_field_rules_hold(loaded: LoadedBlueprint) -> None:
    """Anything accepted satisfies the rules validate.py enforces."""
    model = loaded.model
    names = set(model.services)
    assert names
    for name, svc in model.services.items():
        assert name not in {"self", "secret", "env", "run", "suite"}
        assert name not in svc.depends_on
        assert set(svc.depends_on) <= names
    for link in model.links:
        assert link.to in names
        assert link.from_ in names | {"suite"}
    for seed in model.data:
        assert seed.service in names
    suite_names = [s.name for s in model.suites]
    assert len(suite_names) == len(set(suite_names))


def test_reference_blueprint_satisfies_the_contract() -> None:
    # The baseline both fuzzers mutate is itself accepted, through both routes.
    assert_loader_contract(TEXT)
    loaded = loads(yaml.safe_dump(DATA, sort_keys=False), FILE)
    assert set(loaded.model.services) == {"db", "cache", "payments-provider", "orders"}


# --------------------------------------------------------------------- text mutations

SPECIAL = [
    ":",
    ": ",
    "-",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "${",
    "$${",
    "}}",
    "\t",
    "\n",
    "\r\n",
    "  ",
    "#",
    "&a ",
    "*a",
    "!",
    "|",
    ">",
    "'",
    '"',
    "\\",
    "\x00",
    "\x07",
    "\ud800",
    "\ufeff",
    "é",
    "☃",
    "\U0001f600",
    "\u2028",
    "\x85",
    "<<: ",
    "? ",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "~",
    "null",
    "true",
    "0x1F",
    "1e400",
    ".nan",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!timestamp ",
    "!!binary ",
    "!!set ",
    "!!omap ",
    "!!str ",
    "!foo ",
    "2024-13-45",
    "0x_",
    "0b_",
    "._",
]
fragments = st.one_of(st.sampled_from(SPECIAL), st.text(max_size=8))


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    text = TEXT
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(st.sampled_from(["delete", "insert", "duplicate", "swap", "truncate"]))
        if kind == "delete":
            start = draw(st.integers(min_value=0, max_value=len(text)))
            end = draw(st.integers(min_value=start, max_value=min(len(text), start + 120)))
            text = text[:start] + text[end:]
        elif kind == "insert":
            at = draw(st.integers(min_value=0, max_value=len(text)))
            text = text[:at] + draw(fragments) + text[at:]
        elif kind == "truncate":
            text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
        else:
            lines = text.splitlines(keepends=True)
            if len(lines) < 2:
                continue
            i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            j = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            if kind == "duplicate":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
    return text


@FUZZ
@given(mutated_text())
def test_text_mutations_fail_only_with_located_blueprint_errors(text: str) -> None:
    assert_loader_contract(text)


@FUZZ
@given(mutated_text(), st.sampled_from(["bp.yaml", "<stdin>", "dir with space/ü.yaml"]))
def test_errors_name_the_file_they_were_given(text: str, file: str) -> None:
    # Here the schema file does not resolve, which is itself a located error.
    assert_loader_contract(text, file)


# ---------------------------------------------------------------- structure mutations


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*path, i))
    return out


PATHS = _paths(DATA)
KEY_PATHS = [p for p in PATHS if p and isinstance(p[-1], str)]

INTERESTING_TEXT = [
    "",
    "${db.url}",
    "${self.port}",
    "${nope.url}",
    "${secret.X:-y}",
    "${",
    "$${",
    "1h30m",
    "500ms",
    "-5s",
    "512Mi",
    "1Xi",
    "500m",
    "0m",
    "postgres",
    "redis",
    "mysql",
    "db",
    "cache",
    "orders",
    "payments-provider",
    "suite",
    "self",
    "critical",
    "envctl/v1",
    "Blueprint",
    "/healthz",
    "healthz",
    "checkout/schema.sql",
    "../../etc/passwd",
    "/",
    "SIGKILL",
]
FIELD_NAMES = [
    "image",
    "engine",
    "ports",
    "env",
    "depends_on",
    "ready",
    "tcp",
    "http",
    "command",
    "timeout",
    "interval",
    "from",
    "to",
    "from_",
    "latency",
    "faults",
    "service",
    "schema",
    "tables",
    "rows",
    "name",
    "run",
    "tier",
    "generate",
    "length",
    "<<",
]
texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(INTERESTING_TEXT),
    # Long enough to exceed a file name limit when it lands in `schema:` or `cwd:`.
    st.builds(
        lambda c, n: c * n, st.sampled_from(["a", "a/", "é", "\x00"]), st.integers(250, 3000)
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 1, 65535, 65536, 2**63, 2**64, 10**400, -(10**400)]),
    st.floats(),  # nan and ±inf included
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e-300, 1e300]),
    texts,
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), texts), children, max_size=4),
    ),
    max_leaves=12,
)


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return doc


def _delete(doc: Any, path: tuple[Any, ...]) -> Any:
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return doc


@st.composite
def mutated_structure(draw: st.DrawFn) -> str:
    doc: Any = copy.deepcopy(DATA)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        # Earlier mutations may have removed a path; only walk to ones still present.
        live = _paths(doc)
        if draw(st.booleans()):
            doc = _replace(doc, draw(st.sampled_from(live)), draw(values))
        else:
            keyed = [p for p in live if p and isinstance(p[-1], str)]
            if keyed:
                doc = _delete(doc, draw(st.sampled_from(keyed)))
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=draw(st.booleans()))


@FUZZ
@given(mutated_structure())
def test_structure_mutations_fail_only_with_located_blueprint_errors(text: str) -> None:
    assert_loader_contract(text)


@FUZZ
@given(st.sampled_from(KEY_PATHS))
def test_deleting_any_one_key_is_handled(path: tuple[Any, ...]) -> None:
    doc = _delete(copy.deepcopy(DATA), path)
    assert_loader_contract(yaml.safe_dump(doc, sort_keys=False))


def test_required_keys_are_reported_when_deleted() -> None:
    # Not every deletion is an error, but deleting a required key always is, by name.
    for key in ("apiVersion", "kind", "metadata", "services"):
        doc = copy.deepcopy(DATA)
        del doc[key]
        try:
            loads(yaml.safe_dump(doc, sort_keys=False), FILE)
        except BlueprintError as exc:
            assert f"missing required key {key!r}" in exc.render()
        else:
            raise AssertionError(f"deleting {key!r} was accepted")
