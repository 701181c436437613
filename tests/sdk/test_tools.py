"""The @tool decorator turns typed functions into function-calling tools."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from fleetprompt_sdk import Effect, ManifestError, ToolArgumentError, ToolContext, tool


class Address(BaseModel):
    city: str
    country: str = "NL"


@tool(effect="read")
def search_contacts(
    ctx: ToolContext,
    query: str,
    limit: Annotated[int, Field(ge=1, le=100)] = 10,
    status: Literal["active", "archived"] = "active",
) -> list[dict[str, Any]]:
    """Search contacts by name or email.

    Args:
        query: Text to look for in names and emails.
        limit: How many contacts to return at most.
    """
    return [{"ctx": ctx, "query": query, "limit": limit, "status": status}]


@tool(effect=Effect.WRITE, directive="crm.contact.create", requires_confirmation=True)
def create_contact(ctx: ToolContext, name: str, address: Address | None = None) -> str:
    """Create a contact."""
    return f"{name}:{address.city if address else '-'}"


def test_parameter_schema_is_an_object_schema_without_the_context() -> None:
    schema = search_contacts.parameters_schema()
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"query", "limit", "status"}
    assert "ctx" not in schema["properties"]
    assert schema["required"] == ["query"]
    assert schema["additionalProperties"] is False


def test_docstring_gives_description_and_argument_descriptions() -> None:
    assert search_contacts.description == "Search contacts by name or email."
    props = search_contacts.parameters_schema()["properties"]
    assert props["query"]["description"] == "Text to look for in names and emails."
    assert props["limit"]["maximum"] == 100
    assert props["status"]["enum"] == ["active", "archived"]


def test_tool_names_are_accepted_by_function_calling_providers() -> None:
    for t in (search_contacts, create_contact):
        assert re.match(r"^[a-zA-Z0-9_-]{1,64}$", t.name)


def test_spec_carries_effect_confirmation_and_directive() -> None:
    spec = create_contact.to_spec()
    assert spec.effect is Effect.WRITE
    assert spec.requires_confirmation is True
    assert spec.directive == "crm.contact.create"
    assert "$defs" in spec.parameters or "properties" in spec.parameters


def test_valid_arguments_are_coerced_into_the_typed_model_and_invoked() -> None:
    args = create_contact.validate_arguments({"name": "Ada", "address": {"city": "Delft"}})
    assert create_contact.invoke(object(), args) == "Ada:Delft"


def test_invoke_passes_the_context_first() -> None:
    marker = object()
    args = search_contacts.validate_arguments({"query": "ada"})
    [row] = search_contacts.invoke(marker, args)
    assert row["ctx"] is marker and row["limit"] == 10


@pytest.mark.parametrize(
    ("arguments", "path", "code"),
    [
        ({}, "query", "argument-missing"),
        ({"query": "x", "limit": 0}, "limit", "argument-greater_than_equal"),
        ({"query": "x", "limit": "many"}, "limit", "argument-int_parsing"),
        ({"query": "x", "status": "gone"}, "status", "argument-literal_error"),
        ({"query": "x", "tenant": "other"}, "tenant", "argument-extra_forbidden"),
    ],
)
def test_bad_arguments_raise_a_tool_argument_error_naming_the_field(
    arguments: dict[str, Any], path: str, code: str
) -> None:
    with pytest.raises(ToolArgumentError) as info:
        search_contacts.validate_arguments(arguments)
    assert [(p.path, p.code) for p in info.value.problems] == [(path, code)]
    assert path in str(info.value)
    assert info.value.audience == "model"


def test_nested_argument_errors_carry_the_nested_path() -> None:
    with pytest.raises(ToolArgumentError) as info:
        create_contact.validate_arguments({"name": "Ada", "address": {"country": "BE"}})
    assert info.value.problems[0].path == "address.city"


def _undocumented(ctx: ToolContext, x: int) -> int:
    return x


def _untyped(ctx, x):  # type: ignore[no-untyped-def]
    """Has no annotations."""
    return x


def _varargs(ctx: ToolContext, *xs: int) -> int:
    """Takes *args."""
    return 0


def _no_context() -> None:
    """Takes nothing."""


@pytest.mark.parametrize(
    ("function", "options", "code"),
    [
        (_undocumented, {}, "tool-undocumented"),
        (_untyped, {}, "tool-signature"),
        (_varargs, {}, "tool-signature"),
        (_no_context, {}, "tool-signature"),
        (_undocumented, {"name": "bad name", "description": "x"}, "invalid-tool-name"),
    ],
)
def test_functions_that_cannot_be_described_to_a_model_are_refused_at_decoration(
    function: Any, options: dict[str, Any], code: str
) -> None:
    with pytest.raises(ManifestError) as info:
        tool(**options)(function)
    assert info.value.code == code
    assert function.__name__ in str(info.value) or "bad name" in str(info.value)
