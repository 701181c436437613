"""The fast metaschema checks find exactly what the official draft 2020-12 metaschema finds.

Embedded schemas are checked by a quick proof (plain_schema), else by a flattened
metaschema (no ``$dynamicRef``), else by the official one. These tests compare all
three with the official metaschema alone: over every embedded schema of the
invalid-manifest corpus and the valid manifest, and over generated schemas that use
every metaschema keyword with well- and ill-typed values. Example counts are small by
default; set FLEETPROMPT_FUZZ_EXAMPLES for a longer local run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetprompt_host.semantic_rules import metaschema, plain_schema
from fleetprompt_host.semantic_rules.embedded import embedded_schemas
from fleetprompt_host.semantic_rules.plain_schema import SIMPLE_TYPES, keyword_kinds, plainly_valid
from fleetprompt_host.semantic_rules.schema_walk import (
    FLAT_MAX_DEPTH,
    _collect,
    meta_errors,
    official_meta_errors,
)
from fleetprompt_host.semantic_rules.view import ManifestView

HERE = Path(__file__).parent
MANIFESTS = [*sorted((HERE / "corpus").glob("*.json")), HERE / "fixtures" / "valid_manifest.json"]
EXAMPLES = int(os.environ.get("FLEETPROMPT_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=2 * EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def corpus_schemas() -> list[tuple[str, Any]]:
    found = []
    for path in MANIFESTS:
        for embedded in embedded_schemas(ManifestView(json.loads(path.read_text()))):
            found.append((f"{path.stem}:{embedded.path}", embedded.schema))
    return found


CORPUS_SCHEMAS = corpus_schemas()
#: Every invalid corpus schema and a few valid ones.
SOME_SCHEMAS = [(w, s) for w, s in CORPUS_SCHEMAS if official_meta_errors(s)] + CORPUS_SCHEMAS[-5:]


def error_pairs(validator: Any, schema: Any) -> set[tuple[tuple[Any, ...], str, str]]:
    """Every distinct (instance path, keyword, message) a validator reports."""
    return {
        (tuple(e.absolute_path), str(e.validator), e.message) for e in validator.iter_errors(schema)
    }


def assert_same_findings(schema: Any) -> None:
    official = official_meta_errors(schema)
    assert meta_errors(schema) == official
    flat = metaschema.flat_validator()
    assert flat is not None
    assert _collect(flat, schema) == official
    assert error_pairs(flat, schema) == error_pairs(metaschema.official_validator(), schema)
    if plainly_valid(schema):
        assert official == []


def _keywords(node: Any) -> tuple[set[str], set[str]]:
    """Return (every key, every $ref value) in ``node``, at every level."""
    keys: set[str] = set()
    refs: set[str] = set()
    if isinstance(node, dict):
        keys |= set(node)
        if "$ref" in node:
            refs.add(node["$ref"])
        values = list(node.values())
    else:
        values = node if isinstance(node, list) else []
    for value in values:
        inner_keys, inner_refs = _keywords(value)
        keys |= inner_keys
        refs |= inner_refs
    return keys, refs


def test_flattened_metaschema_is_built_from_the_installed_one() -> None:
    flat = metaschema.flat_metaschema()
    assert flat is not None
    # Below the keyword names, only static references back to the root remain.
    found = [_keywords(sub) for sub in flat["properties"].values()]
    keys = set().union(*(k for k, _ in found))
    assert "$dynamicRef" not in keys and "$id" not in keys
    assert set().union(*(r for _, r in found)) == {"#"}
    keywords = set(flat["properties"])
    assert {"type", "properties", "$ref", "minLength", "definitions"} <= keywords
    assert set(metaschema.official_validator().META_SCHEMA["properties"]) < keywords


def test_the_corpus_has_invalid_embedded_schemas_to_compare() -> None:
    assert sum(bool(official_meta_errors(s)) for _, s in CORPUS_SCHEMAS) >= 5


@pytest.mark.parametrize(("where", "schema"), CORPUS_SCHEMAS, ids=[w for w, _ in CORPUS_SCHEMAS])
def test_corpus_schema_gets_the_official_findings(where: str, schema: Any) -> None:
    assert_same_findings(schema)


def test_everyday_schemas_are_proven_valid_without_the_metaschema() -> None:
    everyday = [s for w, s in CORPUS_SCHEMAS if w.startswith("valid_manifest:")]
    assert everyday and all(plainly_valid(s) for s in everyday)
    assert plainly_valid(
        {
            "type": ["string", "null"],
            "description": "x",
            "pattern": "^[a-z]+$",
            "properties": {"a": {"$ref": "#/$defs/a", "secret": True}},
            "patternProperties": {"^x-": True},
            "anyOf": [{"minLength": 0}, {"enum": [1, "a", None]}],
            "x-vendor": {"anything": ["at", "all"]},
        }
    )


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "int"},
        {"type": []},
        {"type": ["string", "string"]},
        {"required": ["a", "a"]},
        {"required": "a"},
        {"minLength": -1},
        {"minLength": 1.0},
        {"minLength": True},
        {"multipleOf": 0},
        {"multipleOf": float("nan")},
        {"pattern": "("},
        {"patternProperties": {"(": {}}},
        {"properties": []},
        {"properties": {"a": 3}},
        {"allOf": []},
        {"items": {"items": {"type": 5}}},
        {"$anchor": "a b"},
        {"$id": "x#frag"},
        {"dependentRequired": {"a": ["b", "b"]}},
        {"dependencies": {"a": 5}},
        {"$vocabulary": {"x": 1}},
    ],
    ids=repr,
)
def test_a_doubtful_keyword_is_never_proven_and_gets_the_official_findings(
    schema: dict[str, Any],
) -> None:
    assert not plainly_valid(schema)
    assert_same_findings(schema)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 5)
    | st.sampled_from([0.0, -0.0, 1.0, 2.5, -1.5, float("nan"), float("inf")])
    | st.sampled_from(
        [*SIMPLE_TYPES, "int", "", "(", "^a$", "[a-", "#/$defs/a", "#a", "a b", "x#y", "\n"]
    )
    | st.sampled_from(["http://example.test/s", "urn:x", "a%zz", "\\", "#/properties/0"])
    | st.text(max_size=4)
)
KEYWORDS = sorted(keyword_kinds()[1])
NAMES = st.sampled_from(["a", "b", "^x-", "(", "type", "default"]) | st.text(max_size=3)


def _well_typed(kind: str, children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Values a keyword of ``kind`` usually accepts (and some it does not)."""
    names = st.lists(st.sampled_from(["a", "b", "c"]), max_size=3)
    return {
        "string": st.text(max_size=4),
        "boolean": st.booleans(),
        "number": st.integers(-5, 5) | st.floats(allow_nan=True),
        "positive": st.integers(0, 3) | st.sampled_from([0.5, 0.0, -1.0]),
        "count": st.integers(-1, 4),
        "array": st.lists(SCALARS, max_size=3),
        "regex": st.sampled_from(["^a$", "a+", "(", "[", "\\d"]),
        "uri": st.sampled_from(["http://example.test/s", "urn:x", "rel/x", ""]),
        "uri-reference": st.sampled_from(["#/$defs/a", "#a", "x.json", "a%zz", "[::"]),
        "names": names,
        "schema": children,
        "schemas": st.lists(children, max_size=3),
        "schema-map": st.dictionaries(NAMES, children, max_size=3),
        "pattern-map": st.dictionaries(NAMES, children, max_size=3),
        "type": st.sampled_from(SIMPLE_TYPES) | st.lists(st.sampled_from(SIMPLE_TYPES), max_size=3),
    }.get(kind, SCALARS)


@st.composite
def _node(draw: st.DrawFn, children: st.SearchStrategy[Any]) -> dict[str, Any]:
    kinds = keyword_kinds()[0]
    node: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 4))):
        keyword = draw(st.sampled_from([*KEYWORDS, "secret", "x-vendor"]))
        well_typed = _well_typed(kinds.get(keyword, ""), children)
        anything = SCALARS | children | st.lists(children, max_size=2)
        node[keyword] = draw(well_typed if draw(st.integers(0, 4)) else anything)
    return node


SCHEMAS = st.recursive(
    st.booleans() | st.just({}) | st.builds(lambda t: {"type": t}, st.sampled_from(SIMPLE_TYPES)),
    lambda children: _node(children),
    max_leaves=12,
)


@FUZZ
@given(SCHEMAS)
def test_generated_schema_gets_the_official_findings(schema: Any) -> None:
    assert_same_findings(schema)


def _nested(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


@pytest.mark.parametrize("levels", [FLAT_MAX_DEPTH // 2 - 1, FLAT_MAX_DEPTH // 2 + 1, 40])
def test_schemas_nested_past_the_quick_checks_get_the_official_findings(levels: int) -> None:
    valid = _nested(levels)
    assert meta_errors(valid) == official_meta_errors(valid) == []
    broken = _nested(levels)
    node = broken
    for _ in range(levels):
        node = node["properties"]["x"]
    node["minLength"] = -1
    assert meta_errors(broken) == official_meta_errors(broken) != []


def test_a_schema_too_deep_for_the_official_metaschema_is_still_reported_as_such() -> None:
    assert meta_errors(_nested(3000)) == [((), "schema is nested too deeply to check")]


def _drop_caches() -> None:
    for cached in (
        metaschema.flat_metaschema,
        metaschema.flat_validator,
        plain_schema.keyword_kinds,
        plain_schema._checks,
    ):
        cached.cache_clear()


@pytest.fixture
def unexpected_metaschema(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The installed metaschemas have a shape the flattening does not know."""

    def build() -> dict[str, Any]:
        raise metaschema._Unexpected("a new keyword")

    _drop_caches()
    monkeypatch.setattr(metaschema, "_build", build)
    yield
    monkeypatch.undo()
    _drop_caches()


@pytest.mark.usefixtures("unexpected_metaschema")
@pytest.mark.parametrize(
    ("where", "schema"), CORPUS_SCHEMAS[:40], ids=[w for w, _ in CORPUS_SCHEMAS[:40]]
)
def test_an_unknown_metaschema_shape_falls_back_to_the_official_one(
    where: str, schema: Any
) -> None:
    assert metaschema.flat_validator() is None
    assert not plainly_valid(schema)
    assert meta_errors(schema) == official_meta_errors(schema)


@pytest.mark.parametrize(
    "document",
    [
        {"$id": "x", "type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
        {"properties": {"a": {"$dynamicRef": "other"}}},
        {"properties": {"a": {"$id": "inner"}}},
    ],
)
def test_a_metaschema_shape_the_flattening_does_not_model_is_refused(
    document: dict[str, Any],
) -> None:
    with pytest.raises(metaschema._Unexpected):
        metaschema._properties({"type": ["object", "boolean"], **document})


def _raised(check: Any, schema: Any) -> tuple[str, str] | None:
    try:
        check(schema)
    except Exception as exc:
        return type(exc).__name__, str(exc)
    return None


@pytest.mark.parametrize(
    "schema",
    [{"pattern": "a{4294967296}"}, {"patternProperties": {"a{4294967296}": {}}}],
    ids=["pattern", "patternProperties"],
)
def test_a_regex_the_format_checker_chokes_on_fails_exactly_as_before(schema: Any) -> None:
    # The official check raises here (the regex format checker expects only re.error);
    # the fast paths decline and reproduce the same failure rather than a verdict.
    official = _raised(official_meta_errors, schema)
    assert official is not None
    assert _raised(meta_errors, schema) == official
    assert not plainly_valid(schema)


def test_the_quick_proof_leaves_deeply_nested_schemas_to_the_metaschema() -> None:
    assert plainly_valid(_nested(plain_schema.MAX_DEPTH))
    assert not plainly_valid(_nested(plain_schema.MAX_DEPTH + 1))
    assert meta_errors(_nested(plain_schema.MAX_DEPTH + 1)) == []
