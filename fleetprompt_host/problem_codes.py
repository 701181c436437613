"""The registry of every code the manifest validator, the drift check and the manifest
readers report.

Codes are part of the public contract: CI scripts match on them and ``docs/errors.md``
explains each one (a test fails when a code here is not documented there, and when the
validator's source names a code that is not registered here). Never rename a code; add a
new one and retire the old one in the docs instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Category = Literal[
    "source",
    "schema",
    "identity",
    "naming",
    "duplicate",
    "embedded",
    "reference",
    "permission",
    "dependency",
    "drift",
    "internal",
]


@dataclass(frozen=True)
class CodeInfo:
    """One registered code: its category and a one-line summary."""

    code: str
    category: Category
    summary: str


_ENTRIES: tuple[tuple[str, Category, str], ...] = (
    # -- reading the manifest ----------------------------------------------------------
    ("path-not-found", "source", "The path given does not exist."),
    ("manifest-not-found", "source", "No fleetprompt.json in the directory or archive."),
    ("manifest-ambiguous", "source", "Several manifests at the same depth; a package ships one."),
    ("manifest-not-json", "source", "The manifest is not UTF-8 JSON."),
    ("manifest-too-large", "source", "The manifest is larger than the size limit."),
    ("manifest-unreadable", "source", "The manifest file exists but cannot be read."),
    ("archive-invalid", "source", "The wheel or sdist cannot be read as an archive."),
    # -- structure (the published JSON Schema) -------------------------------------------
    ("schema-required", "schema", "A required field is missing."),
    ("schema-type", "schema", "A value has the wrong JSON type."),
    ("schema-pattern", "schema", "A name or type does not follow its naming rule."),
    ("schema-additional-properties", "schema", "A field the manifest format does not define."),
    ("schema-enum", "schema", "A value outside its closed vocabulary (effect, role)."),
    ("schema-const", "schema", "A value that must be one fixed constant is not."),
    ("schema-min-length", "schema", "A string is shorter than allowed (often: empty)."),
    ("schema-max-length", "schema", "A string is longer than allowed."),
    ("schema-minimum", "schema", "A number is below its minimum."),
    ("schema-maximum", "schema", "A number is above its maximum."),
    ("schema-min-items", "schema", "A list has too few items."),
    ("schema-max-items", "schema", "A list has too many items."),
    ("schema-unique-items", "schema", "A list repeats an item."),
    ("schema-any-of", "schema", "A value matches none of the shapes allowed."),
    ("schema-one-of", "schema", "A value does not match exactly one of the shapes allowed."),
    ("schema-format", "schema", "A string does not have the format required."),
    ("schema-invalid", "schema", "Any other structural error the JSON Schema reports."),
    ("unsupported-manifest-version", "schema", "manifest_version is not one this host reads."),
    ("unknown-permission", "schema", "A permission outside the closed vocabulary."),
    # -- identity and compatibility --------------------------------------------------------
    ("invalid-version", "identity", "version is not a PEP 440 version."),
    ("invalid-specifier", "identity", "A version constraint is not a PEP 440 specifier."),
    ("reserved-separator-in-name", "identity", "The package name contains '__'."),
    ("runtime-incompatible", "identity", "requires_fleetprompt excludes this runtime (warning)."),
    # -- naming ------------------------------------------------------------------------
    ("versioned-type", "naming", "A signal or directive type carries a version segment."),
    ("signal-outside-namespace", "naming", "An emitted signal type is outside '<package>.'."),
    ("directive-outside-namespace", "naming", "A handled directive type is outside '<package>.'."),
    ("tool-name-too-long", "naming", "'<package>__<tool>' is longer than 64 characters."),
    # -- uniqueness ----------------------------------------------------------------------
    ("duplicate-tool", "duplicate", "Two tools share a name."),
    ("duplicate-directive", "duplicate", "A directive type is declared twice."),
    ("duplicate-collection", "duplicate", "Two collections share a name."),
    ("duplicate-agent", "duplicate", "Two agent profiles share a name."),
    ("duplicate-subscription", "duplicate", "A handler subscribes to the same pattern twice."),
    ("duplicate-signal", "duplicate", "An emitted signal type is declared twice."),
    ("duplicate-dependency", "duplicate", "A dependency is listed twice."),
    ("duplicate-seed", "duplicate", "Two seed records share a collection and key."),
    ("duplicate-permission", "duplicate", "A permission is listed twice (warning)."),
    ("duplicate-agent-tool", "duplicate", "An agent lists the same tool twice (warning)."),
    # -- embedded JSON Schemas -----------------------------------------------------------
    ("invalid-embedded-schema", "embedded", "An embedded schema is not valid draft 2020-12."),
    ("unresolvable-ref", "embedded", "A $ref in an embedded schema points nowhere."),
    ("tool-parameters-not-object", "embedded", "A tool's parameters schema is not type object."),
    ("default-invalid", "embedded", "A default value does not satisfy its own schema."),
    ("secret-with-default", "embedded", "A secret config field has a default."),
    ("misplaced-secret", "embedded", "'secret' outside the top-level config properties."),
    ("invalid-secret-flag", "embedded", "'secret' is not true or false."),
    # -- references between sections ----------------------------------------------------
    ("unknown-agent-tool", "reference", "An agent profile names a tool nobody declares."),
    ("write-tool-without-directive", "reference", "A write tool names no directive."),
    ("read-tool-with-directive", "reference", "A read tool names a directive."),
    ("unknown-tool-directive", "reference", "A write tool's directive is handled by nobody known."),
    ("unknown-seed-collection", "reference", "A seed record names an undeclared collection."),
    ("seed-invalid", "reference", "A seed record does not satisfy its collection schema."),
    # -- permissions ---------------------------------------------------------------------
    ("missing-permission", "permission", "A section needs a permission not declared (warning)."),
    # -- several manifests together --------------------------------------------------------
    ("dependency-cycle", "dependency", "A package depends on itself, directly or in a cycle."),
    ("dependency-version-mismatch", "dependency", "A dependency's version misses the constraint."),
    # -- code drift (--with-code) ----------------------------------------------------------
    ("tool-drift", "drift", "Tools in code and manifest differ."),
    ("handler-drift", "drift", "Handlers in code and manifest differ."),
    ("package-import-failed", "drift", "The package could not be imported for the drift check."),
    ("package-hook-failed", "drift", "A contribution hook raised during the drift check."),
    ("package-object-not-found", "drift", "No Package or plugin object found in the module."),
    # -- the validator itself --------------------------------------------------------------
    ("validator-internal-error", "internal", "A rule failed unexpectedly (please report it)."),
)

CODES: dict[str, CodeInfo] = {code: CodeInfo(code, cat, text) for code, cat, text in _ENTRIES}


def is_registered(code: str) -> bool:
    """Return True when ``code`` is a documented validator code."""
    return code in CODES


def schema_code(keyword: str) -> str:
    """Return the code of a JSON Schema keyword error (``additionalProperties`` ->
    ``schema-additional-properties``); unregistered keywords map to ``schema-invalid``."""
    kebab = "".join(f"-{c.lower()}" if c.isupper() else c for c in keyword)
    code = f"schema-{kebab}"
    return code if code in CODES else "schema-invalid"
