"""validate_document and validate_documents: the valid fixture, any input shape, and the
rules that look at several manifests together."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_host.validation import validate_document, validate_documents


def _codes(report: Any) -> set[tuple[str, str]]:
    return {(p.code, p.path) for p in report.problems}


def test_valid_fixture_passes_with_no_problem_and_is_parsed(valid_manifest: dict) -> None:
    report = validate_document(valid_manifest, "fixture")
    assert report.problems == []
    assert report.ok
    assert report.manifest is not None and report.manifest.name == "acme"
    assert report.manifest.secret_fields() == ["api_key"]


@pytest.mark.parametrize("data", [None, 5, "crm", [], [{"name": "crm"}], True, 1.5])
def test_a_document_that_is_not_an_object_gets_a_root_type_problem(data: object) -> None:
    report = validate_document(data)
    assert ("schema-type", "") in _codes(report)
    assert not report.ok and report.manifest is None


def test_schema_and_semantic_problems_are_reported_together(valid_manifest: dict) -> None:
    valid_manifest["display_name"] = ""
    valid_manifest["version"] = "not a version"
    valid_manifest["tools"][0]["parameters"]["properties"]["limit"]["default"] = "ten"
    report = validate_document(valid_manifest)
    assert _codes(report) == {
        ("schema-min-length", "display_name"),
        ("invalid-version", "version"),
        ("default-invalid", "tools[0].parameters.properties.limit.default"),
    }
    assert report.manifest is None


def test_semantic_rules_still_run_on_structurally_broken_documents(valid_manifest: dict) -> None:
    valid_manifest["tools"][1] = "not an object"
    valid_manifest["tools"][0]["parameters"]["type"] = "array"
    report = validate_document(valid_manifest)
    assert ("schema-type", "tools[1]") in _codes(report)
    assert ("tool-parameters-not-object", "tools[0].parameters.type") in _codes(report)


def test_every_missing_required_field_is_named_at_its_own_path() -> None:
    report = validate_document({"tools": [{}]})
    assert {
        ("schema-required", "name"),
        ("schema-required", "version"),
        ("schema-required", "display_name"),
        ("schema-required", "tools[0].name"),
        ("schema-required", "tools[0].description"),
        ("schema-required", "tools[0].parameters"),
        ("schema-required", "tools[0].effect"),
    } <= _codes(report)


def test_unknown_field_message_suggests_the_field_meant(valid_manifest: dict) -> None:
    valid_manifest["tools"][0]["descripton"] = "typo"
    [problem] = [p for p in validate_document(valid_manifest).problems]
    assert problem.path == "tools[0].descripton"
    assert "did you mean 'description'" in problem.message


def test_keys_that_are_not_identifiers_are_quoted_in_paths(valid_manifest: dict) -> None:
    props = valid_manifest["tools"][0]["parameters"]["properties"]
    props["first name"] = {"type": "strng"}
    report = validate_document(valid_manifest)
    assert ("invalid-embedded-schema", 'tools[0].parameters.properties["first name"].type') in (
        _codes(report)
    )


def test_namespace_rules_wait_for_a_valid_package_name(valid_manifest: dict) -> None:
    valid_manifest["name"] = "Acme"
    assert _codes(validate_document(valid_manifest)) == {("schema-pattern", "name")}


def test_secret_field_default_check_ignores_non_secret_fields(valid_manifest: dict) -> None:
    props = valid_manifest["config"]["schema"]["properties"]
    props["api_key"]["secret"] = False
    props["api_key"]["default"] = "public"
    assert validate_document(valid_manifest).problems == []


def _pkg(name: str, version: str = "1.0.0", deps: tuple[tuple[str, str], ...] = ()) -> dict:
    return {
        "name": name,
        "version": version,
        "display_name": name.title(),
        "dependencies": [{"name": d, "version": v} for d, v in deps],
    }


def test_dependency_cycle_across_manifests_is_reported_on_each_member() -> None:
    reports = validate_documents(
        [
            (_pkg("alpha", deps=(("beta", ""),)), "a"),
            (_pkg("beta", deps=(("gamma", ""),)), "b"),
            (_pkg("gamma", deps=(("alpha", ""),)), "c"),
            (_pkg("delta", deps=(("alpha", ""),)), "d"),
        ]
    )
    cycles = [[p for p in r.problems if p.code == "dependency-cycle"] for r in reports]
    assert [len(c) for c in cycles] == [1, 1, 1, 0]
    assert cycles[0][0].path == "dependencies[0].name"
    assert "alpha -> beta -> gamma -> alpha" in cycles[0][0].message
    assert reports[3].ok


def test_dependency_version_outside_the_constraint_is_reported() -> None:
    reports = validate_documents(
        [(_pkg("alpha", deps=(("beta", ">=2"),)), "a"), (_pkg("beta", "1.4.0"), "b")]
    )
    assert _codes(reports[0]) == {("dependency-version-mismatch", "dependencies[0].version")}
    assert reports[1].ok


def test_references_into_a_dependency_are_checked_when_it_is_validated_alongside(
    valid_manifest: dict,
) -> None:
    mailer = _pkg("mailer", "1.1.0")
    mailer["tools"] = [
        {"name": "send", "description": "Send.", "effect": "read", "parameters": {"type": "object"}}
    ]
    mailer["permissions"] = ["records:read"]
    valid_manifest["tools"][1]["directive"] = "mailer.message.send"
    valid_manifest["agents"][0]["tools"].append("mailer__forward")
    reports = validate_documents([(valid_manifest, "acme"), (mailer, "mailer")])
    assert _codes(reports[0]) >= {
        ("unknown-tool-directive", "tools[1].directive"),
        ("unknown-agent-tool", "agents[0].tools[3]"),
    }
    assert ("unknown-agent-tool", "agents[0].tools[2]") not in _codes(reports[0])


def test_a_single_manifest_may_reference_a_dependency_it_cannot_see(valid_manifest: dict) -> None:
    valid_manifest["tools"][1]["directive"] = "mailer.message.send"
    assert validate_documents([(valid_manifest, "acme")])[0].problems == []
