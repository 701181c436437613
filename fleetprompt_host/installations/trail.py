"""The signal trail of lifecycle operations: ``package.<action>.<event>``.

Actions: ``install``, ``upgrade``, ``uninstall``, ``enable``, ``disable``. Events:
``requested`` (with the directive request), ``started`` and ``completed`` (in the
directive's transaction, so they exist only if its effects committed) and ``failed``
(written when a failure is recorded). Every signal has the package as its subject
(``package:<name>``), the directive's correlation id, and a dedupe key from
:func:`.keys.signal_dedupe_key`. Data never holds config values, only field names and the
config checksum.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from fleetprompt_host.engine.signals import HOST_SOURCE, SignalInput, emit_signal
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_sdk.models import Actor, Signal, Subject

from .keys import signal_dedupe_key

ACTIONS = ("install", "upgrade", "uninstall", "enable", "disable")
EVENTS = ("requested", "started", "completed", "failed")


def lifecycle_event(
    session: Session,
    registry: PackageRegistry,
    tenant: str,
    *,
    action: str,
    event: str,
    package: str,
    directive_id: str,
    actor: str,
    correlation_id: str | None,
    data: dict[str, Any],
    attempt: int = 0,
) -> Signal:
    """Emit ``package.<action>.<event>`` about ``package`` in ``session``; return it."""
    assert action in ACTIONS and event in EVENTS, (action, event)
    signal, _ = emit_signal(
        session,
        registry,
        tenant,
        SignalInput(
            type=f"package.{action}.{event}",
            data={"package": package, "directive_id": directive_id, **data},
            source=HOST_SOURCE,
            subject=Subject(type="package", id=package),
            actor=Actor.parse(actor),
            correlation_id=correlation_id,
            causation_id=directive_id,
            dedupe_key=signal_dedupe_key(action, event, directive_id, attempt),
        ),
    )
    return signal
