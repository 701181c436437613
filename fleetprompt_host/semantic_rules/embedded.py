"""Rules for the JSON Schemas a manifest embeds: validity, refs, tool parameters,
defaults and secret config fields."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from fleetprompt_sdk.errors import Problem

from ..json_paths import PathPart, child
from .run_memo import may_hold_key, memoized
from .schema_walk import (
    Embedded,
    InstanceChecker,
    SchemaUnusable,
    is_usable,
    meta_errors,
    ref_errors,
    subschemas,
)
from .view import ManifestView


def embedded_schemas(view: ManifestView) -> Iterator[Embedded]:
    """Yield every embedded schema of the manifest that is a JSON object."""
    config = view.section("config", "schema")
    if isinstance(config, dict):
        yield Embedded("config.schema", "config", config)
    places = (
        (("collections",), "schema", "collection"),
        (("signals", "emits"), "schema", "signal"),
        (("directives",), "params", "directive"),
        (("tools",), "parameters", "tool"),
    )
    for keys, field, kind in places:
        for entry in view.entries(*keys):
            schema = entry.data.get(field)
            if isinstance(schema, dict):
                yield Embedded(entry.at(field), kind, schema)


def check_embedded_schemas(view: ManifestView) -> Iterator[Problem]:
    """Every embedded schema is valid draft 2020-12 and its ``$ref``s resolve locally."""
    for embedded in embedded_schemas(view):
        for parts, message in meta_errors(embedded.schema):
            yield Problem(
                "invalid-embedded-schema",
                child(embedded.path, *parts),
                f"not a valid JSON Schema (draft 2020-12): {message}",
            )
        for parts, message in ref_errors(embedded.schema):
            yield Problem("unresolvable-ref", child(embedded.path, *parts), message)


def check_tool_parameters(view: ManifestView) -> Iterator[Problem]:
    """A tool's parameters schema is an object schema (function calling requires it)."""
    for entry in view.entries("tools"):
        schema = entry.data.get("parameters")
        if isinstance(schema, dict) and schema.get("type") != "object":
            yield Problem(
                "tool-parameters-not-object",
                entry.at("parameters", "type"),
                f'tool parameters must be an object schema ("type": "object"), '
                f"not {schema.get('type', 'untyped')!r}",
            )


#: One finding of the defaults check: code, parts relative to the schema, message.
Finding = tuple[str, tuple[PathPart, ...], str]


def _default_findings(schema: dict[str, Any]) -> tuple[Finding, ...]:
    """Return what :func:`check_defaults` reports for one embedded schema."""
    findings: list[Finding] = []
    if not may_hold_key(schema, "default") or not is_usable(schema):
        return ()
    checker = InstanceChecker(schema)
    for parts, sub in subschemas(schema):
        if "default" not in sub:
            continue
        try:
            errors = checker.errors(sub["default"], parts)
        except SchemaUnusable as exc:
            findings.append(("invalid-embedded-schema", parts, f"unusable: {exc}"))
            break
        for inner, message in errors[:1]:
            findings.append(
                (
                    "default-invalid",
                    (*parts, "default", *inner),
                    f"default {sub['default']!r} does not satisfy its own schema: {message}",
                )
            )
    return tuple(findings)


def check_defaults(view: ManifestView) -> Iterator[Problem]:
    """Every ``default`` inside an embedded schema satisfies the schema it sits in."""
    for embedded in embedded_schemas(view):
        findings = partial(_default_findings, embedded.schema)
        for code, parts, message in memoized("defaults", embedded.schema, findings):
            yield Problem(code, child(embedded.path, *parts), message)


def check_secrets(view: ManifestView) -> Iterator[Problem]:
    """``"secret"`` is a boolean on top-level config properties only, and secrets have no default.

    A default would ship the secret in the manifest for everyone to read; a ``secret``
    flag anywhere else would be silently ignored by the runtime, which only encrypts
    top-level config fields.
    """
    top_level: set[tuple[str, ...]] = set()
    properties = view.section("config", "schema", "properties")
    if isinstance(properties, dict):
        for name, prop in properties.items():
            if not isinstance(prop, dict) or "secret" not in prop:
                continue
            top_level.add(("properties", str(name)))
            path = child("config.schema.properties", str(name))
            flag = prop["secret"]
            if not isinstance(flag, bool):
                yield Problem(
                    "invalid-secret-flag",
                    child(path, "secret"),
                    f"'secret' must be true or false, not {flag!r}",
                )
            elif flag and "default" in prop:
                yield Problem(
                    "secret-with-default",
                    child(path, "default"),
                    f"secret config field {name!r} has a default; secrets are supplied by "
                    "the operator at install time",
                )
    for embedded in embedded_schemas(view):
        if not may_hold_key(embedded.schema, "secret"):
            continue
        for parts, sub in subschemas(embedded.schema):
            if "secret" not in sub:
                continue
            if embedded.kind == "config" and tuple(map(str, parts)) in top_level:
                continue
            yield Problem(
                "misplaced-secret",
                child(embedded.path, *parts, "secret"),
                "'secret' is honoured only on top-level properties of config.schema; "
                "anywhere else the value would be stored in clear",
            )


RULES = (check_embedded_schemas, check_tool_parameters, check_defaults, check_secrets)
