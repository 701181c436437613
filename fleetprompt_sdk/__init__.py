"""FleetPrompt SDK: everything a package author imports.

Light on purpose: it never imports SQLAlchemy, litellm or the host, and the pydantic
models (manifest, signals, directives) load only when first used, so importing a
package that uses the SDK stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .context import (
    BaseContext,
    DirectiveContext,
    HandlerContext,
    InstallContext,
    RecordReader,
    RecordWriter,
    ToolContext,
)
from .enums import DirectiveStatus, Effect, Permission, Role
from .errors import (
    ConfigError,
    ConflictError,
    FleetPromptError,
    InvalidInputError,
    ManifestError,
    NotFoundError,
    PackageError,
    PermissionDeniedError,
    Problem,
    StorageError,
    ToolArgumentError,
    UsageError,
)
from .handlers import DirectiveHandler, SignalHandler
from .hookspecs import hookimpl, hookspec
from .package import Package
from .tools import Tool, tool

if TYPE_CHECKING:
    from .manifest import (
        MANIFEST_FILENAME,
        RULESET_VERSION,
        AgentProfile,
        CollectionSpec,
        Dependency,
        DirectiveSpec,
        EmittedSignal,
        Manifest,
        SeedRecord,
        Subscription,
        ToolSpec,
    )
    from .models import Actor, Directive, DirectiveRef, Record, Signal, Subject

__version__ = "0.1.0"

_LAZY = {
    "MANIFEST_FILENAME": "manifest",
    "RULESET_VERSION": "manifest",
    "AgentProfile": "manifest",
    "CollectionSpec": "manifest",
    "Dependency": "manifest",
    "DirectiveSpec": "manifest",
    "EmittedSignal": "manifest",
    "Manifest": "manifest",
    "SeedRecord": "manifest",
    "Subscription": "manifest",
    "ToolSpec": "manifest",
    "Actor": "models",
    "Directive": "models",
    "DirectiveRef": "models",
    "Record": "models",
    "Signal": "models",
    "Subject": "models",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fleetprompt_sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "MANIFEST_FILENAME",
    "RULESET_VERSION",
    "Actor",
    "AgentProfile",
    "BaseContext",
    "CollectionSpec",
    "ConfigError",
    "ConflictError",
    "Dependency",
    "Directive",
    "DirectiveContext",
    "DirectiveHandler",
    "DirectiveRef",
    "DirectiveSpec",
    "DirectiveStatus",
    "Effect",
    "EmittedSignal",
    "FleetPromptError",
    "HandlerContext",
    "InstallContext",
    "InvalidInputError",
    "Manifest",
    "ManifestError",
    "NotFoundError",
    "Package",
    "PackageError",
    "Permission",
    "PermissionDeniedError",
    "Problem",
    "Record",
    "RecordReader",
    "RecordWriter",
    "Role",
    "SeedRecord",
    "Signal",
    "SignalHandler",
    "StorageError",
    "Subject",
    "Subscription",
    "Tool",
    "ToolArgumentError",
    "ToolContext",
    "ToolSpec",
    "UsageError",
    "__version__",
    "hookimpl",
    "hookspec",
    "tool",
]
