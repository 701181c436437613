"""The draft 2020-12 metaschema, official and flattened, for checking embedded schemas.

The official metaschema is an ``allOf`` of seven vocabulary metaschemas that reach back
to the top through ``$dynamicRef: "#meta"``; jsonschema resolves those dynamically on
every subschema, which makes checking a small embedded schema cost about a millisecond.

When the instance being checked is a plain schema (not itself a metaschema), every
``$dynamicRef: "#meta"`` resolves to the top-level metaschema, so the same constraints
can be written statically: one object whose ``properties`` are the union of the
vocabularies' ``properties`` (no keyword appears in two of them), each ``$dynamicRef``
becoming ``$ref: "#"`` and each other ``$ref`` replaced by the subschema it names.
:func:`flat_metaschema` builds that document from the official ones at run time (never
from a copy), and gives up (returns None) on any shape it was not written for, so a
future jsonschema release with different metaschemas falls back to the official one.
The tests compare the two validators' findings over the invalid-manifest corpus and
over generated schemas.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

#: The URI of the draft 2020-12 metaschema; vocabulary metaschemas are relative to it.
BASE = "https://json-schema.org/draft/2020-12/"
#: Keys of a metaschema document that assert nothing about the instance.
_DOCUMENT_KEYS = frozenset({"$schema", "$id", "$vocabulary", "$dynamicAnchor", "title", "$comment"})
#: The type every (vocabulary) metaschema requires of a schema.
_SCHEMA_TYPE = ["object", "boolean"]


class _Unexpected(Exception):
    """The official metaschemas are not shaped as this module expects."""


@lru_cache(maxsize=1)
def official_validator() -> Any:
    """Return the (cached) jsonschema validator of the official draft 2020-12 metaschema."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _vocabulary(relative: str) -> dict[str, Any]:
    from jsonschema_specifications import REGISTRY

    try:
        contents = REGISTRY[BASE + relative].contents
    except KeyError:
        raise _Unexpected(relative) from None
    if not isinstance(contents, dict):
        raise _Unexpected(relative)
    return contents


def _target(ref: str, document: dict[str, Any]) -> Any:
    """Return the subschema a static ``$ref`` of ``document`` names (``#/$defs/x``,
    ``meta/core#/$defs/x``)."""
    relative, _, fragment = ref.partition("#")
    source = _vocabulary(relative) if relative else document
    if not fragment.startswith("/$defs/") or fragment.count("/") != 2:
        raise _Unexpected(ref)
    defs = source.get("$defs")
    name = fragment.removeprefix("/$defs/")
    if not isinstance(defs, dict) or name not in defs:
        raise _Unexpected(ref)
    return _resolved(defs[name], source)


def _resolved(node: Any, document: dict[str, Any]) -> Any:
    """Return ``node`` with ``$dynamicRef: "#meta"`` made ``$ref: "#"`` and static refs inlined.

    An inlined target's keywords take the ``$ref``'s place, so jsonschema meets the
    assertions in the same order as it does through the reference.
    """
    if isinstance(node, list):
        return [_resolved(item, document) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$dynamicRef":
            if value != "#meta" or "$ref" in node:
                raise _Unexpected(value)
            out["$ref"] = "#"
        elif key == "$ref":
            target = _target(value, document) if isinstance(value, str) else None
            if not isinstance(target, dict):
                raise _Unexpected(value)
            for inner, inner_value in target.items():
                if inner in out or (inner in node and inner != "$ref"):
                    raise _Unexpected(value)
                out[inner] = inner_value
        elif key in ("$id", "$anchor", "$dynamicAnchor", "$defs"):
            raise _Unexpected(key)  # would open a scope or a target this module does not model
        else:
            out[key] = _resolved(value, document)
    return out


def _properties(document: dict[str, Any]) -> dict[str, Any]:
    """Return the resolved ``properties`` of one metaschema document, checking its shape."""
    asserting = set(document) - _DOCUMENT_KEYS - {"$defs", "allOf", "properties"}
    if asserting != {"type"} or document["type"] != _SCHEMA_TYPE:
        raise _Unexpected(sorted(asserting))
    properties = document.get("properties")
    if not isinstance(properties, dict):
        raise _Unexpected("properties")
    return {name: _resolved(sub, document) for name, sub in properties.items()}


def _build() -> dict[str, Any]:
    from jsonschema import Draft202012Validator

    top = Draft202012Validator.META_SCHEMA
    parts: list[dict[str, Any]] = []
    for item in top.get("allOf", []):
        ref = item.get("$ref") if isinstance(item, dict) else None
        if not isinstance(ref, str) or set(item) != {"$ref"} or not ref.startswith("meta/"):
            raise _Unexpected(item)
        vocabulary = _vocabulary(ref)
        if "allOf" in vocabulary:
            raise _Unexpected(ref)
        parts.append(_properties(vocabulary))
    parts.append(_properties({k: v for k, v in top.items() if k != "allOf"}))
    merged: dict[str, Any] = {}
    for properties in parts:
        for name, sub in properties.items():
            if name in merged:
                raise _Unexpected(name)
            merged[name] = sub
    return {"type": list(_SCHEMA_TYPE), "properties": merged}


@lru_cache(maxsize=1)
def flat_metaschema() -> dict[str, Any] | None:
    """Return the flattened draft 2020-12 metaschema, or None when it cannot be built."""
    try:
        return _build()
    except _Unexpected:
        return None


@lru_cache(maxsize=1)
def flat_validator() -> Any | None:
    """Return the (cached) validator of :func:`flat_metaschema`, or None without one."""
    from jsonschema import Draft202012Validator

    schema = flat_metaschema()
    if schema is None:
        return None
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
