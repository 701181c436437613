"""``fleetprompt validate``: every output format and exit code, through click's runner,
plus real ``python -m fleetprompt_host validate`` subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from fleetprompt_sdk.manifest import MANIFEST_SCHEMA_ID, RULESET_VERSION

Run = Callable[..., Result]


@pytest.fixture
def good(tmp_path: Path, valid_manifest: dict) -> Path:
    path = tmp_path / "good" / "fleetprompt.json"
    path.parent.mkdir()
    path.write_text(json.dumps(valid_manifest, indent=2) + "\n")
    return path


@pytest.fixture
def bad(tmp_path: Path, valid_manifest: dict) -> Path:
    valid_manifest["tools"][0]["parameters"]["properties"]["limit"]["type"] = "int"
    valid_manifest["permissions"].append("records:read")  # a warning as well
    path = tmp_path / "bad" / "fleetprompt.json"
    path.parent.mkdir()
    path.write_text(json.dumps(valid_manifest, indent=2) + "\n")
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_text_output_names_ruleset_and_schema_and_exits_0_when_valid(
    run_cli: Run, good: Path
) -> None:
    result = run_cli("validate", str(good))
    assert result.exit_code == 0, result.output
    assert f"rule set {RULESET_VERSION}" in result.output and MANIFEST_SCHEMA_ID in result.output
    assert "ok  acme 1.2.0" in result.output
    assert "1 checked, 1 valid, 0 invalid" in result.output


def test_text_output_gives_file_line_code_path_and_message_and_exits_1(
    run_cli: Run, bad: Path
) -> None:
    result = run_cli("validate", str(bad.parent))
    assert result.exit_code == 1
    line = _line_of(bad, '"limit"') + 1  # the "type" key inside "limit"
    assert (
        f"{bad}:{line}: error [invalid-embedded-schema] "
        "tools[0].parameters.properties.limit.type: not a valid JSON Schema"
    ) in result.output
    assert "warning [duplicate-permission] permissions[7]" in result.output
    assert "FAIL  acme 1.2.0" in result.output


def test_json_output_is_one_document_with_every_problem(
    run_cli: Run, good: Path, bad: Path
) -> None:
    result = run_cli("validate", "--format", "json", str(good), str(bad))
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert document["ruleset"] == RULESET_VERSION and document["schema_id"] == MANIFEST_SCHEMA_ID
    assert document["valid"] is False
    ok, failed = document["results"]
    assert ok["valid"] and ok["problems"] == [] and ok["name"] == "acme"
    assert not failed["valid"]
    assert {(p["code"], p["path"], p["severity"]) for p in failed["problems"]} == {
        ("invalid-embedded-schema", "tools[0].parameters.properties.limit.type", "error"),
        ("duplicate-permission", "permissions[7]", "warning"),
    }
    assert all(isinstance(p["line"], int) for p in failed["problems"])


def test_json_flag_is_shorthand_for_json_format(run_cli: Run, good: Path) -> None:
    assert json.loads(run_cli("validate", "--json", str(good)).output)["valid"] is True


def test_github_format_prints_workflow_annotations(run_cli: Run, bad: Path) -> None:
    result = run_cli("validate", "--format", "github", str(bad))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("::notice title=fleetprompt validate::rule set 1.0")
    line = _line_of(bad, '"limit"') + 1
    assert (
        f"::error file={bad},line={line},title=invalid-embedded-schema::"
        "tools[0].parameters.properties.limit.type: not a valid JSON Schema"
    ) in result.output
    assert any(x.startswith("::warning ") and "title=duplicate-permission" in x for x in lines)


def test_github_annotation_values_are_escaped(
    run_cli: Run, tmp_path: Path, valid_manifest: dict
) -> None:
    valid_manifest["unknown,key"] = "x"
    path = tmp_path / "a,b" / "fleetprompt.json"
    path.parent.mkdir()
    path.write_text(json.dumps(valid_manifest))
    result = run_cli("validate", "--format", "github", str(path))
    assert "file=" + str(path).replace(",", "%2C") in result.output
    assert all(line.count("::") == 2 for line in result.output.splitlines())


def test_junit_report_has_one_testcase_per_manifest(
    run_cli: Run, good: Path, bad: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.xml"
    result = run_cli("validate", "--format", "junit", "-o", str(report), str(good), str(bad))
    assert result.exit_code == 1 and result.output == ""
    suites = ET.fromstring(report.read_text())
    suite = suites.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"ruleset": RULESET_VERSION, "schema_id": MANIFEST_SCHEMA_ID}
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [str(good), str(bad)]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None and "invalid-embedded-schema" in (failure.get("message") or "")
    assert "tools[0].parameters.properties.limit.type" in (failure.text or "")


def test_warnings_pass_unless_strict(run_cli: Run, tmp_path: Path, valid_manifest: dict) -> None:
    valid_manifest["permissions"].append("records:read")
    path = tmp_path / "fleetprompt.json"
    path.write_text(json.dumps(valid_manifest))
    assert run_cli("validate", str(path)).exit_code == 0
    strict = run_cli("validate", "--strict", "--format", "junit", str(path))
    assert strict.exit_code == 1 and "<failure" in strict.output


def test_several_paths_are_checked_together_for_dependency_cycles(
    run_cli: Run, tmp_path: Path
) -> None:
    paths = []
    for name, dep in (("alpha", "beta"), ("beta", "alpha")):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"name": name, "version": "1.0", "display_name": name,
                                    "dependencies": [{"name": dep}]}))  # fmt: skip
        paths.append(str(path))
    result = run_cli("validate", *paths)
    assert result.exit_code == 1
    assert result.output.count("[dependency-cycle]") == 2
    assert "alpha -> beta -> alpha" in result.output
    assert run_cli("validate", paths[0]).exit_code == 0


def test_unreadable_manifest_is_reported_with_its_code(run_cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "fleetprompt.json"
    path.write_text('{"name": "crm",}')
    result = run_cli("validate", "--format", "json", str(path))
    assert result.exit_code == 1
    [target] = json.loads(result.output)["results"]
    assert target["problems"][0]["code"] == "manifest-not-json"
    assert "line 1" in target["problems"][0]["message"]


@pytest.mark.parametrize(
    "args",
    [
        ("validate",),
        ("validate", "--format", "yaml", "fleetprompt.json"),
        ("validate", "does/not/exist"),
    ],
    ids=["no-path", "unknown-format", "missing-path"],
)
def test_usage_errors_exit_2(run_cli: Run, args: tuple[str, ...], good: Path) -> None:
    args = tuple(str(good) if a == "fleetprompt.json" else a for a in args)
    result = run_cli(*args)
    assert result.exit_code == 2, result.output


def _fleetprompt(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetprompt_host", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_real_process_exit_codes_and_output(good: Path, bad: Path, tmp_path: Path) -> None:
    valid = _fleetprompt("validate", str(good), cwd=tmp_path)
    assert valid.returncode == 0, valid.stderr
    assert MANIFEST_SCHEMA_ID in valid.stdout
    invalid = _fleetprompt("validate", "--format", "github", str(bad), cwd=tmp_path)
    assert invalid.returncode == 1
    assert "title=invalid-embedded-schema" in invalid.stdout
    assert "Traceback" not in invalid.stderr
    usage = _fleetprompt("validate", cwd=tmp_path)
    assert usage.returncode == 2 and "Missing argument" in usage.stderr
