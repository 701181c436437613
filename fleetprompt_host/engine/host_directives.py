"""Directive types the host itself handles (``package.install``, ``package.remove`` ...).

Host layers register their types here at import time; the engine validates params
against the registered schema, checks the required role and runs the handler through the
same runner as package directives. A host handler receives a
:class:`~fleetprompt_host.engine.contexts.HostDirectiveContext`, which can reach any
package's records and emit host signals, all in the directive's transaction.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fleetprompt_sdk.enums import Role
from fleetprompt_sdk.errors import ConflictError, InvalidInputError
from fleetprompt_sdk.models import Directive
from fleetprompt_sdk.naming import is_event_type

#: ``handler(ctx, directive) -> result dict or None`` (``directive.params`` are validated).
HostDirectiveHandler = Callable[[Any, Directive], "dict[str, Any] | None"]


@dataclass(frozen=True)
class HostDirectiveType:
    """A directive type handled by the host rather than by a package."""

    type: str
    handler: HostDirectiveHandler
    params: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    required_role: Role = Role.ADMIN
    description: str = ""


_types: dict[str, HostDirectiveType] = {}
#: Host layers whose directive types every process must know, imported on first lookup so
#: a worker runs ``package.install`` without importing the installations layer itself.
BUILTIN_LAYERS = ("fleetprompt_host.installations",)
_builtin_lock = threading.RLock()
_builtin_loaded = threading.Event()
_loading_thread: list[int] = []


def _load_builtin_layers() -> None:
    # Mark the layers loaded only once their import finished: a worker thread looking a
    # type up while another thread imports them must wait, not find nothing. A lookup made
    # by the importing thread itself (from inside the import) must neither wait nor mark.
    if _builtin_loaded.is_set() or threading.get_ident() in _loading_thread:
        return
    with _builtin_lock:
        if _builtin_loaded.is_set():
            return
        _loading_thread.append(threading.get_ident())
        try:
            for module in BUILTIN_LAYERS:
                importlib.import_module(module)
            _builtin_loaded.set()
        finally:
            _loading_thread.clear()


def register_host_directive(spec: HostDirectiveType) -> None:
    """Register ``spec``; registering the same spec again is a no-op, a different one an error."""
    if not is_event_type(spec.type):
        raise InvalidInputError(
            f"host directive type {spec.type!r} is not lowercase dot-delimited",
            code="invalid-directive-type",
        )
    current = _types.get(spec.type)
    if current is not None and current != spec:
        raise ConflictError(
            f"host directive type {spec.type!r} is already registered", code="name-conflict"
        )
    _types[spec.type] = spec


def unregister_host_directive(type_: str) -> None:
    """Remove a registered host directive type (for tests and embedding hosts)."""
    _types.pop(type_, None)


def host_directive(type_: str) -> HostDirectiveType | None:
    """Return the host directive type ``type_``, if registered."""
    _load_builtin_layers()
    return _types.get(type_)


def host_directive_types() -> list[HostDirectiveType]:
    """Return every registered host directive type, sorted by type."""
    _load_builtin_layers()
    return [_types[t] for t in sorted(_types)]
