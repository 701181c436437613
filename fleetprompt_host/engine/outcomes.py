"""What a run returns, and the bookkeeping shared by directive and delivery runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from fleetprompt_host.storage import Database
from fleetprompt_sdk.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

from .executions import ExecutionLog, error_doc
from .leases import Claim

Status = Literal["succeeded", "retry", "failed", "canceled", "superseded", "done", "dead"]
_PERMANENT = (InvalidInputError, PermissionDeniedError, NotFoundError, ConflictError)


@dataclass(frozen=True)
class RunOutcome:
    """What became of one run."""

    kind: Literal["directive", "delivery"]
    id: str
    status: Status
    attempt: int
    execution_id: str
    error: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    next_attempt_at: datetime | None = None

    @property
    def committed(self) -> bool:
        """True when the handler's effects were committed (succeeded or done)."""
        return self.status in ("succeeded", "done")


class Superseded(Exception):
    """The row no longer carries our claim: roll back and record the attempt."""

    def __init__(self, status: str, token: int, owner: str | None) -> None:
        super().__init__(status)
        self.status, self.token, self.owner = status, token, owner


@dataclass
class RunFailure(Exception):
    """A failure the runner itself detects (no handler, attempts exhausted, bad result)."""

    code: str
    message: str
    permanent: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


def permanent(exc: BaseException) -> bool:
    """True for failures a retry cannot fix (bad input, permissions, missing things)."""
    if isinstance(exc, RunFailure):
        return exc.permanent
    return isinstance(exc, _PERMANENT) or getattr(exc, "retryable", True) is False


def error_of(exc: BaseException) -> dict[str, Any]:
    """Return the ``{code, message}`` recorded for a failed attempt."""
    if isinstance(exc, RunFailure):
        return {"code": exc.code, "message": exc.message}
    return error_doc(exc)


def mark_rolled_back(log: ExecutionLog, error: dict[str, Any]) -> None:
    """Steps of a rolled-back attempt stay in the record, marked as not committed."""
    log.summary["error"] = error
    for step in log.steps:
        if step.kind == "signal_emitted" and isinstance(step.output, dict):
            step.output = {**step.output, "rolled_back": True}


def record_superseded(
    db: Database,
    tenant: str,
    kind: Literal["directive", "delivery"],
    item_id: str,
    attempt: int,
    claim: Claim,
    log: ExecutionLog,
    stale: Superseded,
) -> RunOutcome:
    """Record, in a transaction of its own, an attempt whose claim went stale."""
    canceled = kind == "directive" and stale.status == "canceled"
    outcome: Status = "canceled" if canceled else "superseded"
    error = {
        "code": outcome,
        "message": (
            f"the {kind} was canceled while this attempt ran; nothing it did was committed"
            if canceled
            else f"fencing token {claim.fencing_token} held by {claim.owner} is stale (the "
            f"{kind} is {stale.status}, token {stale.token}, held by {stale.owner}); nothing "
            "this attempt did was committed"
        ),
    }
    mark_rolled_back(log, error)
    with db.tenant_session(tenant) as session:
        log.write(session, "canceled" if canceled else "failed", outcome=outcome, error=error)
    return RunOutcome(kind, item_id, outcome, attempt, log.id, error=error)
