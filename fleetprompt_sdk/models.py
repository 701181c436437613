"""Typed values that cross the boundary between the host and package code."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .enums import DirectiveStatus
from .errors import InvalidInputError

ActorKind = Literal["user", "agent", "system"]
_ACTOR = re.compile(r"^(user|agent|system):([A-Za-z0-9_.@+-]{1,100})$")


class Actor(BaseModel):
    """Who acts: ``user:alice``, ``agent:support``, ``system:installer``."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    kind: ActorKind
    name: str

    @classmethod
    def parse(cls, value: str) -> Actor:
        """Parse ``kind:name``; raise :class:`InvalidInputError` (code ``invalid-actor``)."""
        m = _ACTOR.match(value)
        if not m:
            raise InvalidInputError(
                f"invalid actor {value!r}: expected user:NAME, agent:NAME or system:NAME",
                code="invalid-actor",
            )
        return cls(kind=m.group(1), name=m.group(2))

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


class Subject(BaseModel):
    """What a signal is about: a type and an id (``contact:42``)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    type: str = Field(min_length=1, max_length=100)
    id: str = Field(min_length=1, max_length=200)

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


class Record(BaseModel):
    """A tenant record in a package-owned collection."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    collection: str
    key: str
    data: dict[str, Any]
    package: str
    provisioned: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Signal(BaseModel):
    """An immutable fact: something that happened in a tenant."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    seq: int
    tenant: str
    type: str
    data: dict[str, Any]
    source: str
    subject: Subject | None = None
    actor: Actor | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    dedupe_key: str | None = None
    occurred_at: datetime
    recorded_at: datetime | None = None


class Directive(BaseModel):
    """Controlled intent: something a model, handler or operator wants to happen."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    tenant: str
    type: str
    params: dict[str, Any]
    status: DirectiveStatus
    idempotency_key: str
    actor: Actor
    attempts: int = 0
    max_attempts: int = 3
    correlation_id: str | None = None
    causation_id: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    requested_at: datetime | None = None
    run_after: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


class DirectiveRef(BaseModel):
    """What a write tool returns to the model: the requested directive and a preview."""

    id: str
    type: str
    status: DirectiveStatus
    preview: str = ""
    result: dict[str, Any] | None = None
    created: bool = True
