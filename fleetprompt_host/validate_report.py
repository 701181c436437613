"""Rendering ``fleetprompt validate`` results: text, JSON, GitHub annotations, JUnit XML.

Every format names the rule-set version and the schema ``$id`` the manifests were
checked against, so a CI log says exactly which rules passed or failed a package.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from fleetprompt_sdk.errors import Problem
from fleetprompt_sdk.manifest import MANIFEST_SCHEMA_ID, RULESET_VERSION

from .json_paths import parse_json_path
from .json_spans import line_of, locate

FORMATS = ("text", "json", "github", "junit")


@dataclass
class TargetResult:
    """The outcome for one ``validate`` target (a directory, file, wheel or sdist)."""

    target: str
    origin: str
    problems: list[Problem] = field(default_factory=list)
    file: Path | None = None
    text: str | None = None
    name: str | None = None
    version: str | None = None

    def errors(self, strict: bool = False) -> list[Problem]:
        """The problems that make the target fail (warnings too when ``strict``)."""
        return [p for p in self.problems if strict or p.severity == "error"]

    def ok(self, strict: bool = False) -> bool:
        """True when nothing makes the target fail."""
        return not self.errors(strict)

    def line(self, problem: Problem) -> int | None:
        """The manifest line the problem points at, when the manifest is a file on disk."""
        # Lines only mean something in a manifest file on disk, not inside an archive.
        if self.text is None or self.file is None or self.file.suffix != ".json":
            return None
        offset = locate(self.text, parse_json_path(problem.path))
        return None if offset is None else line_of(self.text, offset)

    @property
    def label(self) -> str:
        """``crm 1.0.0`` when the manifest names itself, else the target."""
        if self.name and self.version:
            return f"{self.name} {self.version}"
        return self.name or self.target


def _counts(problems: Sequence[Problem]) -> str:
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    parts = [f"{errors} error{'s' * (errors != 1)}"]
    if warnings:
        parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
    return ", ".join(parts)


def render_text(results: Sequence[TargetResult], strict: bool = False) -> str:
    """Human-readable: one line per problem, ``file:line: severity [code] path: message``."""
    out = [f"fleetprompt validate: rule set {RULESET_VERSION} (schema {MANIFEST_SCHEMA_ID})"]
    for result in results:
        status = "ok" if result.ok(strict) else "FAIL"
        summary = _counts(result.problems) if result.problems else "valid"
        out.append(f"{status}  {result.label}  ({result.origin}): {summary}")
        for problem in result.problems:
            line = result.line(problem)
            where = f"{result.file}:{line}" if line else str(result.file or result.target)
            out.append(
                f"  {where}: {problem.severity} [{problem.code}] "
                f"{problem.path or '(root)'}: {problem.message}"
            )
    failed = sum(not r.ok(strict) for r in results)
    out.append(f"{len(results)} checked, {len(results) - failed} valid, {failed} invalid")
    return "\n".join(out) + "\n"


def _problem_json(problem: Problem, line: int | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": problem.code,
        "path": problem.path,
        "message": problem.message,
        "severity": problem.severity,
    }
    if line is not None:
        data["line"] = line
    return data


def render_json(results: Sequence[TargetResult], strict: bool = False) -> str:
    """One JSON document with the rule set, the schema id and every target's problems."""
    document = {
        "ruleset": RULESET_VERSION,
        "schema_id": MANIFEST_SCHEMA_ID,
        "valid": all(r.ok(strict) for r in results),
        "results": [
            {
                "target": r.target,
                "origin": r.origin,
                "file": str(r.file) if r.file else None,
                "name": r.name,
                "version": r.version,
                "valid": r.ok(strict),
                "problems": [_problem_json(p, r.line(p)) for p in r.problems],
            }
            for r in results
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(results: Sequence[TargetResult], strict: bool = False) -> str:
    """GitHub workflow commands: ``::error file=F,line=L,title=CODE::path: message``."""
    out = [
        f"::notice title=fleetprompt validate::rule set {RULESET_VERSION}, "
        f"schema {_escape_data(MANIFEST_SCHEMA_ID)}"
    ]
    for result in results:
        for problem in result.problems:
            level = "error" if problem.severity == "error" or strict else "warning"
            props = [f"file={_escape_property(str(result.file or result.target))}"]
            if (line := result.line(problem)) is not None:
                props.append(f"line={line}")
            props.append(f"title={_escape_property(problem.code)}")
            message = f"{problem.path or '(root)'}: {problem.message}"
            out.append(f"::{level} {','.join(props)}::{_escape_data(message)}")
    return "\n".join(out) + "\n"


def render_junit(results: Sequence[TargetResult], strict: bool = False) -> str:
    """A JUnit XML report: one test case per manifest, failing with its problems."""
    failures = sum(not r.ok(strict) for r in results)
    suites = ET.Element("testsuites", name="fleetprompt validate")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="fleetprompt validate",
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="ruleset", value=RULESET_VERSION)
    ET.SubElement(properties, "property", name="schema_id", value=MANIFEST_SCHEMA_ID)
    for result in results:
        case = ET.SubElement(
            suite, "testcase", classname="fleetprompt.validate", name=result.target
        )
        lines = [
            f"{p.severity} [{p.code}] {p.path or '(root)'}: {p.message}" for p in result.problems
        ]
        if not result.ok(strict):
            failing = result.errors(strict)
            failure = ET.SubElement(
                case,
                "failure",
                message=f"{len(failing)} problem(s): "
                + ", ".join(sorted({p.code for p in failing})),
                type="manifest-invalid",
            )
            failure.text = "\n".join(lines)
        elif lines:
            ET.SubElement(case, "system-out").text = "\n".join(lines)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


RENDERERS: dict[str, Callable[[Sequence[TargetResult], bool], str]] = {
    "text": render_text,
    "json": render_json,
    "github": render_github,
    "junit": render_junit,
}
