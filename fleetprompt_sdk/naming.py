"""Naming rules shared by manifests, signals, directives and tools.

Kept in one place so the validator, the runtime and the docs agree on one grammar.
"""

from __future__ import annotations

import re

#: A package name; also the namespace of the signals it emits and the prefix of its tools.
PACKAGE_NAME_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
#: Signal and directive types: lowercase, dot-delimited, at least two segments.
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
#: Subscription patterns: like event types, where ``*`` matches one segment and a
#: trailing ``**`` matches one or more segments.
SUBSCRIPTION_PATTERN = r"^([a-z][a-z0-9_]*|\*)(\.([a-z][a-z0-9_]*|\*))*(\.\*\*)?$"
#: Tool names as OpenAI and Anthropic function calling accept them.
TOOL_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
#: Handler and agent-profile names inside one package.
LOCAL_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
#: Separator between a package name and a tool name in the model-facing tool list.
TOOL_NAMESPACE_SEPARATOR = "__"

_EVENT_TYPE = re.compile(EVENT_TYPE_PATTERN)
_SUBSCRIPTION = re.compile(SUBSCRIPTION_PATTERN)
_VERSION_SEGMENT = re.compile(r"^v\d+$|^version\d*$|^\d+$")


def is_event_type(value: str) -> bool:
    """Return True when ``value`` is a well-formed signal or directive type."""
    return bool(_EVENT_TYPE.match(value))


def versioned_segment(value: str) -> str | None:
    """Return the first segment of ``value`` that looks like a version (``v2``), if any."""
    for segment in value.split("."):
        if _VERSION_SEGMENT.match(segment):
            return segment
    return None


def is_subscription_pattern(value: str) -> bool:
    """Return True when ``value`` is a well-formed subscription pattern."""
    return bool(_SUBSCRIPTION.match(value))


def pattern_matches(pattern: str, event_type: str) -> bool:
    """Return True when the subscription ``pattern`` matches ``event_type``."""
    pat = pattern.split(".")
    parts = event_type.split(".")
    if pat and pat[-1] == "**":
        head = pat[:-1]
        if len(parts) <= len(head):
            return False
        parts = parts[: len(head)]
        pat = head
    if len(pat) != len(parts):
        return False
    return all(p == "*" or p == s for p, s in zip(pat, parts, strict=True))


def namespaced_tool_name(package: str, tool: str) -> str:
    """Return the model-facing name of ``tool`` from ``package`` (``crm__search``)."""
    return f"{package}{TOOL_NAMESPACE_SEPARATOR}{tool}"
