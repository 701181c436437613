"""Uniqueness rules: names and types declared once per package."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Literal

from fleetprompt_sdk.errors import Problem

from .view import Entry, ManifestView

Key = Callable[[Entry], Hashable | None]


def _field(name: str) -> Key:
    return lambda entry: entry.text(name)


def _duplicates(
    entries: Iterator[Entry],
    key: Key,
    field: str,
    code: str,
    what: str,
    severity: Literal["error", "warning"] = "error",
) -> Iterator[Problem]:
    first: dict[Hashable, str] = {}
    for entry in entries:
        value = key(entry)
        if value is None:
            continue
        if value in first:
            shown = " / ".join(map(repr, value)) if isinstance(value, tuple) else repr(value)
            yield Problem(
                code,
                entry.at(field),
                f"{what} {shown} is already declared at {first[value]}",
                severity=severity,
            )
        else:
            first[value] = entry.path


def check_duplicates(view: ManifestView) -> Iterator[Problem]:
    """Tools, directives, collections, agents, signals, dependencies, seeds: once each."""
    yield from _duplicates(view.entries("tools"), _field("name"), "name", "duplicate-tool", "tool")
    yield from _duplicates(
        view.entries("directives"), _field("type"), "type", "duplicate-directive", "directive type"
    )
    yield from _duplicates(
        view.entries("collections"), _field("name"), "name", "duplicate-collection", "collection"
    )
    yield from _duplicates(
        view.entries("agents"), _field("name"), "name", "duplicate-agent", "agent profile"
    )
    yield from _duplicates(
        view.entries("signals", "emits"), _field("type"), "type", "duplicate-signal", "signal type"
    )
    yield from _duplicates(
        view.entries("dependencies"), _field("name"), "name", "duplicate-dependency", "dependency"
    )

    def subscription(entry: Entry) -> tuple[str, str] | None:
        handler, pattern = entry.text("handler"), entry.text("pattern")
        return (handler, pattern) if handler is not None and pattern is not None else None

    yield from _duplicates(
        view.entries("signals", "subscribes"),
        subscription,
        "pattern",
        "duplicate-subscription",
        "subscription",
    )

    def seed(entry: Entry) -> tuple[str, str] | None:
        collection, key = entry.text("collection"), entry.text("key")
        return (collection, key) if collection is not None and key is not None else None

    yield from _duplicates(view.entries("seed"), seed, "key", "duplicate-seed", "seed record")


def _repeated_strings(pairs: Iterator[tuple[str, str]], code: str, what: str) -> Iterator[Problem]:
    first: dict[str, str] = {}
    for path, value in pairs:
        if value in first:
            yield Problem(
                code, path, f"{what} {value!r} is already listed at {first[value]}", "warning"
            )
        else:
            first[value] = path


def check_repeated_lists(view: ManifestView) -> Iterator[Problem]:
    """Permissions and an agent's tool list name each item once (warnings: harmless)."""
    yield from _repeated_strings(view.strings("permissions"), "duplicate-permission", "permission")
    for agent in view.entries("agents"):
        tools = agent.data.get("tools")
        if isinstance(tools, list):
            pairs = ((agent.at("tools", i), t) for i, t in enumerate(tools) if isinstance(t, str))
            yield from _repeated_strings(pairs, "duplicate-agent-tool", "tool")


RULES = (check_duplicates, check_repeated_lists)
