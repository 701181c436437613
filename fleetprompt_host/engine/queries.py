"""Reading signals back: filters shared by ``signals list|tail|export|replay`` and audit.

Filters: a type or subscription pattern (``crm.contact.*``), a subject (``contact:42``), a
correlation id, ids, and a time range on ``occurred_at`` (``since`` inclusive, ``until``
exclusive). Results come in ``seq`` order, the tenant's total order of signals.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from fleetprompt_host.storage.models import SignalRow
from fleetprompt_sdk.errors import InvalidInputError
from fleetprompt_sdk.models import Subject
from fleetprompt_sdk.naming import is_event_type, is_subscription_pattern, pattern_matches

PAGE = 500


def parse_subject(value: str) -> Subject:
    """Parse ``TYPE:ID``; raise :class:`InvalidInputError` (``invalid-subject``)."""
    kind, sep, ident = value.partition(":")
    if not sep or not kind or not ident or len(kind) > 100 or len(ident) > 200:
        raise InvalidInputError(
            f"invalid subject {value!r}: expected TYPE:ID (e.g. contact:42)",
            code="invalid-subject",
        )
    return Subject(type=kind, id=ident)


def check_pattern(pattern: str) -> str:
    """Return ``pattern`` if it is a type or a subscription pattern, else raise."""
    if not (is_event_type(pattern) or is_subscription_pattern(pattern)) or "." not in pattern:
        raise InvalidInputError(
            f"invalid type pattern {pattern!r}: use a type (crm.contact.created) or a "
            "pattern where * is one segment and a final ** is the rest (crm.contact.*)",
            code="invalid-type-pattern",
        )
    return pattern


def _aware(value: datetime | None, name: str) -> None:
    if value is not None and value.tzinfo is None:
        raise InvalidInputError(f"{name} must carry a time zone", code="invalid-time-range")


@dataclass(frozen=True)
class SignalFilter:
    """Which signals to read (every field optional; all given ones must match)."""

    type_pattern: str | None = None
    subject: Subject | None = None
    correlation_id: str | None = None
    ids: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int | None = None

    def __post_init__(self) -> None:
        if self.type_pattern is not None:
            check_pattern(self.type_pattern)
        _aware(self.since, "since")
        _aware(self.until, "until")
        if self.since and self.until and self.since >= self.until:
            raise InvalidInputError(
                "the time range is empty: since must be before until", code="invalid-time-range"
            )

    @property
    def empty(self) -> bool:
        """True when nothing narrows the selection."""
        return not (
            self.type_pattern
            or self.subject
            or self.correlation_id
            or self.ids
            or self.since
            or self.until
            or self.after_seq is not None
        )

    def statement(self) -> Select[Any]:
        """Return the SQL part of the filter (the pattern is finished in Python)."""
        stmt = select(SignalRow)
        pattern = self.type_pattern
        if pattern is not None:
            if "*" in pattern:
                literal = pattern.split("*", 1)[0]
                if literal:
                    stmt = stmt.where(SignalRow.type.startswith(literal, autoescape=True))
            else:
                stmt = stmt.where(SignalRow.type == pattern)
        if self.subject is not None:
            stmt = stmt.where(
                SignalRow.subject_type == self.subject.type,
                SignalRow.subject_id == self.subject.id,
            )
        if self.correlation_id is not None:
            stmt = stmt.where(SignalRow.correlation_id == self.correlation_id)
        if self.ids:
            stmt = stmt.where(SignalRow.id.in_(self.ids))
        if self.since is not None:
            stmt = stmt.where(SignalRow.occurred_at >= self.since)
        if self.until is not None:
            stmt = stmt.where(SignalRow.occurred_at < self.until)
        if self.after_seq is not None:
            stmt = stmt.where(SignalRow.seq > self.after_seq)
        return stmt

    def matches_type(self, type_: str) -> bool:
        """Apply the type pattern."""
        pattern = self.type_pattern
        if pattern is None or "*" not in pattern:
            return True
        return pattern_matches(pattern, type_)


def iter_signals(session: Session, flt: SignalFilter) -> Iterator[SignalRow]:
    """Yield matching signals in ``seq`` order, a page at a time."""
    after = flt.after_seq
    while True:
        stmt = flt.statement()
        if after is not None:
            stmt = stmt.where(SignalRow.seq > after)
        page = list(session.execute(stmt.order_by(SignalRow.seq).limit(PAGE)).scalars())
        for row in page:
            if flt.matches_type(row.type):
                yield row
        if len(page) < PAGE:
            return
        after = page[-1].seq


def list_signals(
    session: Session, flt: SignalFilter, *, limit: int | None = None, last: bool = False
) -> list[SignalRow]:
    """Return matching signals in ``seq`` order: the first ``limit``, or the last with ``last``."""
    if last and limit is not None and "*" not in (flt.type_pattern or ""):
        # Without a Python-side pattern the newest rows can be read directly.
        stmt = flt.statement().order_by(SignalRow.seq.desc()).limit(limit)
        return list(reversed(list(session.execute(stmt).scalars())))
    rows: list[SignalRow] = []
    for row in iter_signals(session, flt):
        rows.append(row)
        if last and limit is not None and len(rows) > limit:
            rows.pop(0)
        elif not last and limit is not None and len(rows) >= limit:
            break
    return rows


def get_signal(session: Session, ref: str) -> SignalRow | None:
    """Return the signal with id ``ref``, or with seq ``ref`` when it is a number."""
    if ref.isdigit():
        return session.execute(
            select(SignalRow).where(SignalRow.seq == int(ref))
        ).scalar_one_or_none()
    return session.get(SignalRow, ref)


def signal_json(row: SignalRow) -> dict[str, Any]:
    """Return a stored signal as JSON (the form of ``signals list --json``)."""
    return {
        "id": row.id,
        "seq": row.seq,
        "type": row.type,
        "source": row.source,
        "source_event_id": row.source_event_id,
        "subject": f"{row.subject_type}:{row.subject_id}" if row.subject_type else None,
        "actor": row.actor,
        "correlation_id": row.correlation_id,
        "causation_id": row.causation_id,
        "dedupe_key": row.dedupe_key,
        "occurred_at": row.occurred_at.isoformat(),
        "recorded_at": row.recorded_at.isoformat(),
        "data": row.data,
    }
