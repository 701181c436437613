"""The committed schema and the manifest reference are generated from the model and current."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from fleetprompt_host import schema_export
from fleetprompt_host.manifest_reference import BEGIN, END
from fleetprompt_sdk.manifest import MANIFEST_SCHEMA_ID, RULESET_VERSION, manifest_json_schema

ROOT = Path(__file__).resolve().parents[3]


def test_committed_schema_and_reference_tables_are_current() -> None:
    stale = [str(a.path) for a in schema_export.artifacts(ROOT) if a.stale]
    assert not stale, f"regenerate with python -m fleetprompt_host.schema_export: {stale}"
    assert {a.path.name for a in schema_export.artifacts(ROOT)} == {
        "manifest.schema.json",
        "manifest.md",
    }


def test_schema_id_carries_the_ruleset_version_and_the_schema_is_valid_2020_12() -> None:
    committed = json.loads((ROOT / "schemas" / "manifest.schema.json").read_text())
    assert committed["$id"] == MANIFEST_SCHEMA_ID
    assert f"/{RULESET_VERSION}/" in committed["$id"]
    assert committed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(committed)
    assert committed == manifest_json_schema()


@pytest.fixture
def checkout_copy(tmp_path: Path) -> Path:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "schemas" / "manifest.schema.json", tmp_path / "schemas")
    shutil.copy(ROOT / "docs" / "manifest.md", tmp_path / "docs")
    return tmp_path


def _export(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetprompt_host.schema_export", "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_exits_1_on_a_stale_schema_and_export_repairs_it(checkout_copy: Path) -> None:
    schema = checkout_copy / "schemas" / "manifest.schema.json"
    schema.write_text(schema.read_text().replace('"title": "Manifest"', '"title": "Old"'))
    stale = _export(checkout_copy, "--check")
    assert stale.returncode == 1 and "manifest.schema.json" in stale.stdout
    assert _export(checkout_copy).returncode == 0
    assert _export(checkout_copy, "--check").returncode == 0
    assert schema.read_text() == schema_export.schema_text()


def test_check_exits_1_when_the_reference_tables_are_stale(checkout_copy: Path) -> None:
    doc = checkout_copy / "docs" / "manifest.md"
    text = doc.read_text()
    doc.write_text(text.replace("| `display_name` |", "| `title` |"))
    result = _export(checkout_copy, "--check")
    assert result.returncode == 1 and "manifest.md" in result.stdout
    _export(checkout_copy)
    assert doc.read_text() == text


def test_reference_without_markers_is_an_error_not_a_silent_skip(checkout_copy: Path) -> None:
    doc = checkout_copy / "docs" / "manifest.md"
    doc.write_text(doc.read_text().replace(BEGIN, "").replace(END, ""))
    result = _export(checkout_copy, "--check")
    assert result.returncode == 2 and "markers" in result.stderr


def test_reference_documents_every_manifest_field() -> None:
    text = (ROOT / "docs" / "manifest.md").read_text()
    schema = manifest_json_schema()
    for field in schema["properties"]:
        assert f"| `{field}` |" in text
    for definition in schema["$defs"].values():
        for field in definition.get("properties", {}):
            assert f"| `{field}` |" in text


def test_full_manifest_examples_in_the_reference_are_valid() -> None:
    from fleetprompt_host.validation import validate_document

    blocks = re.findall(r"```json\n(.*?)```", (ROOT / "docs" / "manifest.md").read_text(), re.S)
    manifests = [json.loads(b) for b in blocks if b.lstrip().startswith("{")]
    assert manifests, "the reference shows a complete manifest"
    for manifest in manifests:
        report = validate_document(manifest, "docs/manifest.md")
        assert report.problems == [], report.problems
