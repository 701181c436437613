"""JSON safety checks shared by signals, directive params and execution records.

Durable records hold plain JSON only (objects with string keys, arrays, strings, finite
numbers, booleans and null), stay under a size limit, and never carry a value under a key
that looks like a secret (``password``, ``api_key``, ``access_token`` ...). Execution
records redact such values instead of refusing them, since they describe what happened.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from typing import Any

from fleetprompt_sdk.errors import InvalidInputError

#: Largest nesting of objects and arrays accepted in signal data and params.
MAX_DEPTH = 32
REDACTED = "***"

# A key looks like a secret when its last word is one of these, or when it is one of the
# compound names below (``api_key``); ``tokens_in`` or ``password_hint`` stay allowed.
_SECRET_LAST_WORDS = frozenset(
    {"password", "passwd", "pwd", "secret", "token", "credential", "credentials", "apikey"}
)
_SECRET_COMPOUNDS = frozenset(
    {
        "apikey",
        "privatekey",
        "accesskey",
        "secretkey",
        "clientsecret",
        "authorization",
        "passphrase",
        "signingkey",
    }
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=8192)
def looks_secret(key: str) -> bool:
    """Return True when a mapping key looks like it names a secret value."""
    # Cached: records of one shape repeat the same keys, and the answer depends on the key only.
    words = [w for w in _SPLIT.split(_CAMEL.sub("_", key).lower()) if w]
    if not words:
        return False
    if words[-1] in _SECRET_LAST_WORDS or "".join(words) in _SECRET_COMPOUNDS:
        return True
    # ``x_api_key``, ``stripe_private_key``: the last two words form a compound name.
    joined = "".join(words[-2:])
    return joined in _SECRET_COMPOUNDS


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{parent}.{key}"
    return f"{parent}[{json.dumps(key)}]"


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Values whose exact type needs no further look (floats still need a finiteness check).
_PLAIN = frozenset({str, int, bool, type(None)})


class _Refused(Exception):
    """A refused node: its problem, and the keys from it up to the root, innermost first.

    The walk builds no path while everything is fine; the path of a refused node is put
    together from these keys as the walk unwinds.
    """

    def __init__(self, problem: str, kind: str, keys: list[str | int] | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.kind = kind
        self.keys: list[str | int] = keys or []


def check_json(
    value: Any, *, root: str, codes: dict[str, str], allow_secrets: bool = False
) -> None:
    """Raise :class:`InvalidInputError` unless ``value`` is plain JSON without secret keys.

    ``codes`` maps ``"not-json"``, ``"too-deep"`` and ``"secret"`` to the caller's stable
    error codes; the message names the offending path below ``root``.
    """
    try:
        _walk(value, 0, allow_secrets)
    except _Refused as refused:
        path = root
        for key in reversed(refused.keys):
            path = _path(path, key)
        raise InvalidInputError(f"{path}: {refused.problem}", code=codes[refused.kind]) from None


def _walk(node: Any, depth: int, allow_secrets: bool) -> None:
    if depth > MAX_DEPTH:
        raise _Refused(f"nested deeper than {MAX_DEPTH} levels", "too-deep")
    kind = type(node)
    if kind in _PLAIN:
        return
    if kind is dict or isinstance(node, dict):
        leaf = depth < MAX_DEPTH  # a child one level down is still within the limit
        for key, item in node.items():
            if not isinstance(key, str):
                raise _Refused(f"key {key!r} is not a string", "not-json")
            if not allow_secrets and looks_secret(key):
                raise _Refused(
                    f"key {key!r} looks like a secret; secrets never go into durable "
                    "records (use the package's secret config)",
                    "secret",
                    [key],
                )
            if leaf and type(item) in _PLAIN:
                continue
            try:
                _walk(item, depth + 1, allow_secrets)
            except _Refused as refused:
                refused.keys.append(key)
                raise
        return
    if isinstance(node, list | tuple):
        for index, item in enumerate(node):
            if depth < MAX_DEPTH and type(item) in _PLAIN:
                continue
            try:
                _walk(item, depth + 1, allow_secrets)
            except _Refused as refused:
                refused.keys.append(index)
                raise
        return
    if isinstance(node, bool | str | int):
        return
    if isinstance(node, float):
        if not math.isfinite(node):
            raise _Refused(f"{node!r} is not a JSON number", "not-json")
        return
    raise _Refused(
        f"{kind.__name__} is not JSON (use str, int, float, bool, None, list or dict)",
        "not-json",
    )


def canonical_json(value: Any) -> str:
    """Return the canonical JSON text of ``value`` (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)
# The C encoder behind json.dumps, built once (json builds it again on every call). No
# cycle check: check_json refuses anything nested deeper than MAX_DEPTH first.
_ENCODE = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _COMPACT.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
    if json.encoder.c_make_encoder is not None  # type: ignore[attr-defined]
    else None
)


def compact_json(value: Any) -> str:
    """Return ``value`` as compact JSON text (no spaces, UTF-8 characters unescaped).

    It is as long in UTF-8 as the canonical JSON (only the key order differs), so one
    text serves both the size limit (:func:`text_size`) and storage. ``value`` must have
    passed :func:`check_json`.
    """
    if _ENCODE is None or not isinstance(value, dict | list):
        return _COMPACT.encode(value)
    return "".join(_ENCODE(value, 0))


def text_size(text: str) -> int:
    """Return the size in bytes of ``text`` in UTF-8."""
    return len(text) if text.isascii() else len(text.encode())


def json_size(value: Any) -> int:
    """Return the size in bytes of ``value`` as canonical UTF-8 JSON."""
    # Key order does not change the size, so skip the sort canonical_json does.
    return text_size(compact_json(value))


def digest(*parts: Any) -> str:
    """Return the SHA-256 hex digest of the canonical JSON of ``parts``."""
    return hashlib.sha256(canonical_json(list(parts)).encode()).hexdigest()


def redact(value: Any, depth: int = 0) -> Any:
    """Return a JSON-safe copy of ``value`` with secret-looking keys' values replaced.

    Anything that is not JSON becomes its ``repr`` so an execution record can always be
    written, whatever a handler returned or raised with.
    """
    if depth > MAX_DEPTH:
        return "..."
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {
            str(k): (REDACTED if looks_secret(str(k)) else redact(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, depth + 1) for v in value]
    if hasattr(value, "model_dump"):
        return redact(value.model_dump(mode="json"), depth + 1)
    return repr(value)
