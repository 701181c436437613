"""JSON paths as problems report them: ``tools[2].parameters.properties.city.type``.

Keys that are not plain identifiers are quoted (``properties["first name"]``) so that
every path can be parsed back into its parts, e.g. to find the line it points at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

PathPart = str | int

_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")
_TOKEN = re.compile(r'\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\.?([A-Za-z_$][A-Za-z0-9_$-]*)')


def json_path(parts: Iterable[object]) -> str:
    """Render a sequence of keys and indexes as ``tools[2].parameters.type``."""
    out = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            key = str(part)
            if _PLAIN_KEY.match(key):
                out += f".{key}" if out else key
            else:
                out += f"[{json.dumps(key)}]"
    return out


def parse_json_path(path: str) -> list[PathPart]:
    """Split a path made by :func:`json_path` back into keys and indexes.

    Parsing stops at the first character it does not understand; the parts read so far
    are returned, which is what a caller locating the nearest known place wants.
    """
    parts: list[PathPart] = []
    pos = 0
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if match is None or match.end() == pos:
            break
        index, quoted, plain = match.groups()
        if index is not None:
            parts.append(int(index))
        elif quoted is not None:
            parts.append(str(json.loads(quoted)))
        else:
            parts.append(plain)
        pos = match.end()
    return parts


def child(path: str, *parts: PathPart) -> str:
    """Return ``path`` extended by ``parts`` (``child("tools[0]", "name")``)."""
    extra = json_path(parts)
    if not path:
        return extra
    if not extra:
        return path
    return path + (extra if extra.startswith("[") else "." + extra)
