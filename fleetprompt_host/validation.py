"""Manifest validation: the published JSON Schema first, then the semantic rules.

``validate_document`` never raises for bad input: every finding is a
:class:`~fleetprompt_sdk.errors.Problem` with a stable code and a JSON path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from fleetprompt_sdk.errors import Problem
from fleetprompt_sdk.manifest import (
    MANIFEST_SCHEMA_ID,
    RULESET_VERSION,
    Manifest,
    manifest_json_schema,
)


@dataclass
class ValidationReport:
    """The outcome of validating one manifest document."""

    origin: str
    problems: list[Problem] = field(default_factory=list)
    manifest: Manifest | None = None
    ruleset: str = RULESET_VERSION
    schema_id: str = MANIFEST_SCHEMA_ID

    @property
    def ok(self) -> bool:
        """True when no problem of severity ``error`` was found."""
        return not any(p.severity == "error" for p in self.problems)


@lru_cache(maxsize=1)
def _schema_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(manifest_json_schema())


def json_path(parts: Any) -> str:
    """Render a sequence of keys and indexes as ``tools[2].parameters.type``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def schema_problems(data: object) -> list[Problem]:
    """Return the problems the published JSON Schema finds, most specific first."""
    problems: list[Problem] = []
    for error in sorted(_schema_validator().iter_errors(data), key=lambda e: list(e.path)):
        problems.append(
            Problem(
                code=f"schema-{error.validator}",
                path=json_path(error.absolute_path),
                message=error.message,
            )
        )
    return problems


def validate_document(data: object, origin: str = "<manifest>") -> ValidationReport:
    """Validate raw manifest JSON; return a report with every problem found."""
    report = ValidationReport(origin=origin)
    report.problems.extend(schema_problems(data))
    if report.problems:
        return report
    report.manifest = Manifest.model_validate(data)
    return report
