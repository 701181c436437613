"""Fuzzing: validate_document returns a report for any JSON value, never raises, and
every code it reports is registered (so documented).

Example counts are small by default to keep the suite fast; set
FLEETPROMPT_FUZZ_EXAMPLES for a longer local run.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetprompt_host.problem_codes import CODES
from fleetprompt_host.validation import ValidationReport, validate_document, validate_documents

EXAMPLES = int(os.environ.get("FLEETPROMPT_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    # The valid_manifest fixture is deep-copied per example, never mutated in place.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

KEYS = st.sampled_from(
    [
        "name", "version", "type", "properties", "items", "default", "secret", "$ref",
        "$defs", "required", "tools", "parameters", "schema", "pattern", "enum", "anyOf",
        "effect", "directive", "collection", "data", "handler", "minLength", "const",
    ]
) | st.text(max_size=8)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["#", "#/$defs/x", "acme.x.v2", "read", "write", "(", "object", "^a$"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)


def _assert_sound(report: ValidationReport) -> None:
    assert isinstance(report, ValidationReport)
    for problem in report.problems:
        assert problem.code in CODES, problem
        assert problem.code != "validator-internal-error", problem
        assert isinstance(problem.path, str) and problem.message


@FUZZ
@given(JSON)
def test_any_json_value_gets_a_report_and_no_exception(data: Any) -> None:
    _assert_sound(validate_document(data, "fuzz"))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@FUZZ
@given(st.data())
def test_mutated_valid_manifests_get_a_report_and_no_exception(
    valid_manifest: dict, data: st.DataObject
) -> None:
    manifest = copy.deepcopy(valid_manifest)
    for _ in range(data.draw(st.integers(1, 4))):
        paths = [p for p in _paths(manifest) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = manifest
        for part in path[:-1]:
            parent = parent[part]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(JSON)
    _assert_sound(validate_document(manifest, "mutant"))
    for report in validate_documents([(manifest, "a"), (valid_manifest, "b")]):
        _assert_sound(report)


def test_deeply_nested_embedded_schema_is_reported_not_crashed(valid_manifest: dict) -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(3000):
        schema = {"type": "object", "properties": {"x": schema}}
    valid_manifest["tools"][0]["parameters"] = schema
    _assert_sound(validate_document(valid_manifest))
