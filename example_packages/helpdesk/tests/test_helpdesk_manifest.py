"""The helpdesk manifest is valid, matches the code, and declares its secret safely."""

from __future__ import annotations

from importlib.metadata import distribution, entry_points
from typing import Any

from fleetprompt_host.validation import validate_document
from fleetprompt_sdk.manifest import Manifest


def test_manifest_passes_validation_without_findings(manifest: dict[str, Any]) -> None:
    report = validate_document(manifest, "helpdesk")
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
    (ep,) = [e for e in entry_points(group="fleetprompt.packages") if e.name == "helpdesk"]
    assert ep.load() is package
    assert distribution("fleetprompt-helpdesk").version == manifest["version"] == "2.0.0"


def test_webhook_token_is_the_only_secret_and_has_no_default(manifest: dict[str, Any]) -> None:
    model = Manifest.model_validate(manifest)
    assert model.secret_fields() == ["webhook_token"]
    assert "default" not in manifest["config"]["schema"]["properties"]["webhook_token"]


def test_bulk_close_needs_confirmation_and_an_admin(manifest: dict[str, Any]) -> None:
    model = Manifest.model_validate(manifest)
    tool = model.tool("bulk_close_tickets")
    assert tool is not None and tool.requires_confirmation
    directive = model.directive("helpdesk.tickets.bulk_close")
    assert directive is not None and directive.required_role.value == "admin"
    assert [t.name for t in model.tools if t.requires_confirmation] == ["bulk_close_tickets"]


def test_every_subscription_and_directive_has_a_handler(
    manifest: dict[str, Any], package: Any
) -> None:
    subscribed = {s["handler"] for s in manifest["signals"]["subscribes"]}
    assert {h.name for h in package.fleetprompt_signal_handlers()} == subscribed
    declared = {d["type"] for d in manifest["directives"]}
    assert {h.type for h in package.fleetprompt_directive_handlers()} == declared
