"""The FleetPrompt error hierarchy.

Every error carries a stable ``code`` (documented in ``docs/errors.md``) and a one-line
message that names what is wrong and where. Errors are grouped by who can fix them: the
package author, the operator, or the model (whose mistakes become tool results, never
exceptions that end a chat loop).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

Audience = Literal["author", "operator", "model", "host"]


@dataclass(frozen=True)
class Problem:
    """One finding of a validator: a stable code, the JSON path where it sits, a message."""

    code: str
    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = self.path or "(root)"
        return f"{where}: {self.message} [{self.code}]"


class FleetPromptError(Exception):
    """Root of every error FleetPrompt raises on purpose."""

    code: ClassVar[str] = "fleetprompt-error"
    audience: ClassVar[Audience] = "host"
    exit_code: ClassVar[int] = 1

    def __init__(
        self, message: str, *, code: str | None = None, problems: list[Problem] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        #: Individual findings behind the error (validators report several at once).
        self.problems: list[Problem] = list(problems or [])
        if code is not None:
            self.code = code  # type: ignore[misc]

    def __str__(self) -> str:
        return self.message


class ManifestError(FleetPromptError):
    """A package manifest is missing, unreadable or invalid (fixed by the package author)."""

    code = "manifest-invalid"
    audience = "author"


class PackageError(FleetPromptError):
    """A package's code misbehaved: failed to import, a hook raised, a name clashed."""

    code = "package-broken"
    audience = "author"


class ConfigError(FleetPromptError):
    """Operator-supplied configuration (settings, package config, CLI input) is invalid."""

    code = "config-invalid"
    audience = "operator"
    exit_code = 2


class UsageError(ConfigError):
    """A command was called the wrong way."""

    code = "usage"


class NotFoundError(FleetPromptError):
    """Something named by the caller does not exist."""

    code = "not-found"
    audience = "operator"


class ConflictError(FleetPromptError):
    """The operation collides with existing state (already exists, key reused, ...)."""

    code = "conflict"
    audience = "operator"


class PermissionDeniedError(FleetPromptError):
    """The actor lacks the role or the package lacks the permission for this action."""

    code = "permission-denied"
    audience = "operator"


class InvalidInputError(FleetPromptError):
    """Data handed to the runtime (signal data, directive params, slugs) is invalid."""

    code = "invalid-input"
    audience = "operator"
    exit_code = 2


class ToolArgumentError(FleetPromptError):
    """A model called a tool with bad arguments; becomes a tool result it can correct."""

    code = "tool-arguments-invalid"
    audience = "model"


class StorageError(FleetPromptError):
    """The database refused or failed an operation."""

    code = "storage-error"
    audience = "operator"


@dataclass
class ErrorInfo:
    """A serialisable view of an error, for JSON output and tool results."""

    code: str
    message: str
    audience: str
    problems: list[Problem] = field(default_factory=list)


def error_info(exc: FleetPromptError) -> ErrorInfo:
    """Return the serialisable view of ``exc``."""
    return ErrorInfo(
        code=exc.code, message=exc.message, audience=exc.audience, problems=list(exc.problems)
    )
