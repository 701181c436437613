"""Rules across several manifests validated together (``fleetprompt validate a b c``):
dependency cycles, dependency versions, and references into a dependency's manifest."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from fleetprompt_sdk.errors import Problem

from .identity import parse_specifier, parse_version
from .references import split_tool_reference
from .view import ManifestView


def _graph(views: Sequence[ManifestView]) -> dict[str, set[str]]:
    named = {v.name for v in views if v.name}
    edges: dict[str, set[str]] = defaultdict(set)
    for view in views:
        if view.name:
            edges[view.name] |= {d for d in view.dependency_names() if d in named}
    return edges


def _path(edges: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """Return the shortest dependency path from ``start`` to ``goal``, if any (BFS)."""
    previous: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        if node == goal:
            path: list[str] = []
            cursor: str | None = node
            while cursor is not None:
                path.append(cursor)
                cursor = previous[cursor]
            return path[::-1]
        for nxt in sorted(edges.get(node, ())):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return None


def _cycles(view: ManifestView, edges: dict[str, set[str]]) -> Iterator[Problem]:
    for entry in view.entries("dependencies"):
        dep = entry.text("name")
        if not view.name or not dep or dep == view.name or dep not in edges:
            continue
        back = _path(edges, dep, view.name)
        if back is not None:
            yield Problem(
                "dependency-cycle",
                entry.at("name"),
                f"dependency cycle: {' -> '.join([view.name, *back])}",
            )


def _versions(view: ManifestView, by_name: dict[str, list[ManifestView]]) -> Iterator[Problem]:
    for entry in view.entries("dependencies"):
        dep, text = entry.text("name"), entry.text("version")
        spec = parse_specifier(text) if text else None
        if dep is None or spec is None:
            continue
        for other in by_name.get(dep, []):
            found = other.text("version")
            version = parse_version(found) if found else None
            if version is not None and not spec.contains(version, prereleases=True):
                yield Problem(
                    "dependency-version-mismatch",
                    entry.at("version"),
                    f"requires {dep} {text!r} but the {dep} validated alongside is {found}",
                )


def _references(view: ManifestView, by_name: dict[str, list[ManifestView]]) -> Iterator[Problem]:
    dependencies = view.dependency_names()
    for agent in view.entries("agents"):
        tools = agent.data.get("tools")
        for index, reference in enumerate(tools if isinstance(tools, list) else []):
            if not isinstance(reference, str):
                continue
            package, tool = split_tool_reference(reference)
            if package not in dependencies or package == view.name or package not in by_name:
                continue
            if all(tool not in other.names("tools") for other in by_name[package]):
                yield Problem(
                    "unknown-agent-tool",
                    agent.at("tools", index),
                    f"agent uses tool {reference!r}, but package {package!r} declares no "
                    f"tool {tool!r}",
                )
    for entry in view.entries("tools"):
        directive = entry.text("directive")
        owner = directive.split(".", 1)[0] if directive else None
        if not owner or owner not in dependencies or owner == view.name or owner not in by_name:
            continue
        if all(directive not in o.names("directives", field="type") for o in by_name[owner]):
            yield Problem(
                "unknown-tool-directive",
                entry.at("directive"),
                f"directive {directive!r} is not declared by package {owner!r}",
            )


def graph_problems(views: Sequence[ManifestView]) -> list[list[Problem]]:
    """Return, for each view in order, the problems found by looking at all of them."""
    edges = _graph(views)
    by_name: dict[str, list[ManifestView]] = defaultdict(list)
    for view in views:
        if view.name:
            by_name[view.name].append(view)
    return [
        [*_cycles(view, edges), *_versions(view, by_name), *_references(view, by_name)]
        for view in views
    ]
