"""docs/errors.md documents every code the validator can report, with an example and a fix."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from fleetprompt_host.problem_codes import CODES, schema_code
from fleetprompt_sdk.manifest import manifest_json_schema

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "errors.md").read_text()
#: The modules whose problems ``fleetprompt validate`` reports.
SOURCES = [
    ROOT / "fleetprompt_host" / name
    for name in (
        "schema_problems.py",
        "validation.py",
        "manifest_sources.py",
        "package_locator.py",
        "code_check.py",
        "code_drift.py",
    )
] + sorted((ROOT / "fleetprompt_host" / "semantic_rules").glob("*.py"))
CODE_SHAPE = re.compile(r"^[a-z]+(-[a-z0-9]+)+$")


def _section(code: str) -> str:
    match = re.search(rf"^### `{re.escape(code)}`\n(.*?)(?=^#{{2,3}} |\Z)", DOC, re.M | re.S)
    assert match, f"docs/errors.md has no section for {code}"
    return match.group(1)


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_registered_code_has_a_section_with_an_example_and_a_fix(code: str) -> None:
    section = _section(code)
    assert "**Example:**" in section, code
    assert "**Fix:**" in section, code


def _codes_in_source(path: Path) -> set[str]:
    """String codes passed to Problem/CheckFailed/errors as first argument or ``code=``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        candidates = [kw.value for kw in node.keywords if kw.arg == "code"]
        if name in ("Problem", "CheckFailed") and node.args:
            candidates.append(node.args[0])
        for value in candidates:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(value.value)
    return found


def test_every_code_named_in_the_validator_source_is_registered() -> None:
    named = set().union(*(_codes_in_source(path) for path in SOURCES))
    assert len(named) > 40, "the scan finds the codes"
    assert {c for c in named if CODE_SHAPE.match(c)} - set(CODES) == set()


def test_every_schema_keyword_maps_to_a_registered_code() -> None:
    keywords: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            keywords.update(k for k in node if not k.startswith("$") and k[0].islower())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(manifest_json_schema())
    validation = {"type", "pattern", "required", "additionalProperties", "enum", "const",
                  "minLength", "maxLength", "anyOf", "items"}  # fmt: skip
    for keyword in keywords & validation - {"items"}:
        assert schema_code(keyword) != "schema-invalid", keyword
    assert schema_code("additionalProperties") == "schema-additional-properties"
    assert schema_code("somethingNew") == "schema-invalid"
