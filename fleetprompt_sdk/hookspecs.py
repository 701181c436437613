"""Hook specifications: how a package plugs into the host (pluggy project ``fleetprompt``).

A package's entry point (group ``fleetprompt.packages``) loads an object registered as a
pluggy plugin. Contribution hooks (tools, handlers) are called on every package; lifecycle
hooks (install, upgrade, uninstall) are called only on the package concerned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .context import InstallContext
    from .handlers import DirectiveHandler, SignalHandler
    from .tools import Tool

PROJECT_NAME = "fleetprompt"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def fleetprompt_tools() -> list[Tool]:  # type: ignore[empty-body]
    """Contribute the package's tools.

    Return a list of :class:`~fleetprompt_sdk.tools.Tool` built with ``@tool``. Every
    tool must also be declared in the manifest (``fleetprompt tools sync`` writes it).
    """


@hookspec
def fleetprompt_signal_handlers() -> list[SignalHandler]:  # type: ignore[empty-body]
    """Contribute the package's signal handlers.

    Each handler's name must match a ``signals.subscribes[].handler`` entry of the manifest,
    which holds the type pattern it receives. The handler is called with a
    :class:`~fleetprompt_sdk.context.HandlerContext` and the :class:`Signal`; it may be
    called more than once for one signal (retries, replays) and should use
    ``ctx.idempotency_key`` to recognise a repeat.
    """


@hookspec
def fleetprompt_directive_handlers() -> list[DirectiveHandler]:  # type: ignore[empty-body]
    """Contribute handlers that execute the directive types the package declares.

    A handler runs inside one transaction with the directive's status change: its record
    writes and the signals it emits commit together or not at all. It returns a JSON-safe
    dict (the directive's result) or None.
    """


@hookspec
def fleetprompt_install(ctx: InstallContext) -> None:
    """Provision the package in a tenant at install time.

    Seed records declared in the manifest are written before this hook runs. Records
    written through ``ctx.records`` are marked as provisioned by the package; give them
    stable keys so that re-running an install creates nothing twice.
    """


@hookspec
def fleetprompt_upgrade(ctx: InstallContext, from_version: str, to_version: str) -> None:
    """Migrate the package's records from ``from_version`` to ``to_version``.

    Runs in the same transaction as the version change: if it raises, the tenant keeps the
    old version and its records unchanged.
    """


@hookspec
def fleetprompt_uninstall(ctx: InstallContext, purge: bool) -> None:
    """Clean up before the package is removed from a tenant.

    Provisioned records are removed by the host afterwards; with ``purge`` the records
    users created through the package's tools are removed too.
    """
