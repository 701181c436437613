"""Where things are in JSON text: the character spans of object members and array items.

Used to point a problem at its line (GitHub annotations, text output) and to rewrite one
member of a manifest (``tools sync``) while leaving every other byte of the file intact.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]

from .json_paths import PathPart

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Span:
    """One member of an object (``key`` is its name) or item of an array (``key`` is its
    index): where its key starts (the item itself for arrays) and where its value is."""

    key: PathPart
    key_start: int
    value_start: int
    value_end: int


def _skip(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def value_start(text: str) -> int:
    """Return the offset of the top-level value (after leading whitespace and a BOM)."""
    return _skip(text, 1 if text.startswith("\ufeff") else 0)


def children(text: str, start: int) -> list[Span]:
    """Return the members of the object, or items of the array, that starts at ``start``.

    Raises ValueError (``json.JSONDecodeError``) when the text there is not valid JSON;
    returns an empty list for scalars.
    """
    opening = text[start : start + 1]
    if opening not in ("{", "["):
        return []
    closing = "}" if opening == "{" else "]"
    spans: list[Span] = []
    pos = _skip(text, start + 1)
    if text[pos : pos + 1] == closing:
        return spans
    index = 0
    while True:
        key_start = pos
        key: PathPart = index
        if opening == "{":
            if text[pos : pos + 1] != '"':
                raise json.JSONDecodeError("expected a key", text, pos)
            key, pos = scanstring(text, pos + 1)
            pos = _skip(text, pos)
            if text[pos : pos + 1] != ":":
                raise json.JSONDecodeError("expected ':'", text, pos)
            pos = _skip(text, pos + 1)
        begin = pos
        _, end = _DECODER.raw_decode(text, begin)
        spans.append(Span(key, key_start, begin, end))
        pos = _skip(text, end)
        index += 1
        if text[pos : pos + 1] == ",":
            pos = _skip(text, pos + 1)
            continue
        if text[pos : pos + 1] == closing:
            return spans
        raise json.JSONDecodeError(f"expected ',' or {closing!r}", text, pos)


def locate(text: str, parts: list[PathPart]) -> int | None:
    """Return the offset of the deepest existing prefix of ``parts`` in ``text``.

    A path to a missing field (``tools[0].description``) lands on the nearest thing that
    does exist (``tools[0]``). Returns None when the text is not JSON.
    """
    try:
        pos = value_start(text)
        best = pos
        for part in parts:
            match = next((s for s in children(text, pos) if s.key == part), None)
            if match is None:
                break
            best, pos = match.key_start, match.value_start
        return best
    except (ValueError, RecursionError):
        return None


def line_of(text: str, offset: int) -> int:
    """Return the 1-based line number of ``offset``."""
    return text.count("\n", 0, offset) + 1
