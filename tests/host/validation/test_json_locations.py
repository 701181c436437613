"""JSON paths render and parse back; spans locate the line a path points at."""

from __future__ import annotations

import pytest

from fleetprompt_host.json_paths import child, json_path, parse_json_path
from fleetprompt_host.json_spans import line_of, locate

TEXT = """{
  "name": "crm",
  "tools": [
    {"name": "a"},
    {
      "name": "b",
      "parameters": {"properties": {"first name": {"type": "strin"}}}
    }
  ]
}
"""


@pytest.mark.parametrize(
    "parts",
    [
        [],
        ["name"],
        ["tools", 2, "parameters", "properties", "city", "type"],
        ["tools", 0, "parameters", "$defs", "Query"],
        ["config", "schema", "properties", "first name", "default"],
        ['weird"key', 0, "a.b", "[x]"],
    ],
)
def test_paths_round_trip(parts: list[object]) -> None:
    assert parse_json_path(json_path(parts)) == parts


def test_child_extends_paths() -> None:
    assert child("tools[0]", "parameters", "type") == "tools[0].parameters.type"
    assert child("", "tools", 3) == "tools[3]"
    assert child("agents[0].tools", 2) == "agents[0].tools[2]"


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("name", 2),
        ("tools[1].name", 6),
        ('tools[1].parameters.properties["first name"].type', 7),
        ("tools[1].description", 5),  # missing: the nearest existing ancestor
        ("tools[0]", 4),
        ("", 1),
    ],
)
def test_locate_finds_the_line_of_a_path(path: str, line: int) -> None:
    offset = locate(TEXT, parse_json_path(path))
    assert offset is not None and line_of(TEXT, offset) == line


def test_locate_gives_up_on_text_that_is_not_json() -> None:
    assert locate('{"name": }', ["name"]) is None
