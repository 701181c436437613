"""References between manifest sections: agent tools, tool directives, seed records.

Decisions (documented in docs/manifest.md):

* A write tool names the directive it requests. The directive is one this package
  declares, or one in the namespace of a declared dependency (``<dependency>.``), so a
  handler is guaranteed to be installed. A read tool requests no directive.
* An agent profile lists this package's tools by plain name (or ``<own name>__tool``),
  and tools of declared dependencies as ``<dependency>__<tool>``.
"""

from __future__ import annotations

from collections.abc import Iterator

from fleetprompt_sdk.errors import Problem
from fleetprompt_sdk.naming import TOOL_NAMESPACE_SEPARATOR

from .schema_walk import SchemaUnusable, instance_errors, is_usable
from .view import ManifestView


def split_tool_reference(reference: str) -> tuple[str | None, str]:
    """Split ``crm__search`` into ``("crm", "search")``; a plain name has no package."""
    if TOOL_NAMESPACE_SEPARATOR in reference:
        package, tool = reference.split(TOOL_NAMESPACE_SEPARATOR, 1)
        return package, tool
    return None, reference


def check_agent_tools(view: ManifestView) -> Iterator[Problem]:
    """Agent profiles reference only declared tools (own, or of declared dependencies)."""
    own = view.names("tools")
    dependencies = view.dependency_names()
    for agent in view.entries("agents"):
        tools = agent.data.get("tools")
        if not isinstance(tools, list):
            continue
        for index, reference in enumerate(tools):
            if not isinstance(reference, str):
                continue
            package, tool = split_tool_reference(reference)
            if package is None or package == view.name:
                if tool not in own:
                    yield Problem(
                        "unknown-agent-tool",
                        agent.at("tools", index),
                        f"agent uses tool {reference!r}, which this package does not declare"
                        + (f" (declared: {', '.join(sorted(own))})" if own else ""),
                    )
            elif package not in dependencies and view.valid_name is not None:
                # Without a valid own name, 'pkg__tool' may well mean this package.
                yield Problem(
                    "unknown-agent-tool",
                    agent.at("tools", index),
                    f"agent uses tool {reference!r} of package {package!r}, which is not a "
                    "declared dependency",
                )


def check_tool_directives(view: ManifestView) -> Iterator[Problem]:
    """Write tools name a directive handled here or by a dependency; read tools name none."""
    declared = view.names("directives", field="type")
    dependencies = view.dependency_names()
    for entry in view.entries("tools"):
        effect = entry.text("effect")
        directive = entry.data.get("directive")
        if effect == "read" and directive is not None:
            yield Problem(
                "read-tool-with-directive",
                entry.at("directive"),
                "a read tool requests no directive; make it a write tool or drop 'directive'",
            )
        if effect != "write":
            continue
        if directive is None:
            yield Problem(
                "write-tool-without-directive",
                entry.at("directive"),
                "a write tool changes state only through a directive; name the directive "
                "type it requests",
            )
        elif isinstance(directive, str) and directive not in declared:
            owner = directive.split(".", 1)[0]
            if owner not in dependencies or owner == view.name:
                yield Problem(
                    "unknown-tool-directive",
                    entry.at("directive"),
                    f"directive {directive!r} is neither declared by this package nor in the "
                    "namespace of a declared dependency",
                )


def check_seed(view: ManifestView) -> Iterator[Problem]:
    """Seed records name a declared collection and satisfy its record schema."""
    schemas = {
        name: entry.data.get("schema")
        for entry in view.entries("collections")
        if (name := entry.text("name")) is not None
    }
    for entry in view.entries("seed"):
        collection = entry.text("collection")
        if collection is None:
            continue
        if collection not in schemas:
            yield Problem(
                "unknown-seed-collection",
                entry.at("collection"),
                f"seed record names collection {collection!r}, which this package does not declare",
            )
            continue
        schema, data = schemas[collection], entry.data.get("data")
        if not isinstance(data, dict) or not isinstance(schema, dict) or not is_usable(schema):
            continue
        try:
            errors = instance_errors(schema, data)
        except SchemaUnusable:
            continue  # reported once for the collection by the embedded-schema rules
        for parts, message in errors:
            yield Problem(
                "seed-invalid",
                entry.at("data", *parts),
                f"seed record does not satisfy the {collection!r} schema: {message}",
            )


RULES = (check_agent_tools, check_tool_directives, check_seed)
