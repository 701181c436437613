"""``fleetprompt tools sync``: the tools section is regenerated from code and nothing
else in the manifest file changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from fleetprompt_host.json_spans import children, value_start
from fleetprompt_host.tools_sync import splice_tools

Run = Callable[..., Result]
Make = Callable[..., Path]

#: A hand-formatted manifest: compact arrays, unusual key order, a stale tools section.
HAND_WRITTEN = """{
    "version": "0.3.0",
    "name": "notes",
    "tools": [{"name": "old_tool", "description": "Gone.", "effect": "read",
               "parameters": {"type": "object"}}],
    "display_name": "Notes",
    "permissions": ["records:read", "directives:request", "directives:handle",
                    "signals:subscribe"],
    "directives": [ {"type": "notes.note.create"} ],
    "signals": {"subscribes": [{"handler": "on_contact_created", "pattern": "crm.contact.*"}]}
}
"""


def _outside_tools(text: str) -> str:
    """The file's text with the tools value cut out."""
    [tools] = [s for s in children(text, value_start(text)) if s.key == "tools"]
    return text[: tools.value_start] + text[tools.value_end :]


def test_sync_round_trip_keeps_everything_but_tools_byte_for_byte(
    run_cli: Run, make_package: Make
) -> None:
    root = make_package("notes", manifest_text=HAND_WRITTEN)
    manifest = root / "src" / "notes" / "fleetprompt.json"
    stale = run_cli("tools", "sync", "--check", str(root))
    assert stale.exit_code == 1
    assert '-    "tools": [{"name": "old_tool"' in stale.output
    assert manifest.read_text() == HAND_WRITTEN, "--check writes nothing"

    synced = run_cli("tools", "sync", str(root))
    assert synced.exit_code == 0, synced.output
    assert "regenerated (2 tools)" in synced.output
    after = manifest.read_text()
    assert _outside_tools(after) == _outside_tools(HAND_WRITTEN)
    data = json.loads(after)
    assert list(data) == ["version", "name", "tools", "display_name", "permissions",
                          "directives", "signals"]  # fmt: skip
    search, add = data["tools"]
    assert search["name"] == "search_notes" and add["name"] == "add_note"
    assert list(search) == ["name", "description", "effect", "requires_confirmation", "parameters"]
    assert add["directive"] == "notes.note.create" and add["requires_confirmation"] is True
    assert search["parameters"]["properties"]["query"]["description"] == "Words to look for."
    assert search["parameters"]["required"] == ["query"]
    assert '\n            "name": "search_notes"' in after, "the file's 4-space indent is kept"

    assert run_cli("tools", "sync", "--check", str(root)).exit_code == 0
    assert run_cli("validate", "--with-code", str(root)).exit_code == 0
    assert "up to date" in run_cli("tools", "sync", str(root)).output
    assert manifest.read_text() == after


def test_existing_tools_keep_their_order_and_new_ones_are_appended(
    run_cli: Run, make_package: Make, package_manifest: Callable[[str], dict]
) -> None:
    manifest = package_manifest("notes")
    manifest["tools"] = [{"name": "add_note"}]
    root = make_package("notes", manifest=manifest)
    assert run_cli("tools", "sync", str(root)).exit_code == 0
    data = json.loads((root / "src" / "notes" / "fleetprompt.json").read_text())
    assert [t["name"] for t in data["tools"]] == ["add_note", "search_notes"]


def test_missing_tools_section_is_added_where_the_model_puts_it() -> None:
    text = '{\n  "name": "notes",\n  "directives": [],\n  "agents": []\n}\n'
    after = splice_tools(text, [{"name": "ping"}])
    assert list(json.loads(after)) == ["name", "directives", "tools", "agents"]
    assert after.startswith('{\n  "name": "notes",\n  "directives": [],\n  "tools": [')
    assert json.loads(splice_tools("{}", []))["tools"] == []


def test_sync_of_a_package_that_fails_to_import_changes_nothing(
    run_cli: Run, make_package: Make
) -> None:
    root = make_package("notes", code="raise ImportError('missing dependency')\n")
    manifest = root / "src" / "notes" / "fleetprompt.json"
    before = manifest.read_text()
    result = run_cli("tools", "sync", str(root))
    assert result.exit_code == 1
    assert getattr(result.exception, "code", None) == "package-import-failed"
    assert manifest.read_text() == before


def test_sync_refuses_an_archive(run_cli: Run, tmp_path: Path) -> None:
    wheel = tmp_path / "notes-1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    result = run_cli("tools", "sync", str(wheel))
    assert result.exit_code != 0
    assert getattr(result.exception, "code", None) == "usage"
