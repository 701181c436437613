"""The package manifest: a static JSON file (``fleetprompt.json``) inside a package's module.

The pydantic model below is the source of truth; ``schemas/manifest.schema.json`` is
generated from it (``python -m fleetprompt_host.schema_export``) and a test fails when the
committed file is stale. Structural rules live in the model (and so in the schema);
semantic rules that a schema cannot express live in the host's validator.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .enums import Effect, Permission, Role
from .naming import (
    EVENT_TYPE_PATTERN,
    LOCAL_NAME_PATTERN,
    PACKAGE_NAME_PATTERN,
    SUBSCRIPTION_PATTERN,
    TOOL_NAME_PATTERN,
)

#: File name of the manifest inside a package's importable module.
MANIFEST_FILENAME = "fleetprompt.json"
#: Version of the validation rule set (schema + semantic rules); carried in the schema $id.
RULESET_VERSION = "1.0"
MANIFEST_SCHEMA_ID = (
    f"https://fleetprompt.dev/schemas/manifest/{RULESET_VERSION}/manifest.schema.json"
)

JsonSchema = dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class Author(_Strict):
    """A person or organisation credited with the package."""

    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)


class Dependency(_Strict):
    """Another FleetPrompt package that must be installed first."""

    name: str = Field(pattern=PACKAGE_NAME_PATTERN, description="The package's name.")
    version: str = Field(default="", description="A PEP 440 version specifier, e.g. '>=1,<2'.")


class ConfigSpec(_Strict):
    """The per-installation configuration: a JSON Schema whose properties may be secret."""

    schema_: JsonSchema = Field(
        alias="schema",
        default_factory=lambda: {"type": "object", "properties": {}},
        description=(
            "JSON Schema (draft 2020-12) of the config object. Mark a property secret "
            'with "secret": true; secrets are encrypted at rest and never shown.'
        ),
    )


class CollectionSpec(_Strict):
    """A collection of tenant records the package owns."""

    name: str = Field(pattern=LOCAL_NAME_PATTERN)
    description: str = ""
    schema_: JsonSchema = Field(alias="schema", description="JSON Schema of one record.")


class EmittedSignal(_Strict):
    """A signal type the package emits, with the schema of its data."""

    type: str = Field(pattern=EVENT_TYPE_PATTERN)
    description: str = ""
    schema_: JsonSchema = Field(
        alias="schema", default_factory=lambda: {"type": "object"}, description="Data schema."
    )


class Subscription(_Strict):
    """A handler of the package and the signal type pattern it receives."""

    handler: str = Field(pattern=LOCAL_NAME_PATTERN)
    pattern: str = Field(pattern=SUBSCRIPTION_PATTERN)
    description: str = ""


class SignalsSpec(_Strict):
    """The signals a package emits and subscribes to."""

    emits: list[EmittedSignal] = Field(default_factory=list)
    subscribes: list[Subscription] = Field(default_factory=list)


class DirectiveSpec(_Strict):
    """A directive type the package handles."""

    type: str = Field(pattern=EVENT_TYPE_PATTERN)
    description: str = ""
    params: JsonSchema = Field(
        default_factory=lambda: {"type": "object"}, description="JSON Schema of the params."
    )
    required_role: Role = Role.MEMBER


class ToolSpec(_Strict):
    """A tool the model may call. Generated from code by ``fleetprompt tools sync``."""

    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str = Field(min_length=1)
    parameters: JsonSchema = Field(description="JSON Schema (type object) of the arguments.")
    effect: Effect
    requires_confirmation: bool = False
    directive: str | None = Field(
        default=None,
        pattern=EVENT_TYPE_PATTERN,
        description="For write tools: the directive type the tool requests.",
    )


class AgentProfile(_Strict):
    """A named assistant the package provisions: a system prompt and the tools it may use."""

    name: str = Field(pattern=LOCAL_NAME_PATTERN)
    description: str = ""
    system_prompt: str = Field(min_length=1)
    tools: list[str] = Field(
        default_factory=list, description="Tool names: this package's, or 'pkg__tool'."
    )
    model: str | None = None


class SeedRecord(_Strict):
    """A record provisioned at install time, identified by a stable key."""

    collection: str = Field(pattern=LOCAL_NAME_PATTERN)
    key: str = Field(min_length=1, max_length=200)
    data: dict[str, Any]


class Manifest(_Strict):
    """Everything the host needs to know about a package without running its code."""

    manifest_version: Literal[1] = 1
    name: str = Field(pattern=PACKAGE_NAME_PATTERN, description="Package name (a slug).")
    version: str = Field(min_length=1, description="PEP 440 version.")
    display_name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    authors: list[Author] = Field(default_factory=list)
    license: str | None = None
    homepage: str | None = None
    requires_fleetprompt: str = Field(
        default="", description="PEP 440 specifier on the FleetPrompt runtime version."
    )
    dependencies: list[Dependency] = Field(default_factory=list)
    permissions: list[Permission] = Field(default_factory=list)
    config: ConfigSpec = Field(default_factory=ConfigSpec)
    collections: list[CollectionSpec] = Field(default_factory=list)
    signals: SignalsSpec = Field(default_factory=SignalsSpec)
    directives: list[DirectiveSpec] = Field(default_factory=list)
    tools: list[ToolSpec] = Field(default_factory=list)
    agents: list[AgentProfile] = Field(default_factory=list)
    seed: list[SeedRecord] = Field(default_factory=list)

    def tool(self, name: str) -> ToolSpec | None:
        """Return the tool called ``name``, if declared."""
        return next((t for t in self.tools if t.name == name), None)

    def directive(self, type_: str) -> DirectiveSpec | None:
        """Return the directive spec for ``type_``, if declared."""
        return next((d for d in self.directives if d.type == type_), None)

    def secret_fields(self) -> list[str]:
        """Return the names of config properties marked secret."""
        props = self.config.schema_.get("properties", {})
        if not isinstance(props, dict):
            return []
        return [k for k, v in props.items() if isinstance(v, dict) and v.get("secret") is True]

    def to_json(self) -> str:
        """Return the manifest as canonical JSON, as written to ``fleetprompt.json``."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=False)
        return json.dumps(data, indent=2, sort_keys=False) + "\n"


def manifest_json_schema() -> JsonSchema:
    """Return the published JSON Schema of the manifest (draft 2020-12, with ``$id``)."""
    schema = Manifest.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": MANIFEST_SCHEMA_ID,
        **schema,
    }
