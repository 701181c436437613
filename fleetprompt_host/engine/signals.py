"""The one entry point to emit a signal, and its durable fanout to subscribed handlers.

:func:`emit_signal` validates, persists and fans out a signal inside the caller's
transaction (a unit of work): the signal, its per-tenant ``seq`` and one delivery per
subscribed handler commit together with the rest of the work, or not at all.

Rules (docs/signals-and-directives.md):

- ``type`` is lowercase and dot-delimited (``crm.contact.created``), without versions.
- ``data`` is a JSON object, at most :data:`MAX_DATA_BYTES` as canonical JSON, nested at
  most 32 levels, with no key that looks like a secret. When the package owning the
  type's namespace is loaded and declares the type, ``data`` must match its schema; a
  package emitting through its context may emit only types it declares.
- ``dedupe_key`` (and ``(source, source_event_id)`` for imported facts) make a
  re-emission return the existing signal with ``created=False`` and no new fanout, also
  when two transactions race (the unique constraint decides; the loser gets the winner).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from fleetprompt_host.registry import LoadedPackage, PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.base import utcnow
from fleetprompt_host.storage.models import SignalRow
from fleetprompt_sdk.errors import InvalidInputError, StorageError
from fleetprompt_sdk.models import Signal
from fleetprompt_sdk.naming import is_event_type, versioned_segment

from . import pg_fast, sqlite_fast
from .installed import active_packages
from .jsonsafe import check_json, compact_json, text_size
from .schemas import validate

# The shapes of a signal live in their own module; importers of this one still find them.
from .signal_models import SignalInput as SignalInput
from .signal_models import model_of as model_of
from .signal_models import row_values as row_values
from .signal_models import signal_of as signal_of
from .signal_models import to_model as to_model
from .statements import DELIVERY_INSERT, allocate_fast, dialect_of
from .subscriptions import any_subscriber, subscribers
from .wakeups import work_created

#: Largest accepted signal data, in bytes of canonical JSON.
MAX_DATA_BYTES = 64 * 1024
#: The ``source`` of signals the host itself emits (directive lifecycle, replays ...).
HOST_SOURCE = "fleetprompt"
COUNTER = "signals"

_DATA_CODES = {
    "not-json": "signal-data-not-json",
    "too-deep": "signal-data-not-json",
    "secret": "signal-data-secret",
}


#: The optional text fields of a signal and their largest length.
_FIELDS = (
    ("source", 200),
    ("dedupe_key", 200),
    ("source_event_id", 200),
    ("correlation_id", 64),
    ("causation_id", 64),
)


def validate_signal(
    registry: PackageRegistry,
    item: SignalInput,
    *,
    package: str | None = None,
    memo: dict[str, dict[str, Any] | None] | None = None,
) -> str:
    """Raise :class:`InvalidInputError` unless ``item`` may be emitted (see module doc).

    Returns ``item.data`` as compact JSON text, the form that is measured against the
    size limit and that the SQLite fast paths store (one serialization per signal).
    ``memo`` keeps the per-type part of the checks across the items of one batch.
    """
    if memo is not None and isinstance(item.type, str) and item.type in memo:
        schema = memo[item.type]
    else:
        schema = _type_schema(registry, item.type, package)
        if memo is not None:
            memo[item.type] = schema
    for name, limit in _FIELDS:
        value = getattr(item, name)
        if value is not None and not 0 < len(value) <= limit:
            raise InvalidInputError(
                f"signal {name} must be 1 to {limit} characters, got {len(value)}",
                code="invalid-signal-field",
            )
    if item.occurred_at is not None and item.occurred_at.tzinfo is None:
        raise InvalidInputError(
            "signal occurred_at must carry a time zone", code="invalid-signal-field"
        )
    if not isinstance(item.data, dict):
        raise InvalidInputError(
            f"signal data must be a JSON object, got {type(item.data).__name__}",
            code="signal-data-not-json",
        )
    check_json(item.data, root="data", codes=_DATA_CODES)
    text = compact_json(item.data)
    size = text_size(text)
    if size > MAX_DATA_BYTES:
        raise InvalidInputError(
            f"signal data is {size} bytes as JSON, at most {MAX_DATA_BYTES}",
            code="signal-data-too-large",
        )
    if schema:  # None or {}: nothing declared to check against
        validate(
            item.data,
            schema,
            root="data",
            code="signal-data-invalid",
            what=f"signal {item.type} (schema declared by {item.type.split('.', 1)[0]})",
        )
    return text


def _type_schema(
    registry: PackageRegistry, type_: Any, package: str | None
) -> dict[str, Any] | None:
    """Check the type; return the data schema its owning package declares, if any."""
    if not isinstance(type_, str):
        raise InvalidInputError(
            f"signal type {type_!r} is not lowercase dot-delimited (e.g. crm.contact.created)",
            code="invalid-signal-type",
        )
    namespace = _namespace(type_)
    if package is not None and namespace != package:
        raise InvalidInputError(
            f"package {package!r} may emit only {package}.* signals, not {type_!r}",
            code="signal-namespace",
        )
    owner = registry.find(namespace)
    spec = _declared(owner).get(type_) if isinstance(owner, LoadedPackage) else None
    if spec is None:
        if package is not None:
            raise InvalidInputError(
                f"package {package!r} does not declare signal {type_!r} in signals.emits",
                code="signal-not-declared",
            )
        return None
    schema: dict[str, Any] | None = spec.schema_
    return schema


@functools.lru_cache(maxsize=4096)
def _namespace(type_: str) -> str:
    """Return the namespace of a well-formed signal type (the checks depend on it alone)."""
    if not is_event_type(type_):
        raise InvalidInputError(
            f"signal type {type_!r} is not lowercase dot-delimited (e.g. crm.contact.created)",
            code="invalid-signal-type",
        )
    if len(type_) > 200:
        raise InvalidInputError(
            f"signal type {type_[:40]!r}... is longer than 200", code="invalid-signal-type"
        )
    version = versioned_segment(type_)
    if version is not None:
        raise InvalidInputError(
            f"signal type {type_!r} carries a version ({version!r}); types are unversioned",
            code="invalid-signal-type",
        )
    return type_.split(".", 1)[0]


# The declared signal types of each loaded package, by package object identity (each entry
# keeps its package alive, so an id is not reused while cached).
_emits: dict[int, tuple[LoadedPackage, dict[str, Any]]] = {}


def _declared(owner: LoadedPackage) -> dict[str, Any]:
    hit = _emits.get(id(owner))
    if hit is not None and hit[0] is owner:
        return hit[1]
    specs: dict[str, Any] = {}
    for spec in owner.manifest.signals.emits:
        specs.setdefault(spec.type, spec)  # the first declaration wins, as before
    if len(_emits) >= 256:
        _emits.clear()
    _emits[id(owner)] = (owner, specs)
    return specs


def emit_signal(
    session: Session,
    registry: PackageRegistry,
    tenant: str,
    item: SignalInput,
    *,
    package: str | None = None,
    signal_id: str | None = None,
    validated: bool = False,
    precheck: bool = True,
    data_json: str | None = None,
) -> tuple[Signal, bool]:
    """Validate, persist and fan out ``item`` in ``session``; return (signal, created).

    ``package`` names the emitting package when package code emits (its namespace and
    declarations are enforced); None means the host or an import emits. A dedupe hit
    returns the existing signal with ``created=False`` and creates no deliveries.
    ``signal_id`` fixes the new signal's id (handed out before the write);
    ``validated`` skips a validation the caller has just done (``data_json`` is then what
    :func:`validate_signal` returned, if the caller kept it); ``precheck=False`` skips
    the lookup of a duplicate before writing (for keys that are new but for a race: the
    write still detects a duplicate).
    """
    if not validated:
        data_json = validate_signal(registry, item, package=package)
    if precheck and (item.dedupe_key is not None or item.source_event_id is not None):
        existing = find_existing(session, item)
        if existing is not None:
            return to_model(existing, tenant), False
    values = row_values(item, signal_id)
    dialect = dialect_of(session)
    if dialect == "postgresql":
        values["occurred_at"] = item.occurred_at or utcnow()
        raw_pg = pg_fast.raw_connection(session)
        written = pg_fast.insert_numbered(raw_pg, COUNTER, values, data_json)
        inserted = written[0] if written else None
        if written is not None:
            values.update(seq=written[1], recorded_at=written[2])
    else:
        raw = sqlite_fast.raw_connection(session)
        inserted = _number_and_insert(raw, session.get_bind().dialect, item, values, data_json)
    if inserted is None:
        # Lost a race on a dedupe key: we hold the counter lock, so nobody allocated after
        # us and handing the number back keeps seq gap-free.
        allocate_fast(session, COUNTER, -1)
        existing = find_existing(session, item)
        if existing is None:
            raise _conflict(item)
        return to_model(existing, tenant), False
    _fan_out(session, registry, tenant, values["id"], values["seq"], item.type, utcnow())
    return signal_of(item, values, tenant), True


def _number_and_insert(
    raw: Any, dialect: Dialect, item: SignalInput, values: dict[str, Any], data_json: str | None
) -> str | None:
    """SQLite: take the next ``seq`` and insert the row; return its id (None: a duplicate)."""
    values["seq"] = sqlite_fast.allocate(raw, COUNTER)
    # Taken after the counter lock, so recorded_at follows seq order.
    values["recorded_at"] = utcnow()
    values["occurred_at"] = item.occurred_at or values["recorded_at"]
    return sqlite_fast.insert_signal(raw, dialect, values, data_json)


def _conflict(item: SignalInput) -> StorageError:
    return StorageError(
        f"signal {item.type!r} collided with a row that cannot be found", code="signal-conflict"
    )


def lock_signal_counter(session: Session) -> None:
    """Take the tenant's signal counter lock now (held until the transaction ends).

    Every transaction that emits takes this lock before it touches a directive row, so
    callers that must read a directive and then emit about it (cancel, rerun) take the
    lock first and read afterwards: no deadlock, and they see any run that finished
    while they waited.
    """
    allocate_fast(session, COUNTER, 0)


def find_existing(session: Session, item: SignalInput) -> SignalRow | None:
    """Return the stored signal ``item`` would duplicate (same dedupe key or source event)."""
    if item.dedupe_key is not None:
        found = session.execute(
            select(SignalRow).where(SignalRow.dedupe_key == item.dedupe_key)
        ).scalar_one_or_none()
        if found is not None:
            return found
    if item.source_event_id is not None:
        return session.execute(
            select(SignalRow).where(
                SignalRow.source == item.source,
                SignalRow.source_event_id == item.source_event_id,
            )
        ).scalar_one_or_none()
    return None


def _fan_out(
    session: Session,
    registry: PackageRegistry,
    tenant: str,
    signal_id: str,
    seq: int,
    type_: str,
    now: datetime,
) -> int:
    if not any_subscriber(registry, type_):
        return 0
    handlers = subscribers(registry, active_packages(session), type_)
    if not handlers:
        return 0
    session.execute(DELIVERY_INSERT, [delivery_row(signal_id, seq, h, now) for h in handlers])
    work_created(session, tenant, "delivery", now)
    return len(handlers)


def delivery_row(signal_id: str, seq: int, handler: str, now: datetime) -> dict[str, Any]:
    """Return the values of a first delivery of a signal to ``handler``."""
    return {
        "signal_id": signal_id,
        "signal_seq": seq,
        "handler": handler,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
        "status": "pending",
        "attempts": 0,
        "fencing_token": 0,
        "replay": False,
    }


def emit(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    item: SignalInput,
    *,
    package: str | None = None,
) -> tuple[Signal, bool]:
    """Emit ``item`` in a transaction of its own (see :func:`emit_signal`)."""
    data_json = validate_signal(registry, item, package=package)
    if db.dialect == "sqlite" and not any_subscriber(registry, item.type):
        # Nothing to fan out: the write is a duplicate lookup (for a keyed signal), the
        # counter and the insert, run on the tenant connection without an ORM session.
        with db.tenant_dbapi(tenant) as raw:
            values = _write_alone(raw, item, data_json)
        if values is not None:
            return signal_of(item, values, tenant), True
        # A duplicate: nothing was written; read the stored signal the usual way.
    with db.tenant_session(tenant) as session:
        return emit_signal(
            session, registry, tenant, item, package=package, validated=True, data_json=data_json
        )


def _write_alone(raw: Any, item: SignalInput, data_json: str) -> dict[str, Any] | None:
    """SQLite, in a write transaction: write ``item`` unless it duplicates a stored signal.

    Returns the row's values, or None for a duplicate (nothing written). The write
    transaction excludes every other writer, so the lookup cannot be overtaken.
    """
    if sqlite_fast.stored(raw, item.dedupe_key, item.source, item.source_event_id):
        return None
    values = row_values(item)
    if _number_and_insert(raw, sqlite_fast.DIALECT, item, values, data_json) is None:
        raise _conflict(item)
    return values
