"""Walking embedded schemas: the order rules report in, and defaults checked against a
validator built once per schema exactly as against a fresh one per default."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_host.semantic_rules.run_memo import validation_run
from fleetprompt_host.semantic_rules.schema_walk import (
    MAX_DEPTH,
    InstanceChecker,
    SchemaUnusable,
    instance_errors,
    subschemas,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "allOf": [{"minProperties": 1}],
    "properties": {"b": {"type": "string"}, "a": {"items": {"type": "integer"}}},
    "$defs": {"x": {"not": {"type": "null"}}},
    "items": {"type": "string"},
    "description": "not walked",
}


def test_subschemas_come_depth_first_in_keyword_order() -> None:
    assert [parts for parts, _ in subschemas(SCHEMA)] == [
        (),
        ("items",),
        ("properties", "b"),
        ("properties", "a"),
        ("properties", "a", "items"),
        ("$defs", "x"),
        ("$defs", "x", "not"),
        ("allOf", 0),
    ]


def test_subschemas_are_the_same_inside_a_run_and_outside() -> None:
    outside = list(subschemas(SCHEMA))
    with validation_run():
        first = list(subschemas(SCHEMA))
        again = list(subschemas(dict(SCHEMA)))
    assert outside == first == again


def test_subschemas_stop_at_the_depth_limit() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(200):
        schema = {"items": schema}
    assert max(len(parts) for parts, _ in subschemas(schema)) == MAX_DEPTH


CHECKED = [
    (
        {
            "type": "object",
            "$defs": {"n": {"type": "integer", "minimum": 0}},
            "properties": {"a": {"$ref": "#/$defs/n"}, "b": {"enum": ["x", "y"]}},
        },
        [
            (-1, ("properties", "a")),
            (3, ("properties", "a")),
            ("z", ("properties", "b")),
            ({"a": "1"}, ()),
        ],
    ),
    (
        {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
        [(1, ()), (2, ("$defs", "a"))],
    ),
    (
        {"properties": {"a": {"$ref": "https://example.test/remote"}}},
        [(1, ("properties", "a")), (1, ())],
    ),
]


def _outcome(check: Any) -> Any:
    try:
        return check()
    except SchemaUnusable as exc:
        return ("unusable", str(exc))


@pytest.mark.parametrize(("schema", "cases"), CHECKED)
def test_one_checker_per_schema_finds_what_a_fresh_validator_per_value_finds(
    schema: dict[str, Any], cases: list[tuple[Any, tuple[Any, ...]]]
) -> None:
    checker = InstanceChecker(schema)
    for instance, at in cases:
        reused = _outcome(lambda instance=instance, at=at: checker.errors(instance, at))
        fresh = _outcome(lambda instance=instance, at=at: instance_errors(schema, instance, at))
        assert reused == fresh
