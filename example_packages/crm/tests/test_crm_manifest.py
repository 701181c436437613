"""The crm manifest is valid, matches the code, and the distribution exposes the package."""

from __future__ import annotations

from importlib.metadata import distribution, entry_points
from typing import Any

from fleetprompt_host.validation import validate_document


def test_manifest_passes_validation_without_findings(manifest: dict[str, Any]) -> None:
    report = validate_document(manifest, "crm")
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
    (ep,) = [e for e in entry_points(group="fleetprompt.packages") if e.name == "crm"]
    assert ep.load() is package
    assert distribution("fleetprompt-crm").version == manifest["version"]


def test_every_directive_has_a_handler_and_every_write_tool_a_declared_directive(
    manifest: dict[str, Any], package: Any
) -> None:
    declared = {d["type"] for d in manifest["directives"]}
    assert {h.type for h in package.fleetprompt_directive_handlers()} == declared
    writes = [t for t in manifest["tools"] if t["effect"] == "write"]
    assert writes and all(t["directive"] in declared for t in writes)
