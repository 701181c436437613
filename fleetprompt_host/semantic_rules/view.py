"""A defensive read-only view of raw manifest JSON for the semantic rules.

Semantic rules run even when the JSON Schema found structural errors (so an author sees
every problem at once), so they never assume a shape: every accessor returns ``None`` or
skips entries whose type is wrong, leaving those to the schema's report.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fleetprompt_sdk.naming import PACKAGE_NAME_PATTERN

from ..json_paths import child

_PACKAGE_NAME = re.compile(PACKAGE_NAME_PATTERN)


@dataclass(frozen=True)
class Entry:
    """One object inside a manifest list, with its JSON path (``tools[2]``)."""

    path: str
    data: dict[str, Any]

    def text(self, key: str) -> str | None:
        """Return ``data[key]`` when it is a string."""
        value = self.data.get(key)
        return value if isinstance(value, str) else None

    def at(self, *parts: str | int) -> str:
        """Return the path of a field inside this entry."""
        return child(self.path, *parts)


@dataclass(frozen=True)
class ManifestView:
    """The raw manifest document, read without trusting its shape."""

    data: Any

    @property
    def root(self) -> dict[str, Any]:
        """The top-level object, or an empty one when the document is not an object."""
        return self.data if isinstance(self.data, dict) else {}

    @property
    def name(self) -> str | None:
        """The package name when it is a string."""
        value = self.root.get("name")
        return value if isinstance(value, str) else None

    @property
    def valid_name(self) -> str | None:
        """The package name when it follows the naming rule (namespace rules need one)."""
        name = self.name
        return name if name is not None and _PACKAGE_NAME.match(name) else None

    def text(self, key: str) -> str | None:
        """Return a top-level string field."""
        value = self.root.get(key)
        return value if isinstance(value, str) else None

    def section(self, *keys: str) -> Any:
        """Return the value at ``keys`` (``section("signals", "emits")``), or None."""
        value: Any = self.root
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    def entries(self, *keys: str) -> Iterator[Entry]:
        """Yield the objects of the list at ``keys``, skipping non-objects."""
        value = self.section(*keys)
        if not isinstance(value, list):
            return
        base = child("", *keys)
        for index, item in enumerate(value):
            if isinstance(item, dict):
                yield Entry(child(base, index), item)

    def strings(self, *keys: str) -> Iterator[tuple[str, str]]:
        """Yield ``(path, value)`` for the strings of the list at ``keys``."""
        value = self.section(*keys)
        if not isinstance(value, list):
            return
        base = child("", *keys)
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield child(base, index), item

    def names(self, *keys: str, field: str = "name") -> set[str]:
        """Return the set of string ``field`` values of the list at ``keys``."""
        return {v for e in self.entries(*keys) if (v := e.text(field)) is not None}

    def dependency_names(self) -> set[str]:
        """Return the names of the declared dependencies."""
        return self.names("dependencies")
