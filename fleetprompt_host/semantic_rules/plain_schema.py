"""A quick proof that an embedded schema satisfies the draft 2020-12 metaschema.

Nearly every embedded schema is made of everyday keywords (``type``, ``properties``,
``required``, ``description``, ``minimum``...) with values of the obvious types. For
those, :func:`plainly_valid` answers True in a few microseconds; for anything else it
answers False, which means only "not proven here": the caller then runs the full
metaschema, which also finds the error messages.

Why True is always right: the metaschema constrains only the keywords it names (its
``properties``) and lets every other key hold anything, and it constrains each named
keyword's value by one subschema. The table below handles a keyword only when the live
metaschema's subschema for it (in :func:`.metaschema.flat_metaschema`) is exactly one of
the :data:`KINDS` shapes, and each kind's check accepts a subset of the values that shape
accepts, with the very format checker the metaschema validator uses. Keywords of any
other shape (``$id``, ``$anchor``, ``$vocabulary``, ``dependentRequired``...) are never
proven here. The tests also compare this answer with the official metaschema's over the
invalid-manifest corpus and generated schemas.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from .metaschema import flat_metaschema

#: Schemas nested deeper than this are left to the full metaschema, which jsonschema
#: checks without running out of stack only up to some depth (80-odd levels, measured).
MAX_DEPTH = 16
#: The JSON Schema type names (the metaschema's ``simpleTypes``).
SIMPLE_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
_SCHEMA = {"$ref": "#"}

#: Metaschema subschemas this module knows how to check, by kind name.
KINDS: dict[str, Any] = {
    "anything": True,
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "number": {"type": "number"},
    "positive": {"type": "number", "exclusiveMinimum": 0},
    "count": {"type": "integer", "minimum": 0},
    "array": {"type": "array", "items": True},
    "regex": {"type": "string", "format": "regex"},
    "uri": {"type": "string", "format": "uri"},
    "uri-reference": {"type": "string", "format": "uri-reference"},
    "names": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
    "schema": _SCHEMA,
    "schemas": {"type": "array", "minItems": 1, "items": _SCHEMA},
    "schema-map": {"type": "object", "additionalProperties": _SCHEMA},
    "pattern-map": {
        "type": "object",
        "additionalProperties": _SCHEMA,
        "propertyNames": {"format": "regex"},
    },
    "type": {
        "anyOf": [
            {"enum": list(SIMPLE_TYPES)},
            {
                "type": "array",
                "items": {"enum": list(SIMPLE_TYPES)},
                "minItems": 1,
                "uniqueItems": True,
            },
        ]
    },
}
#: Keywords that annotate a metaschema subschema without constraining the value.
_ANNOTATIONS = frozenset({"$comment", "default", "deprecated", "title", "description"})


def _shape(sub: Any) -> str:
    """Return what ``sub`` asserts, as canonical JSON (top-level annotations left out).

    Only the top level is a sure schema position; deeper, a key named ``default`` may be
    a property name, so it is kept (and then simply matches no kind).
    """
    if isinstance(sub, dict):
        sub = {k: v for k, v in sub.items() if k not in _ANNOTATIONS}
    return json.dumps(sub, sort_keys=True)


@lru_cache(maxsize=1)
def keyword_kinds() -> tuple[dict[str, str], frozenset[str]]:
    """Return ``(kind by handled keyword, every keyword the metaschema names)``.

    Both are empty when the flattened metaschema could not be built: then nothing is
    proven here and every keyword is treated as named (so never skipped).
    """
    schema = flat_metaschema()
    if schema is None:
        return {}, frozenset()
    kinds: dict[str, str] = {}
    for keyword, sub in schema["properties"].items():
        shape = _shape(sub)
        for kind, expected in KINDS.items():
            if shape == json.dumps(expected, sort_keys=True):
                kinds[keyword] = kind
                break
    return kinds, frozenset(schema["properties"])


@lru_cache(maxsize=1)
def _format_checker() -> Any:
    from jsonschema import Draft202012Validator

    # The checker the metaschema validators are built with (see .metaschema).
    return Draft202012Validator.FORMAT_CHECKER


def _conforms(value: Any, fmt: str) -> bool:
    try:
        return bool(_format_checker().conforms(value, fmt))
    except Exception:  # a checker failing oddly: leave the verdict to the full metaschema
        return False


def _text(value: Any, depth: int) -> bool:
    return type(value) is str


def _number(value: Any, depth: int) -> bool:
    return type(value) is int or type(value) is float


def _type_name(value: Any) -> bool:
    return type(value) is str and value in SIMPLE_TYPES


def _type(value: Any, depth: int) -> bool:
    if type(value) is list:
        return bool(value) and all(map(_type_name, value)) and len(set(value)) == len(value)
    return _type_name(value)


def _names(value: Any, depth: int) -> bool:
    return (
        type(value) is list and all(type(v) is str for v in value) and len(set(value)) == len(value)
    )


def _schemas(value: Any, depth: int) -> bool:
    return type(value) is list and bool(value) and all(_schema(v, depth + 1) for v in value)


def _schema_map(value: Any, depth: int) -> bool:
    return type(value) is dict and all(
        type(k) is str and _schema(v, depth + 1) for k, v in value.items()
    )


def _pattern_map(value: Any, depth: int) -> bool:
    return _schema_map(value, depth) and all(_conforms(k, "regex") for k in value)


_CHECKS: dict[str, Callable[[Any, int], bool]] = {
    "anything": lambda value, depth: True,
    "string": _text,
    "boolean": lambda value, depth: type(value) is bool,
    "number": _number,
    "positive": lambda value, depth: _number(value, depth) and value > 0,
    "count": lambda value, depth: type(value) is int and value >= 0,
    "array": lambda value, depth: type(value) is list,
    "regex": lambda value, depth: type(value) is str and _conforms(value, "regex"),
    "uri": lambda value, depth: type(value) is str and _conforms(value, "uri"),
    "uri-reference": lambda value, depth: type(value) is str and _conforms(value, "uri-reference"),
    "names": _names,
    "schema": lambda value, depth: _schema(value, depth + 1),
    "schemas": _schemas,
    "schema-map": _schema_map,
    "pattern-map": _pattern_map,
    "type": _type,
}


@lru_cache(maxsize=1)
def _checks() -> tuple[dict[str, Callable[[Any, int], bool]], frozenset[str]]:
    """Return ``(check by handled keyword, every keyword the metaschema names)``."""
    kinds, named = keyword_kinds()
    return {keyword: _CHECKS[kind] for keyword, kind in kinds.items()}, named


def _schema(node: Any, depth: int) -> bool:
    if type(node) is bool:
        return True
    if type(node) is not dict or depth > MAX_DEPTH:
        return False
    checks, named = _checks()
    for keyword, value in node.items():
        check = checks.get(keyword)
        if check is not None:
            if not check(value, depth):
                return False
        elif type(keyword) is not str or keyword in named:
            return False
    return True


def plainly_valid(schema: Any) -> bool:
    """Return True when ``schema`` provably satisfies the draft 2020-12 metaschema.

    False means "not proven": the schema may still be valid (run the full metaschema).
    """
    return bool(_checks()[1]) and _schema(schema, 0)
