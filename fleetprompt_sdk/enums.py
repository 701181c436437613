"""Closed vocabularies shared by manifests, tools and the runtime (no pydantic needed)."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """The closed vocabulary of permissions a package may ask for (see docs/permissions.md)."""

    RECORDS_READ = "records:read"
    RECORDS_WRITE = "records:write"
    SIGNALS_EMIT = "signals:emit"
    SIGNALS_SUBSCRIBE = "signals:subscribe"
    DIRECTIVES_REQUEST = "directives:request"
    DIRECTIVES_HANDLE = "directives:handle"
    NETWORK = "network:outbound"
    SECRETS_READ = "secrets:read"


class Role(StrEnum):
    """A user's role in a tenant, from least to most privileged."""

    MEMBER = "member"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        """Return a number that orders roles by privilege."""
        return ["member", "admin", "owner"].index(self.value)

    def satisfies(self, required: Role) -> bool:
        """Return True when this role is at least ``required``."""
        return self.rank >= required.rank


class Effect(StrEnum):
    """What a tool does: read tenant data, or request a change through a directive."""

    READ = "read"
    WRITE = "write"


class DirectiveStatus(StrEnum):
    """A directive's lifecycle state."""

    REQUESTED = "requested"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        """Return True for states a directive never leaves on its own."""
        return self in (DirectiveStatus.SUCCEEDED, DirectiveStatus.FAILED, DirectiveStatus.CANCELED)
