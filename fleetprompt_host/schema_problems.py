"""Structural validation against the published manifest JSON Schema.

jsonschema's raw errors are turned into problems a package author can act on: one
problem per missing or unknown field (pointing at the field itself), naming rules
explained in words rather than as regular expressions, and the closed vocabularies
(permissions, manifest_version) reported under their own codes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from fleetprompt_sdk.enums import Permission
from fleetprompt_sdk.errors import Problem
from fleetprompt_sdk.manifest import manifest_json_schema
from fleetprompt_sdk.naming import (
    EVENT_TYPE_PATTERN,
    LOCAL_NAME_PATTERN,
    PACKAGE_NAME_PATTERN,
    SUBSCRIPTION_PATTERN,
    TOOL_NAME_PATTERN,
)

from .json_paths import child, json_path
from .problem_codes import schema_code

#: Naming rules in words, keyed by the pattern the schema carries.
PATTERN_RULES: dict[str, str] = {
    PACKAGE_NAME_PATTERN: (
        "a package name is 2-40 characters: a lowercase letter, then lowercase letters, "
        "digits or '_' (e.g. 'crm')"
    ),
    EVENT_TYPE_PATTERN: (
        "a signal or directive type is lowercase and dot-delimited with at least two "
        "segments, each starting with a letter (e.g. 'crm.contact.created')"
    ),
    SUBSCRIPTION_PATTERN: (
        "a subscription pattern is a type whose segments may be '*' (one segment), "
        "optionally ending in '.**' (one or more segments), e.g. 'crm.contact.*'"
    ),
    TOOL_NAME_PATTERN: "a tool name is 1-64 characters from a-z, A-Z, 0-9, '_' and '-'",
    LOCAL_NAME_PATTERN: (
        "a name is 1-64 characters: a lowercase letter, then lowercase letters, digits or '_'"
    ),
}


@lru_cache(maxsize=1)
def manifest_validator() -> Any:
    """Return the (cached) draft 2020-12 validator of the published manifest schema."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(manifest_json_schema())


def _pick_branch(error: Any) -> Any:
    """For anyOf/oneOf errors, return the sub-error of the branch the author meant.

    A branch whose ``type`` matched the value is the one meant (``"Crm.x"`` for a
    ``string | null`` field failed the string branch's pattern, not the null branch).
    """
    context = list(error.context or [])
    meaningful = [e for e in context if e.validator != "type"]
    if meaningful:
        return min(meaningful, key=lambda e: len(e.relative_path))
    return error


def _suggest(name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _problems_for(error: Any) -> Iterator[Problem]:
    if error.validator in ("anyOf", "oneOf"):
        picked = _pick_branch(error)
        if picked is not error:
            yield from _problems_for(picked)
            return
    parts = list(error.absolute_path)
    path = json_path(parts)
    keyword = str(error.validator)
    instance = error.instance
    if keyword == "required" and isinstance(instance, dict):
        for key in error.validator_value:
            if key not in instance:
                yield Problem(
                    "schema-required", child(path, key), f"required field {key!r} is missing"
                )
        return
    if keyword == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        for key in instance:
            if key not in allowed:
                yield Problem(
                    "schema-additional-properties",
                    child(path, str(key)),
                    f"unknown field {key!r} (allowed: {', '.join(allowed)})"
                    + _suggest(str(key), allowed),
                )
        return
    if len(parts) == 2 and parts[0] == "permissions" and keyword in ("enum", "type"):
        known = [p.value for p in Permission]
        yield Problem(
            "unknown-permission",
            path,
            f"{instance!r} is not a permission (known: {', '.join(known)})"
            + (_suggest(instance, known) if isinstance(instance, str) else ""),
        )
        return
    if parts == ["manifest_version"] and keyword in ("const", "enum", "type"):
        yield Problem(
            "unsupported-manifest-version",
            path,
            f"manifest_version {instance!r} is not supported; this host reads manifest_version 1",
        )
        return
    if keyword == "pattern" and error.validator_value in PATTERN_RULES:
        yield Problem(
            "schema-pattern",
            path,
            f"{instance!r} is invalid: {PATTERN_RULES[error.validator_value]}",
        )
        return
    yield Problem(schema_code(keyword), path, error.message)


def _path_key(error: Any) -> list[tuple[int, int, str]]:
    return [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in error.absolute_path]


def schema_problems(data: object) -> list[Problem]:
    """Return the problems the published JSON Schema finds, ordered by path, without repeats."""
    seen: set[tuple[str, str]] = set()
    problems: list[Problem] = []
    errors = sorted(manifest_validator().iter_errors(data), key=_path_key)
    for error in errors:
        for problem in _problems_for(error):
            if (problem.code, problem.path) not in seen:
                seen.add((problem.code, problem.path))
                problems.append(problem)
    return problems
