"""Validating signal data, directive params and records against manifest JSON Schemas."""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from fleetprompt_sdk.errors import InvalidInputError

_CACHE_LIMIT = 1024
# Validators of the schema objects seen, by identity: manifests hand out the same dict on
# every call, so the common case costs a dict lookup instead of serialising the schema.
# Each entry keeps its schema alive, so an id cannot be reused while it is cached.
_by_identity: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}


@functools.lru_cache(maxsize=_CACHE_LIMIT)
def _validator_of_text(schema_text: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_text))


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    hit = _by_identity.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    # Equal schemas share one compiled validator, whatever object carries them.
    validator = _validator_of_text(json.dumps(schema, sort_keys=True))
    if len(_by_identity) >= _CACHE_LIMIT:
        _by_identity.clear()
    _by_identity[id(schema)] = (schema, validator)
    return validator


def _where(root: str, error: ValidationError) -> str:
    path = root
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def validate(value: Any, schema: dict[str, Any], *, root: str, code: str, what: str) -> None:
    """Raise :class:`InvalidInputError` (``code``) naming the first failing field path.

    Errors are reported deepest path first, then in path order, so the message points at
    the field to fix rather than at its container.
    """
    if not schema:
        return  # the empty schema accepts every value
    validator = _validator(schema)
    errors = sorted(
        validator.iter_errors(value),
        key=lambda e: (-len(e.absolute_path), [str(p) for p in e.absolute_path]),
    )
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidInputError(
            f"{_where(root, first)}: {first.message} in {what}{more}", code=code
        )
