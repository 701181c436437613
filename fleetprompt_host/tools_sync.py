"""``tools sync``: regenerate the manifest's ``tools`` section from the package's code.

Only the text of the ``tools`` value is replaced; every other byte of the file (other
sections, their key order, formatting, the trailing newline) stays as it was. Tools
already in the manifest keep their position; new ones are appended in code order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetprompt_sdk.errors import ManifestError, UsageError
from fleetprompt_sdk.manifest import Manifest

from .code_drift import DEFAULT_TIMEOUT, run_code_check
from .json_spans import children, value_start
from .manifest_sources import from_path
from .package_locator import locate_source

_INDENT = re.compile(r"\n([ \t]+)\S")


@dataclass(frozen=True)
class SyncResult:
    """The manifest file and its text before and after regenerating ``tools``."""

    path: Path
    before: str
    after: str
    tools: int

    @property
    def changed(self) -> bool:
        """True when the file would change."""
        return self.before != self.after


def _indent_unit(text: str) -> str:
    match = _INDENT.search(text)
    return match.group(1) if match else "  "


#: The order of a tool's keys in the manifest: identity first, the long schema last.
TOOL_KEYS = ("name", "description", "effect", "requires_confirmation", "directive", "parameters")


def tool_entry(spec: dict[str, Any]) -> dict[str, Any]:
    """Return a tool spec as written to the manifest: :data:`TOOL_KEYS` order, no nulls."""
    return {k: spec[k] for k in TOOL_KEYS if k in spec and spec[k] is not None}


def merged_tools(current: Any, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order the code's tools: those already declared in manifest order, then new ones."""
    by_name = {spec["name"]: tool_entry(spec) for spec in specs}
    order: list[str] = []
    for entry in current if isinstance(current, list) else []:
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name in by_name and name not in order:
            order.append(name)
    order += [name for name in by_name if name not in order]
    return [by_name[name] for name in order]


def splice_tools(text: str, tools: list[dict[str, Any]]) -> str:
    """Return ``text`` with its top-level ``tools`` value replaced (or added)."""
    unit = _indent_unit(text)
    rendered = json.dumps(tools, indent=unit, ensure_ascii=False).replace("\n", "\n" + unit)
    start = value_start(text)
    if text[start : start + 1] != "{":
        raise ManifestError("manifest is not a JSON object", code="schema-type")
    members = children(text, start)
    current = next((m for m in members if m.key == "tools"), None)
    if current is not None:
        return text[: current.value_start] + rendered + text[current.value_end :]
    # Place a new section where the model puts it: after the last member that precedes it.
    fields = list(Manifest.model_fields)
    before = fields[: fields.index("tools")]
    anchor = None
    for member in members:
        if member.key in before:
            anchor = member
    member_text = f'"tools": {rendered}'
    if anchor is None and not members:
        close = text.index("}", start)
        return text[:close] + f"\n{unit}{member_text}\n" + text[close:]
    after = anchor or members[-1]
    return text[: after.value_end] + f",\n{unit}{member_text}" + text[after.value_end :]


def sync_tools(path: Path, timeout: float = DEFAULT_TIMEOUT) -> SyncResult:
    """Compute the manifest at ``path`` (a source directory or manifest file) with its
    ``tools`` regenerated from the code. Writes nothing; see :func:`write`."""
    if not (path.is_dir() or path.suffix == ".json"):
        raise UsageError(f"{path}: tools sync needs a package source directory or manifest file")
    document = from_path(path)
    if document.file is None or document.text is None:
        raise UsageError(f"{path}: tools sync needs a package source directory or manifest file")
    name = document.data.get("name") if isinstance(document.data, dict) else None
    location = locate_source(document.file)
    code = run_code_check(location, name if isinstance(name, str) else None, timeout)
    current = document.data.get("tools") if isinstance(document.data, dict) else None
    tools = merged_tools(current, code.tools)
    after = splice_tools(document.text, tools)
    return SyncResult(document.file, document.text, after, len(tools))


def write(result: SyncResult) -> None:
    """Write the regenerated manifest, keeping the file's encoding (UTF-8)."""
    result.path.write_text(result.after, encoding="utf-8")
