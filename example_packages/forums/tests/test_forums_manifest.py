"""The forums manifest is valid, matches the code, and its agent only reads."""

from __future__ import annotations

from importlib.metadata import distribution, entry_points
from typing import Any

from fleetprompt_host.validation import validate_document


def test_manifest_passes_validation_without_findings(manifest: dict[str, Any]) -> None:
    report = validate_document(manifest, "forums")
    assert report.ok, [str(p) for p in report.problems]
    assert report.problems == []


def test_manifest_tools_section_is_what_the_code_generates(
    manifest: dict[str, Any], package: Any
) -> None:
    generated = [
        t.to_spec().model_dump(mode="json", by_alias=True) for t in package.fleetprompt_tools()
    ]
    assert manifest["tools"] == generated


def test_entry_point_loads_the_package_and_versions_agree(
    manifest: dict[str, Any], package: Any
) -> None:
    (ep,) = [e for e in entry_points(group="fleetprompt.packages") if e.name == "forums"]
    assert ep.load() is package
    assert distribution("fleetprompt-forums").version == manifest["version"]


def test_forum_helper_uses_exactly_the_read_tools(manifest: dict[str, Any]) -> None:
    (agent,) = manifest["agents"]
    reads = {t["name"] for t in manifest["tools"] if t["effect"] == "read"}
    assert agent["name"] == "forum_helper"
    assert set(agent["tools"]) == reads == {"list_threads", "get_thread", "search_posts"}


def test_moderation_directives_need_an_admin(manifest: dict[str, Any], package: Any) -> None:
    roles = {d["type"]: d["required_role"] for d in manifest["directives"]}
    assert roles == {
        "forums.thread.create": "member",
        "forums.post.create": "member",
        "forums.thread.lock": "admin",
        "forums.post.hide": "admin",
    }
    assert {h.type for h in package.fleetprompt_directive_handlers()} == set(roles)
