"""The invalid-manifest corpus: each file shows one mistake and the exact problems it gets.

Every ``corpus/*.json`` is a manifest plus two keys the test strips: ``$why`` (the rule,
in words) and ``$expect`` (every problem, errors and warnings, as code and JSON path).
The set of problems must match exactly, so a file also proves no other rule misfires.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fleetprompt_host.problem_codes import CODES
from fleetprompt_host.validation import validate_document

CORPUS_FILES = sorted((Path(__file__).parent / "corpus").glob("*.json"))


def _load(path: Path) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    data = json.loads(path.read_text())
    expected = {(e["code"], e["path"]) for e in data.pop("$expect")}
    assert data.pop("$why"), f"{path.name} explains its mistake in $why"
    return data, expected


def test_corpus_has_at_least_thirty_invalid_manifests() -> None:
    assert len(CORPUS_FILES) >= 30


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_corpus_manifest_gets_exactly_its_expected_problems(path: Path) -> None:
    data, expected = _load(path)
    report = validate_document(data, path.name)
    assert {(p.code, p.path) for p in report.problems} == expected
    assert all(p.message for p in report.problems)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_corpus_expectations_use_registered_codes(path: Path) -> None:
    _, expected = _load(path)
    assert {code for code, _ in expected} <= set(CODES)


def test_corpus_files_with_an_error_fail_and_warning_only_files_pass() -> None:
    for path in CORPUS_FILES:
        data, _ = _load(path)
        report = validate_document(data, path.name)
        has_error = any(p.severity == "error" for p in report.problems)
        assert report.ok is not has_error, path.name
    assert any(validate_document(_load(p)[0]).ok for p in CORPUS_FILES), "warning cases exist"
