"""Naming rules the JSON Schema cannot express: unversioned types, namespaces, tool length.

Decisions (documented in docs/manifest.md):

* Signal types a package emits and directive types it handles both live in the package's
  own namespace ``<name>.``: a type has exactly one owner, so two packages can never
  claim the same one, and a reader knows from a type who defines it.
* Types carry no version segment (``v2``, ``version2``, ``2``): evolve the schema
  compatibly or pick a new name that says what changed.
"""

from __future__ import annotations

from collections.abc import Iterator

from fleetprompt_sdk.errors import Problem
from fleetprompt_sdk.naming import namespaced_tool_name, versioned_segment

from .view import ManifestView

#: Longest tool name OpenAI and Anthropic function calling accept.
MAX_TOOL_NAME = 64


def _versioned(path: str, value: str, what: str) -> Iterator[Problem]:
    segment = versioned_segment(value)
    if segment is not None:
        yield Problem(
            "versioned-type",
            path,
            f"{what} {value!r} has a version segment {segment!r}; types carry no versions "
            "(evolve the schema compatibly or choose a new name)",
        )


def check_versioned_types(view: ManifestView) -> Iterator[Problem]:
    """Signal types, directive types and subscription patterns carry no version segment."""
    for entry in view.entries("signals", "emits"):
        if (value := entry.text("type")) is not None:
            yield from _versioned(entry.at("type"), value, "signal type")
    for entry in view.entries("directives"):
        if (value := entry.text("type")) is not None:
            yield from _versioned(entry.at("type"), value, "directive type")
    for entry in view.entries("tools"):
        if (value := entry.text("directive")) is not None:
            yield from _versioned(entry.at("directive"), value, "directive type")
    for entry in view.entries("signals", "subscribes"):
        if (value := entry.text("pattern")) is not None:
            yield from _versioned(entry.at("pattern"), value, "subscription pattern")


def check_namespaces(view: ManifestView) -> Iterator[Problem]:
    """Emitted signal types and handled directive types start with ``<package>.``."""
    name = view.valid_name
    if not name:
        return
    prefix = f"{name}."
    for entry in view.entries("signals", "emits"):
        value = entry.text("type")
        if value is not None and not value.startswith(prefix):
            yield Problem(
                "signal-outside-namespace",
                entry.at("type"),
                f"signal type {value!r} is outside the package namespace; "
                f"emitted types start with {prefix!r}",
            )
    for entry in view.entries("directives"):
        value = entry.text("type")
        if value is not None and not value.startswith(prefix):
            yield Problem(
                "directive-outside-namespace",
                entry.at("type"),
                f"directive type {value!r} is outside the package namespace; "
                f"handled types start with {prefix!r}",
            )


def check_tool_name_length(view: ManifestView) -> Iterator[Problem]:
    """The model-facing ``<package>__<tool>`` name fits function-calling limits."""
    name = view.valid_name
    if not name:
        return
    for entry in view.entries("tools"):
        tool = entry.text("name")
        if tool is None:
            continue
        full = namespaced_tool_name(name, tool)
        if len(full) > MAX_TOOL_NAME:
            yield Problem(
                "tool-name-too-long",
                entry.at("name"),
                f"model-facing name {full!r} is {len(full)} characters; at most "
                f"{MAX_TOOL_NAME} fit (shorten the tool name to "
                f"{MAX_TOOL_NAME - len(full) + len(tool)} characters or fewer)",
            )


RULES = (check_versioned_types, check_namespaces, check_tool_name_length)
