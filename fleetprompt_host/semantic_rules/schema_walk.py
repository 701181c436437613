"""Walking and checking the JSON Schemas embedded in a manifest.

The manifest embeds schemas in five places (config, collections, signal data, directive
params, tool parameters). Each must itself be a valid draft 2020-12 schema whose local
``$ref``s resolve, so that the runtime can later validate data against it without
surprises; these helpers do the walking and the checking for the rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ..json_paths import PathPart
from .metaschema import flat_validator, official_validator
from .plain_schema import plainly_valid
from .run_memo import may_hold_key, memoized

#: Keywords whose value is one subschema.
_ONE = (
    "items", "additionalProperties", "unevaluatedProperties", "unevaluatedItems", "contains",
    "propertyNames", "not", "if", "then", "else", "additionalItems",
)  # fmt: skip
#: Keywords whose value maps names to subschemas.
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
#: Keywords whose value is a list of subschemas.
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")
_INNER = frozenset(_ONE + _MAP + _LIST)
#: Deeper than this, a schema is reported rather than walked (keeps recursion bounded).
MAX_DEPTH = 48


@dataclass(frozen=True)
class Embedded:
    """One embedded schema: where it sits, what it describes, and the schema itself."""

    path: str
    kind: str
    schema: Any


def subschemas(
    schema: Any, parts: tuple[PathPart, ...] = ()
) -> Iterator[tuple[tuple[PathPart, ...], dict[str, Any]]]:
    """Yield ``(relative parts, subschema)`` for ``schema`` and every schema inside it.

    The order is depth first, a schema before the ones inside it. Within a validation
    run, a schema is walked once (the subschemas may then come from an identical copy).
    """
    if parts:
        return iter(_all_subschemas(schema, parts))
    return iter(memoized("subschemas", schema, lambda: _all_subschemas(schema, ())))


def _all_subschemas(
    schema: Any, parts: tuple[PathPart, ...]
) -> tuple[tuple[tuple[PathPart, ...], dict[str, Any]], ...]:
    found: list[tuple[tuple[PathPart, ...], dict[str, Any]]] = []
    # Collected into one list: nested generators would pass each item up every level.
    _collect_subschemas(schema, parts, found)
    return tuple(found)


def _collect_subschemas(
    schema: Any,
    parts: tuple[PathPart, ...],
    found: list[tuple[tuple[PathPart, ...], dict[str, Any]]],
) -> None:
    if not isinstance(schema, dict) or len(parts) > MAX_DEPTH:
        return
    found.append((parts, schema))
    if _INNER.isdisjoint(schema):
        return  # most subschemas are leaves: one set test instead of twenty lookups
    for key in _ONE:
        if key in schema:
            _collect_subschemas(schema[key], (*parts, key), found)
    for key in _MAP:
        value = schema.get(key)
        if isinstance(value, dict):
            for name, sub in value.items():
                _collect_subschemas(sub, (*parts, key, str(name)), found)
    for key in _LIST:
        value = schema.get(key)
        if isinstance(value, list):
            for index, sub in enumerate(value):
                _collect_subschemas(sub, (*parts, key, index), found)


_TYPES = "array, boolean, integer, null, number, object, string"
#: Up to this many nested containers, the flattened metaschema stands in for the official
#: one. jsonschema runs out of stack on the official one only past ~120 (measured), so
#: the official one, and with it the "nested too deeply" verdict, keeps every deeper schema.
FLAT_MAX_DEPTH = 32


def _nesting_within(value: Any, limit: int) -> bool:
    """Return True when ``value`` nests at most ``limit`` lists and objects deep."""
    if isinstance(value, dict):
        return limit > 0 and all(_nesting_within(v, limit - 1) for v in value.values())
    if isinstance(value, list):
        return limit > 0 and all(_nesting_within(v, limit - 1) for v in value)
    return True


def _collect(validator: Any, schema: Any) -> list[tuple[tuple[PathPart, ...], str]]:
    found: dict[tuple[PathPart, ...], str] = {}
    try:
        for error in validator.iter_errors(schema):
            parts = tuple(error.absolute_path)
            if parts and parts[-1] == "type" and error.validator == "anyOf":
                message = f"{error.instance!r} is not a JSON Schema type (one of {_TYPES})"
            elif error.validator == "format" and error.validator_value == "regex":
                message = f"{error.instance!r} is not a valid regular expression"
            else:
                message = error.message
            found.setdefault(parts, message)
    except RecursionError:
        return [((), "schema is nested too deeply to check")]
    return sorted(found.items(), key=lambda item: [str(p) for p in item[0]])


def official_meta_errors(schema: Any) -> list[tuple[tuple[PathPart, ...], str]]:
    """Return :func:`meta_errors` as found by the official metaschema alone (for tests)."""
    return _collect(official_validator(), schema)


def _meta_errors(schema: Any) -> tuple[tuple[tuple[PathPart, ...], str], ...]:
    if plainly_valid(schema):
        return ()
    validator = flat_validator() if _nesting_within(schema, FLAT_MAX_DEPTH) else None
    return tuple(_collect(official_validator() if validator is None else validator, schema))


def meta_errors(schema: Any) -> list[tuple[tuple[PathPart, ...], str]]:
    """Return ``(parts, message)`` for each way ``schema`` breaks the draft 2020-12 metaschema.

    Most schemas are proven valid by :func:`.plain_schema.plainly_valid`; the rest are
    checked against the flattened metaschema (same findings as the official one, several
    times faster), or the official one when nested too deeply for that to be sure.
    """
    return list(memoized("meta-errors", schema, lambda: _meta_errors(schema)))


_MISSING = object()


def _resolve_pointer(root: Any, pointer: str) -> Any:
    """Return the node at the JSON pointer ``pointer`` (``/$defs/x``), or ``_MISSING``."""
    node = root
    for raw in pointer.split("/")[1:] if pointer else []:
        token = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return _MISSING
    return node


def _loops(root: Any, ref: str) -> bool:
    """Return True when following ``$ref`` from ``ref`` comes back without reaching a schema."""
    seen: set[str] = set()
    while ref.startswith("#") and ref not in seen:
        seen.add(ref)
        node = _resolve_pointer(root, ref[1:]) if ref.startswith("#/") or ref == "#" else None
        if not isinstance(node, dict) or not isinstance(node.get("$ref"), str):
            return False
        ref = node["$ref"]
    return ref in seen


def ref_errors(schema: Any) -> list[tuple[tuple[PathPart, ...], str]]:
    """Return ``(parts, message)`` for each ``$ref`` that does not resolve inside ``schema``.

    Only local references (``#/$defs/...``, ``#anchor``) are allowed: a manifest is
    validated and used without network access, so remote schemas cannot be fetched.
    """
    return list(memoized("ref-errors", schema, lambda: tuple(_ref_errors(schema))))


def _ref_errors(schema: Any) -> list[tuple[tuple[PathPart, ...], str]]:
    if not may_hold_key(schema, "$ref"):
        return []
    every = tuple(subschemas(schema))
    anchors = {sub["$anchor"] for _, sub in every if isinstance(sub.get("$anchor"), str)}
    found: list[tuple[tuple[PathPart, ...], str]] = []
    for parts, sub in every:
        ref = sub.get("$ref")
        if not isinstance(ref, str):
            continue
        where = (*parts, "$ref")
        if not ref.startswith("#"):
            found.append((where, f"{ref!r} is not a local reference; embed it under $defs"))
        elif ref.startswith("#/") or ref == "#":
            if _resolve_pointer(schema, ref[1:]) is _MISSING:
                found.append((where, f"{ref!r} points to nothing in this schema"))
            elif _loops(schema, ref):
                found.append((where, f"{ref!r} starts a $ref loop that never reaches a schema"))
        elif ref[1:] not in anchors:
            found.append((where, f"{ref!r} names no $anchor in this schema"))
    return found


def is_usable(schema: Any) -> bool:
    """Return True when ``schema`` can safely be used to validate instances."""
    return isinstance(schema, dict) and not meta_errors(schema) and not ref_errors(schema)


class SchemaUnusable(Exception):
    """Validating against an embedded schema cannot finish (e.g. a ``$ref`` loop)."""


class InstanceChecker:
    """Validates instances against the subschemas of one embedded schema.

    jsonschema's validator of the whole schema (which resolves its ``$ref``s) is built
    once, on first use, and never changes, so each check only narrows it to a subschema.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._root: Any = None

    def errors(
        self, instance: Any, at: tuple[PathPart, ...] = ()
    ) -> list[tuple[tuple[PathPart, ...], str]]:
        """Validate ``instance`` against the subschema at ``at``; see :func:`instance_errors`."""
        from jsonschema import Draft202012Validator

        sub: Any = self.schema
        for part in at:
            sub = sub[part]
        try:
            if self._root is None:
                self._root = Draft202012Validator(self.schema)
            validator = self._root.evolve(schema=sub)
            return [(tuple(e.absolute_path), e.message) for e in validator.iter_errors(instance)]
        except RecursionError:
            raise SchemaUnusable("its $ref chain never reaches a schema") from None
        except Exception as exc:  # jsonschema/referencing raise several unrelated types here
            raise SchemaUnusable(f"{type(exc).__name__}: {exc}") from None


def instance_errors(
    schema: dict[str, Any], instance: Any, at: tuple[PathPart, ...] = ()
) -> list[tuple[tuple[PathPart, ...], str]]:
    """Validate ``instance`` against the subschema of ``schema`` at ``at``.

    Returns ``(instance parts, message)`` per error; raises :class:`SchemaUnusable` when
    validation itself cannot finish, which the caller reports as a schema problem.
    """
    return InstanceChecker(schema).errors(instance, at)
