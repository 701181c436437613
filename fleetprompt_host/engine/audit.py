"""Audit: one time-ordered story of signals, directives and executions.

With no selector the timeline is the tenant's latest activity (the last ``limit``
signals, directives and executions, merged).
``--correlation ID`` selects everything carrying that correlation id. ``--subject TYPE:ID``
selects the signals about the subject and then everything sharing their correlation ids
(the work that led to them and the work they caused); a ``directive:ID`` subject also
selects that directive's own correlation. Entries are ordered by time (signals by
``occurred_at``, then ``seq``); execution steps follow their execution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetprompt_host.storage.models import DirectiveRow, ExecutionRow, SignalRow
from fleetprompt_sdk.errors import UsageError
from fleetprompt_sdk.models import Subject

from .history import directive_json, execution_json, step_json, steps_of
from .queries import signal_json

MAX_CORRELATIONS = 200
_RANK = {"directive": 0, "execution": 1, "step": 2, "signal": 3}


@dataclass(frozen=True)
class Entry:
    """One line of an audit timeline."""

    at: datetime
    kind: str
    id: str
    title: str
    detail: dict[str, Any] = field(default_factory=dict)
    order: tuple[Any, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form used by ``audit --json``."""
        return {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "id": self.id,
            "title": self.title,
            "detail": self.detail,
        }


def _signal(row: SignalRow) -> Entry:
    subject = f" {row.subject_type}:{row.subject_id}" if row.subject_type else ""
    return Entry(
        row.occurred_at,
        "signal",
        row.id,
        f"signal #{row.seq} {row.type}{subject} by {row.actor or row.source}",
        signal_json(row),
        (row.seq,),
    )


def _directive(row: DirectiveRow) -> Entry:
    return Entry(
        row.requested_at,
        "directive",
        row.id,
        f"directive {row.type} requested by {row.actor}: now {row.status}, "
        f"attempt {row.attempts}/{row.max_attempts}",
        directive_json(row),
    )


def _execution(session: Session, row: ExecutionRow) -> list[Entry]:
    summary = row.summary or {}
    what = summary.get("type") or summary.get("handler") or summary.get("tool") or ""
    ms = summary.get("duration_ms")
    took = f" in {ms:.1f} ms" if isinstance(ms, int | float) else ""
    outcome = summary.get("outcome") or row.status
    entries = [
        Entry(
            row.started_at,
            "execution",
            row.id,
            f"execution {row.kind} {what}: {outcome}{took}".replace("  ", " "),
            execution_json(row),
        )
    ]
    for step in steps_of(session, row.id):
        error = f" error {step.error.get('code')}" if step.error else ""
        if isinstance(step.output, dict) and step.output.get("rolled_back"):
            error += " (rolled back)"
        entries.append(
            Entry(
                step.started_at,
                "step",
                f"{row.id}#{step.seq}",
                f"  step {step.seq} {step.kind} {step.name}{error}",
                step_json(step),
                (row.started_at, row.id, step.seq),
            )
        )
    return entries


DEFAULT_LIMIT = 200


def _latest(session: Session, limit: int) -> list[Entry]:
    """The tenant's most recent activity: the last ``limit`` of each kind, merged."""
    entries = [
        _signal(row)
        for row in session.execute(
            select(SignalRow).order_by(SignalRow.seq.desc()).limit(limit)
        ).scalars()
    ]
    entries.extend(
        _directive(row)
        for row in session.execute(
            select(DirectiveRow).order_by(DirectiveRow.requested_at.desc()).limit(limit)
        ).scalars()
    )
    for row in session.execute(
        select(ExecutionRow).order_by(ExecutionRow.started_at.desc()).limit(limit)
    ).scalars():
        entries.extend(_execution(session, row))
    ordered = sorted(entries, key=_sort_key)
    heads = [i for i, e in enumerate(ordered) if e.kind != "step"]
    # Keep the newest ``limit`` entries, never cutting an execution from its steps.
    return ordered[heads[-limit] :] if len(heads) > limit else ordered


def timeline(
    session: Session,
    *,
    correlation_id: str | None = None,
    subject: Subject | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[Entry]:
    """Return the audit timeline for a correlation id, a subject, or (neither) the tenant's
    latest activity (see module doc)."""
    if correlation_id is not None and subject is not None:
        raise UsageError("audit takes --correlation or --subject, not both", code="usage")
    if correlation_id is None and subject is None:
        return _latest(session, limit)
    correlations: set[str] = set()
    signals: dict[str, SignalRow] = {}
    if correlation_id is not None:
        correlations.add(correlation_id)
    else:
        assert subject is not None
        about = session.execute(
            select(SignalRow)
            .where(SignalRow.subject_type == subject.type, SignalRow.subject_id == subject.id)
            .order_by(SignalRow.seq)
        ).scalars()
        for row in about:
            signals[row.id] = row
            if row.correlation_id:
                correlations.add(row.correlation_id)
        if subject.type == "directive":
            own = session.get(DirectiveRow, subject.id)
            if own is not None and own.correlation_id:
                correlations.add(own.correlation_id)
    chosen = sorted(correlations)[:MAX_CORRELATIONS]
    entries: list[Entry] = []
    if chosen:
        for row in session.execute(
            select(SignalRow).where(SignalRow.correlation_id.in_(chosen))
        ).scalars():
            signals[row.id] = row
        for d in session.execute(
            select(DirectiveRow).where(DirectiveRow.correlation_id.in_(chosen))
        ).scalars():
            entries.append(_directive(d))
        for e in session.execute(
            select(ExecutionRow).where(ExecutionRow.correlation_id.in_(chosen))
        ).scalars():
            entries.extend(_execution(session, e))
    entries.extend(_signal(s) for s in signals.values())
    return sorted(entries, key=_sort_key)


def _sort_key(entry: Entry) -> tuple[Any, ...]:
    # Steps sort with their execution, so a timeline never splits an execution apart.
    if entry.kind == "step":
        started, execution_id, seq = entry.order
        return (started, _RANK["execution"], execution_id, seq)
    if entry.kind == "execution":
        return (entry.at, _RANK["execution"], entry.id, 0)
    return (entry.at, _RANK[entry.kind], str(entry.order[0]).zfill(20) if entry.order else "", 0)
