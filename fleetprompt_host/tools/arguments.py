"""Raw tool arguments as callers send them: parsed, kept for the record, results made JSON."""

from __future__ import annotations

import json
from typing import Any

from .results import ToolResult, error_result


def parse_arguments(
    call_id: str, name: str, arguments: str | dict[str, Any]
) -> dict[str, Any] | ToolResult:
    """Return the arguments as a dict, or the error result a model can correct.

    A model sends arguments as JSON text (possibly empty); other callers may pass a dict.
    """
    raw: Any = arguments
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            return error_result(
                call_id,
                name,
                "tool-arguments-invalid",
                f"arguments for tool {name!r} are not valid JSON: {exc}; send one JSON object",
            )
    if not isinstance(raw, dict):
        return error_result(
            call_id,
            name,
            "tool-arguments-invalid",
            f"arguments for tool {name!r} must be a JSON object, not {type(raw).__name__}",
        )
    return raw


def recorded_arguments(arguments: str | dict[str, Any]) -> dict[str, Any]:
    """Return arguments as an execution step stores them (unparsable text kept, cut short)."""
    return arguments if isinstance(arguments, dict) else {"unparsed": arguments[:2000]}


def jsonable(value: Any) -> Any:
    """Return a tool's return value as plain JSON data (its ``repr`` if it has none)."""
    from pydantic_core import to_jsonable_python

    try:
        return to_jsonable_python(value)
    except Exception:
        return repr(value)
