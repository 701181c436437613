"""Plugging one package's object into the plugin manager and checking what it contributes.

The manifest is what operators review and what the host trusts without running code; the
code must agree with it. This module registers a loaded plugin object, calls its
contribution hooks once and compares the result with the manifest (names, and the tool
properties that matter for safety), so that a package whose code and manifest disagree is
reported as broken instead of offering tools nobody reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pluggy

from fleetprompt_sdk import hookspecs
from fleetprompt_sdk.errors import PackageError, Problem
from fleetprompt_sdk.handlers import DirectiveHandler, SignalHandler
from fleetprompt_sdk.manifest import Manifest
from fleetprompt_sdk.package import Package
from fleetprompt_sdk.tools import Tool

#: Longest reason kept on one line; longer exception texts are cut.
MAX_REASON = 300


class PackageLoadError(PackageError):
    """A package could not be loaded; ``code`` says why and ``problems`` lists the details."""


@dataclass
class Contributions:
    """What a package's code offers, keyed the way the runtime looks it up."""

    tools: dict[str, Tool] = field(default_factory=dict)
    signal_handlers: dict[str, SignalHandler] = field(default_factory=dict)
    directive_handlers: dict[str, DirectiveHandler] = field(default_factory=dict)


def new_plugin_manager() -> pluggy.PluginManager:
    """Return an empty plugin manager that knows the FleetPrompt hook specifications."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def one_line(exc: BaseException) -> str:
    """Render an exception as ``Type: message`` on one line, cut to a readable length."""
    text = " ".join(str(exc).split())
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 3] + "..."


def summarise(problems: list[Problem]) -> str:
    """Return the first problem's message, with a count of the others."""
    first = problems[0].message
    return first if len(problems) == 1 else f"{first} (and {len(problems) - 1} more)"


def call_plugin_hook(
    pm: pluggy.PluginManager, plugin: object, hook_name: str, **kwargs: Any
) -> list[Any]:
    """Call ``hook_name`` on ``plugin`` only and return its non-None results.

    Calling the plugin's hook implementations directly (as pluggy itself calls plain
    implementations) keeps a lifecycle call from reaching any other package, costs nothing
    per installed package, and also covers implementations renamed with ``specname``.
    Packages may not use hook wrappers (refused at load), so no wrapper is skipped here.
    """
    caller = getattr(pm.hook, hook_name)
    results: list[Any] = []
    for impl in caller.get_hookimpls():
        if impl.plugin is plugin:
            result = impl.function(*[kwargs[name] for name in impl.argnames])
            if result is not None:
                results.append(result)
    return results


def register_plugin(pm: pluggy.PluginManager, name: str, plugin: object) -> None:
    """Register ``plugin`` under ``name``; raise :class:`PackageLoadError` if it is unfit.

    On failure the plugin manager is left as it was before the call.
    """
    if pm.has_plugin(name):
        raise PackageLoadError(
            f"a package named {name!r} is already registered", code="name-conflict"
        )
    try:
        pm.register(plugin, name=name)
    except Exception as exc:
        _forget(pm, name)
        code = "hook-invalid" if isinstance(exc, pluggy.PluginValidationError) else "load-failed"
        raise PackageLoadError(f"cannot register the plugin: {one_line(exc)}", code=code) from None
    try:
        _check_hooks(pm, plugin)
    except PackageLoadError:
        _forget(pm, name)
        raise


def _forget(pm: pluggy.PluginManager, name: str) -> None:
    if pm.has_plugin(name):
        pm.unregister(name=name)


def _check_hooks(pm: pluggy.PluginManager, plugin: object) -> None:
    callers = pm.get_hookcallers(plugin) or []
    if not callers:
        raise PackageLoadError(
            f"the entry point loaded {_describe(plugin)}, which implements no fleetprompt hook",
            code="not-a-plugin",
        )
    for caller in callers:
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            if impl.wrapper or impl.hookwrapper:
                raise PackageLoadError(
                    f"hook {caller.name!r} is a hook wrapper; packages may not wrap hooks",
                    code="hook-invalid",
                )
            # A hook this host does not know is a typo or needs a newer host; pluggy's own
            # convention (optionalhook=True) lets a package opt out of the check.
            if not caller.has_spec() and not impl.optionalhook:
                raise PackageLoadError(
                    f"implements unknown hook {caller.name!r}", code="hook-invalid"
                )


def _describe(plugin: object) -> str:
    text = repr(plugin)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(plugin).__name__} {text}"


def collect(pm: pluggy.PluginManager, manifest: Manifest, plugin: object) -> Contributions:
    """Call the plugin's contribution hooks and check them against ``manifest``.

    Raises :class:`PackageLoadError` when a hook raises (``hook-failed``), returns
    something other than a list of the expected objects (``contribution-invalid``) or
    disagrees with the manifest (``tool-undeclared``, ``handler-not-implemented``, ...).
    """
    if isinstance(plugin, Package) and plugin.name != manifest.name:
        raise PackageLoadError(
            f"the Package object is named {plugin.name!r} but the manifest names {manifest.name!r}",
            code="name-mismatch",
        )
    tools = _gather(pm, plugin, "fleetprompt_tools", Tool, lambda t: t.name)
    signal_handlers = _gather(
        pm, plugin, "fleetprompt_signal_handlers", SignalHandler, lambda h: h.name
    )
    directive_handlers = _gather(
        pm, plugin, "fleetprompt_directive_handlers", DirectiveHandler, lambda h: h.type
    )
    problems = (
        _tool_problems(manifest, tools)
        + _handler_problems(manifest, signal_handlers)
        + _directive_problems(manifest, directive_handlers)
    )
    if problems:
        raise PackageLoadError(
            f"code and manifest disagree: {summarise(problems)}",
            code=problems[0].code,
            problems=problems,
        )
    return Contributions(
        tools=tools, signal_handlers=signal_handlers, directive_handlers=directive_handlers
    )


def _gather(
    pm: pluggy.PluginManager, plugin: object, hook_name: str, kind: type, key: Any
) -> dict[str, Any]:
    try:
        results = call_plugin_hook(pm, plugin, hook_name)
    except (Exception, SystemExit) as exc:
        raise PackageLoadError(
            f"hook {hook_name} raised {one_line(exc)}", code="hook-failed"
        ) from None
    items: dict[str, Any] = {}
    for result in results:
        if not isinstance(result, list | tuple):
            raise PackageLoadError(
                f"hook {hook_name} must return a list of {kind.__name__}, "
                f"got {type(result).__name__}",
                code="contribution-invalid",
            )
        for item in result:
            if not isinstance(item, kind):
                raise PackageLoadError(
                    f"hook {hook_name} returned a {type(item).__name__} "
                    f"where a {kind.__name__} was expected",
                    code="contribution-invalid",
                )
            name = key(item)
            if name in items:
                raise PackageLoadError(
                    f"hook {hook_name} contributes {name!r} twice", code="contribution-invalid"
                )
            items[name] = item
    return items


def _tool_problems(manifest: Manifest, tools: dict[str, Tool]) -> list[Problem]:
    problems: list[Problem] = []
    declared = {spec.name: index for index, spec in enumerate(manifest.tools)}
    for name, tool in tools.items():
        if name not in declared:
            problems.append(
                Problem(
                    "tool-undeclared",
                    "tools",
                    f"tool {name!r} is not declared in the manifest (run `fleetprompt tools sync`)",
                )
            )
            continue
        index = declared[name]
        spec = manifest.tools[index]
        for attribute, in_manifest, in_code in (
            ("effect", spec.effect.value, tool.effect.value),
            ("requires_confirmation", spec.requires_confirmation, tool.requires_confirmation),
            ("directive", spec.directive, tool.directive),
        ):
            if in_manifest != in_code:
                problems.append(
                    Problem(
                        "tool-mismatch",
                        f"tools[{index}].{attribute}",
                        f"tool {name!r}: the manifest says {attribute}={in_manifest!r}, "
                        f"the code says {in_code!r}",
                    )
                )
    for name, index in declared.items():
        if name not in tools:
            problems.append(
                Problem(
                    "tool-not-implemented",
                    f"tools[{index}]",
                    f"tool {name!r} is declared in the manifest "
                    "but the code contributes no such tool",
                )
            )
    return problems


def _handler_problems(manifest: Manifest, handlers: dict[str, SignalHandler]) -> list[Problem]:
    problems: list[Problem] = []
    subscribed: dict[str, int] = {}
    for index, subscription in enumerate(manifest.signals.subscribes):
        subscribed.setdefault(subscription.handler, index)
    for name in handlers:
        if name not in subscribed:
            problems.append(
                Problem(
                    "handler-undeclared",
                    "signals.subscribes",
                    f"signal handler {name!r} has no subscription in the manifest",
                )
            )
    for name, index in subscribed.items():
        if name not in handlers:
            problems.append(
                Problem(
                    "handler-not-implemented",
                    f"signals.subscribes[{index}].handler",
                    f"subscription handler {name!r} is declared in the manifest "
                    "but the code contributes no such signal handler",
                )
            )
    return problems


def _directive_problems(manifest: Manifest, handlers: dict[str, DirectiveHandler]) -> list[Problem]:
    problems: list[Problem] = []
    declared = {spec.type: index for index, spec in enumerate(manifest.directives)}
    for type_ in handlers:
        if type_ not in declared:
            problems.append(
                Problem(
                    "directive-undeclared",
                    "directives",
                    f"directive handler for {type_!r}, a type the manifest does not declare",
                )
            )
    for type_, index in declared.items():
        if type_ not in handlers:
            problems.append(
                Problem(
                    "directive-not-implemented",
                    f"directives[{index}]",
                    f"directive {type_!r} is declared in the manifest but the code has no handler",
                )
            )
    return problems
