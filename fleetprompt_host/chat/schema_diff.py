"""How the tools offered today differ from the tools a recorded turn was offered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fleetprompt_host.tools.catalog import ToolCatalog

Change = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class SchemaChange:
    """One tool whose model-facing contract differs from the recording."""

    name: str
    change: Change
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"name": self.name, "change": self.change, "detail": self.detail}

    def __str__(self) -> str:
        return f"{self.name}: {self.change}" + (f" ({self.detail})" if self.detail else "")


def _properties(function: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    params = function.get("parameters") or {}
    props = params.get("properties") or {}
    return (props if isinstance(props, dict) else {}), set(params.get("required") or [])


def describe_change(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Say what changed between two OpenAI function entries (description, parameters)."""
    old, new = before.get("function") or {}, after.get("function") or {}
    parts: list[str] = []
    if old.get("description") != new.get("description"):
        parts.append("description changed")
    old_props, old_required = _properties(old)
    new_props, new_required = _properties(new)
    added = sorted(set(new_props) - set(old_props))
    removed = sorted(set(old_props) - set(new_props))
    changed = sorted(k for k in set(old_props) & set(new_props) if old_props[k] != new_props[k])
    if added:
        parts.append("parameters added: " + ", ".join(added))
    if removed:
        parts.append("parameters removed: " + ", ".join(removed))
    if changed:
        parts.append("parameters changed: " + ", ".join(changed))
    if old_required != new_required:
        parts.append(f"required {sorted(old_required)} -> {sorted(new_required)}")
    return "; ".join(parts) or "schema changed"


def compare_tools(
    recorded: dict[str, str], offered: list[dict[str, Any]] | None, catalog: ToolCatalog
) -> list[SchemaChange]:
    """Compare recorded fingerprints (and, when kept, the full tool list) with today's."""
    today = catalog.fingerprints()
    by_name = {t["function"]["name"]: t for t in (offered or []) if "function" in t}
    changes: list[SchemaChange] = []
    for name in sorted(set(recorded) | set(today)):
        if name not in today:
            changes.append(SchemaChange(name, "removed", catalog.refusal(name)))
        elif name not in recorded:
            changes.append(SchemaChange(name, "added"))
        elif recorded[name] != today[name]:
            detail = ""
            if name in by_name:
                detail = describe_change(by_name[name], catalog.entries[name].to_openai())
            changes.append(SchemaChange(name, "changed", detail))
    return changes
