"""Manifest validation: the published JSON Schema first, then the semantic rules.

``validate_document`` never raises for bad input, whatever its shape: every finding is a
:class:`~fleetprompt_sdk.errors.Problem` with a stable code (registered in
:mod:`fleetprompt_host.problem_codes`, explained in docs/errors.md) and a JSON path.
Structural and semantic problems are reported together, so one run shows everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fleetprompt_sdk.errors import Problem
from fleetprompt_sdk.manifest import (
    MANIFEST_SCHEMA_ID,
    RULESET_VERSION,
    Manifest,
)

from .json_paths import json_path
from .schema_problems import schema_problems
from .semantic_rules import ManifestView, guarded, semantic_problems
from .semantic_rules.graph import graph_problems

__all__ = [
    "ValidationReport",
    "json_path",
    "schema_problems",
    "validate_document",
    "validate_documents",
]


@dataclass
class ValidationReport:
    """The outcome of validating one manifest document.

    ``manifest`` is the parsed model when the document is structurally valid (it may
    still have semantic problems: check :attr:`ok`).
    """

    origin: str
    problems: list[Problem] = field(default_factory=list)
    manifest: Manifest | None = None
    ruleset: str = RULESET_VERSION
    schema_id: str = MANIFEST_SCHEMA_ID

    @property
    def ok(self) -> bool:
        """True when no problem of severity ``error`` was found."""
        return not any(p.severity == "error" for p in self.problems)


def _add(report: ValidationReport, problems: Sequence[Problem]) -> None:
    seen = {(p.code, p.path) for p in report.problems}
    for problem in problems:
        if (problem.code, problem.path) not in seen:
            seen.add((problem.code, problem.path))
            report.problems.append(problem)


def _parse(data: object) -> Manifest | None:
    try:
        return Manifest.model_validate(data)
    except Exception:  # the schema accepted it, so this is the model disagreeing: ignore
        return None


def validate_document(data: object, origin: str = "<manifest>") -> ValidationReport:
    """Validate raw manifest JSON; return a report with every problem found. Never raises."""
    report = ValidationReport(origin=origin)
    structural = list(guarded(lambda: schema_problems(data), "json-schema"))
    _add(report, structural)
    _add(report, semantic_problems(data))
    if not structural:
        report.manifest = _parse(data)
    return report


def validate_documents(documents: Sequence[tuple[object, str]]) -> list[ValidationReport]:
    """Validate several manifests together: each on its own, then the rules across them
    (dependency cycles, dependency versions, references into a dependency's manifest)."""
    reports = [validate_document(data, origin) for data, origin in documents]
    views = [ManifestView(data) for data, _ in documents]
    try:
        across = graph_problems(views)
    except Exception as exc:  # one broken rule may not hide the per-document findings
        failure = Problem("validator-internal-error", "", f"graph rules failed: {exc!r}")
        across = [[failure] for _ in views]
    for report, problems in zip(reports, across, strict=True):
        _add(report, problems)
    return reports
