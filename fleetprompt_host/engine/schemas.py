"""Validating signal data, directive params and records against manifest JSON Schemas."""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from fleetprompt_sdk.errors import InvalidInputError


@functools.lru_cache(maxsize=1024)
def _validator(schema_text: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_text))


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
    validator = _validator(json.dumps(schema, sort_keys=True))
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
