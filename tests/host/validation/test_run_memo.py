"""Within one validation run, identical embedded schemas are checked once, and every
place they sit still gets its own problems; nothing is remembered between runs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from fleetprompt_host.semantic_rules import schema_walk
from fleetprompt_host.semantic_rules.run_memo import (
    exact_key,
    may_hold_key,
    memoized,
    validation_run,
)
from fleetprompt_host.validation import validate_document

BROKEN = {"type": "object", "properties": {"limit": {"type": "int", "default": "ten"}}}


@pytest.fixture
def metaschema_checks(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record every schema that reaches a full metaschema validator."""
    seen: list[Any] = []
    collect = schema_walk._collect

    def counting(validator: Any, schema: Any) -> Any:
        seen.append(schema)
        return collect(validator, schema)

    monkeypatch.setattr(schema_walk, "_collect", counting)
    return seen


def with_tools(manifest: dict[str, Any], parameters: list[dict[str, Any]]) -> dict[str, Any]:
    template = manifest["tools"][0]
    manifest["tools"] = [
        {**copy.deepcopy(template), "name": f"tool_{i}", "parameters": copy.deepcopy(p)}
        for i, p in enumerate(parameters)
    ]
    manifest["agents"] = []
    return manifest


def problems(manifest: dict[str, Any]) -> set[tuple[str, str]]:
    return {(p.code, p.path) for p in validate_document(manifest).problems}


def test_identical_schemas_are_checked_once_and_each_place_reports_its_problems(
    valid_manifest: dict[str, Any], metaschema_checks: list[Any]
) -> None:
    manifest = with_tools(valid_manifest, [BROKEN] * 5)
    found = problems(manifest)
    expected = {
        ("invalid-embedded-schema", f"tools[{i}].parameters.properties.limit.type")
        for i in range(5)
    }
    assert expected <= found
    assert metaschema_checks == [BROKEN]


def test_defaults_of_identical_schemas_are_reported_at_each_place(
    valid_manifest: dict[str, Any],
) -> None:
    schema = {"type": "object", "properties": {"limit": {"type": "integer", "default": "ten"}}}
    manifest = with_tools(valid_manifest, [schema] * 3)
    found = [p for p in validate_document(manifest).problems if p.code == "default-invalid"]
    assert [p.path for p in found] == [
        f"tools[{i}].parameters.properties.limit.default" for i in range(3)
    ]
    assert all("'ten' is not of type 'integer'" in p.message for p in found)


def test_nothing_is_remembered_from_one_validation_to_the_next(
    valid_manifest: dict[str, Any], metaschema_checks: list[Any]
) -> None:
    manifest = with_tools(valid_manifest, [BROKEN])
    assert problems(manifest) == problems(copy.deepcopy(manifest))
    assert metaschema_checks == [BROKEN, BROKEN]


def test_schemas_equal_in_python_but_not_in_json_keep_their_own_messages(
    valid_manifest: dict[str, Any],
) -> None:
    lengths = [-1, -1.0]
    parameters = [{"type": "object", "properties": {"q": {"minLength": n}}} for n in lengths]
    assert parameters[0] == parameters[1]
    report = validate_document(with_tools(valid_manifest, parameters))
    messages = [p.message for p in report.problems if p.code == "invalid-embedded-schema"]
    assert messages == [
        "not a valid JSON Schema (draft 2020-12): -1 is less than the minimum of 0",
        "not a valid JSON Schema (draft 2020-12): -1.0 is less than the minimum of 0",
    ]


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"a": 1}, {"a": 1.0}),
        ({"a": 1}, {"a": True}),
        ({"a": 0}, {"a": False}),
        ({"a": 0.0}, {"a": -0.0}),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ({"a": "1"}, {"a": 1}),
        ({"a": [1]}, {"a": (1,)}),
        ({1: "a"}, {"1": "a"}),
    ],
)
def test_values_differing_in_type_order_or_sign_get_different_keys(left: Any, right: Any) -> None:
    assert exact_key(left) is not None
    assert exact_key(left) != exact_key(right)
    assert exact_key(left) == exact_key(copy.deepcopy(left))


class Text(str):
    """A string that jsonschema's messages would show differently."""

    def __repr__(self) -> str:
        return "Text(...)"


def deeply_nested() -> Any:
    value: Any = "leaf"
    for _ in range(5000):
        value = {"x": value}
    return value


@pytest.mark.parametrize(
    "value",
    [{"a": object()}, {"a": Text("x")}, {"a": {"b": [1, {"c": Text("y")}]}}, deeply_nested()],
    ids=["object", "str subclass", "deep str subclass", "too deep"],
)
def test_values_marshal_refuses_get_no_key_and_no_error(value: Any) -> None:
    assert exact_key(value) is None


def _counter() -> Callable[[], int]:
    """Return a function that answers how many times it has been called."""
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    return compute


def test_outside_a_run_every_question_is_computed() -> None:
    compute = _counter()
    assert [memoized("q", {"a": 1}, compute) for _ in range(3)] == [1, 2, 3]


def test_inside_a_run_each_question_is_computed_once_per_distinct_value() -> None:
    compute = _counter()
    with validation_run():
        first = [memoized("q", {"a": 1}, compute) for _ in range(3)]
        other_value = memoized("q", {"a": 2}, compute)
        other_question = memoized("r", {"a": 1}, compute)
        unkeyed = [memoized("q", {"a": Text("x")}, compute) for _ in range(2)]
    assert first == [1, 1, 1]
    assert (other_value, other_question, unkeyed) == (2, 3, [4, 5])


def test_an_answer_that_raised_is_not_remembered() -> None:
    attempts: list[int] = []

    def failing() -> int:
        attempts.append(1)
        raise ValueError("boom")

    with validation_run():
        for _ in range(2):
            with pytest.raises(ValueError):
                memoized("q", {"a": 1}, failing)
    assert len(attempts) == 2


@pytest.mark.parametrize(
    "value",
    [
        {"type": "object", "properties": {"a": {"default": 1}}},
        {"type": "object", "properties": {"default": {"type": "string"}}},
        {"items": [{"x": {"y": {"default": None}}}]},
        {"allOf": [{"default": {"default": "default"}}]},
    ],
)
def test_a_value_with_the_key_somewhere_may_hold_it(value: Any) -> None:
    with validation_run():
        assert may_hold_key(value, "default")


@pytest.mark.parametrize(
    "value",
    [
        {"type": "object", "properties": {"a": {"type": "string"}}},
        {"description": "defaults to nothing", "enum": ["default value", 1]},
        {"properties": {"defaults": {"minimum": 0}}},
    ],
)
def test_a_value_without_the_key_or_the_word_cannot_hold_it(value: Any) -> None:
    with validation_run():
        assert not may_hold_key(value, "default")


def test_without_a_run_or_a_key_every_value_may_hold_the_key() -> None:
    assert may_hold_key({"type": "string"}, "default")
    with validation_run():
        assert may_hold_key({"type": Text("string")}, "default")
