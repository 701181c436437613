"""``Package``: the convenient way to write a FleetPrompt package.

A ``Package`` collects tools, handlers and lifecycle functions through decorators and
implements the hooks of :mod:`fleetprompt_sdk.hookspecs` for them. Point the entry point
at it::

    [project.entry-points."fleetprompt.packages"]
    crm = "fleetprompt_crm:package"

Writing the ``@hookimpl`` functions by hand in a module works just as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .context import InstallContext
from .enums import Effect
from .handlers import DirectiveHandler, SignalHandler
from .hookspecs import hookimpl
from .tools import Tool, build_tool

F = TypeVar("F", bound=Callable[..., Any])


class Package:
    """A FleetPrompt package assembled from decorated functions."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tools: list[Tool] = []
        self._signal_handlers: list[SignalHandler] = []
        self._directive_handlers: list[DirectiveHandler] = []
        self._on_install: list[Callable[[InstallContext], None]] = []
        self._on_upgrade: list[Callable[[InstallContext, str, str], None]] = []
        self._on_uninstall: list[Callable[[InstallContext, bool], None]] = []

    def __repr__(self) -> str:
        return f"<fleetprompt Package {self.name!r}>"

    # -- decorators -------------------------------------------------------------------
    def tool(
        self,
        function: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        effect: Effect | str = Effect.READ,
        requires_confirmation: bool = False,
        directive: str | None = None,
        timeout: float = 30.0,
    ) -> Any:
        """Register a tool (see :func:`fleetprompt_sdk.tool`); returns the function unchanged."""

        def decorate(fn: F) -> F:
            self._tools.append(
                build_tool(
                    fn,
                    name=name,
                    description=description,
                    effect=effect,
                    requires_confirmation=requires_confirmation,
                    directive=directive,
                    timeout=timeout,
                )
            )
            return fn

        return decorate(function) if function is not None else decorate

    def on_signal(self, handler: str) -> Callable[[F], F]:
        """Register the signal handler named ``handler`` in the manifest's subscriptions."""

        def decorate(fn: F) -> F:
            self._signal_handlers.append(SignalHandler(name=handler, function=fn))
            return fn

        return decorate

    def directive(self, type_: str) -> Callable[[F], F]:
        """Register the handler that executes directives of ``type_``."""

        def decorate(fn: F) -> F:
            self._directive_handlers.append(DirectiveHandler(type=type_, function=fn))
            return fn

        return decorate

    def on_install(self, fn: F) -> F:
        """Register a function run when the package is installed into a tenant."""
        self._on_install.append(fn)
        return fn

    def on_upgrade(self, fn: F) -> F:
        """Register a function ``(ctx, from_version, to_version)`` run on upgrade."""
        self._on_upgrade.append(fn)
        return fn

    def on_uninstall(self, fn: F) -> F:
        """Register a function ``(ctx, purge)`` run before the package is removed."""
        self._on_uninstall.append(fn)
        return fn

    # -- hook implementations ---------------------------------------------------------
    @hookimpl
    def fleetprompt_tools(self) -> list[Tool]:
        """Return the registered tools."""
        return list(self._tools)

    @hookimpl
    def fleetprompt_signal_handlers(self) -> list[SignalHandler]:
        """Return the registered signal handlers."""
        return list(self._signal_handlers)

    @hookimpl
    def fleetprompt_directive_handlers(self) -> list[DirectiveHandler]:
        """Return the registered directive handlers."""
        return list(self._directive_handlers)

    @hookimpl
    def fleetprompt_install(self, ctx: InstallContext) -> None:
        """Run the registered install functions."""
        for fn in self._on_install:
            fn(ctx)

    @hookimpl
    def fleetprompt_upgrade(self, ctx: InstallContext, from_version: str, to_version: str) -> None:
        """Run the registered upgrade functions."""
        for fn in self._on_upgrade:
            fn(ctx, from_version, to_version)

    @hookimpl
    def fleetprompt_uninstall(self, ctx: InstallContext, purge: bool) -> None:
        """Run the registered uninstall functions."""
        for fn in self._on_uninstall:
            fn(ctx, purge)
