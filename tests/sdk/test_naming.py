"""Naming rules for signal types, subscriptions and tool names."""

from __future__ import annotations

import pytest

from fleetprompt_sdk.naming import (
    is_event_type,
    is_subscription_pattern,
    namespaced_tool_name,
    pattern_matches,
    versioned_segment,
)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("crm.contact.created", True),
        ("helpdesk.ticket_closed", True),
        ("crm", False),
        ("CRM.contact", False),
        ("crm..contact", False),
        ("crm.contact.", False),
        ("crm-contact.created", False),
        ("1crm.contact", False),
    ],
)
def test_event_types_are_lowercase_and_dot_delimited(value: str, ok: bool) -> None:
    assert is_event_type(value) is ok


@pytest.mark.parametrize(
    ("value", "segment"),
    [("crm.contact.v2.created", "v2"), ("crm.v1.contact", "v1"), ("crm.contact.created", None)],
)
def test_version_segments_are_detected(value: str, segment: str | None) -> None:
    assert versioned_segment(value) == segment


@pytest.mark.parametrize(
    ("pattern", "event_type", "matches"),
    [
        ("crm.contact.created", "crm.contact.created", True),
        ("crm.contact.*", "crm.contact.created", True),
        ("crm.contact.*", "crm.contact.note.added", False),
        ("crm.*.created", "crm.company.created", True),
        ("crm.**", "crm.contact.note.added", True),
        ("crm.**", "crm", False),
        ("crm.contact.*", "helpdesk.contact.created", False),
    ],
)
def test_subscription_patterns_match_segment_by_segment(
    pattern: str, event_type: str, matches: bool
) -> None:
    assert is_subscription_pattern(pattern)
    assert pattern_matches(pattern, event_type) is matches


@pytest.mark.parametrize("pattern", ["crm.**.created", "CRM.*", "crm.*x", ""])
def test_malformed_subscription_patterns_are_rejected(pattern: str) -> None:
    assert not is_subscription_pattern(pattern)


def test_tool_names_are_namespaced_by_package() -> None:
    assert namespaced_tool_name("crm", "search") == "crm__search"
