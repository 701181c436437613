"""``Package`` collects decorated functions and implements the hook specifications."""

from __future__ import annotations

from typing import Any

import pluggy
import pytest

from fleetprompt_sdk import ManifestError, Package, ToolContext, hookspecs


def build_package(calls: list[Any]) -> Package:
    package = Package("demo")

    @package.tool
    def ping(ctx: ToolContext, text: str) -> str:
        """Echo the text."""
        return text

    @package.on_signal("on_created")
    def on_created(ctx: Any, signal: Any) -> None:
        calls.append(("signal", signal))

    @package.directive("demo.thing.create")
    def create(ctx: Any, directive: Any) -> dict[str, Any]:
        return {"ok": True}

    @package.on_install
    def install(ctx: Any) -> None:
        calls.append(("install", ctx))

    @package.on_upgrade
    def upgrade(ctx: Any, old: str, new: str) -> None:
        calls.append(("upgrade", old, new))

    @package.on_uninstall
    def uninstall(ctx: Any, purge: bool) -> None:
        calls.append(("uninstall", purge))

    return package


@pytest.fixture
def plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def test_package_contributes_its_parts_through_pluggy(plugin_manager: pluggy.PluginManager) -> None:
    calls: list[Any] = []
    plugin_manager.register(build_package(calls), name="demo")
    [tools] = plugin_manager.hook.fleetprompt_tools()
    assert [t.name for t in tools] == ["ping"]
    [handlers] = plugin_manager.hook.fleetprompt_signal_handlers()
    assert [h.name for h in handlers] == ["on_created"]
    [directives] = plugin_manager.hook.fleetprompt_directive_handlers()
    assert directives[0].type == "demo.thing.create"
    assert directives[0].function(None, None) == {"ok": True}


def test_lifecycle_hooks_reach_only_the_package_asked(
    plugin_manager: pluggy.PluginManager,
) -> None:
    mine: list[Any] = []
    other: list[Any] = []
    plugin_manager.register(build_package(mine), name="demo")
    plugin_manager.register(build_package(other), name="other")
    others = [p for p in plugin_manager.get_plugins() if plugin_manager.get_name(p) != "demo"]
    caller = plugin_manager.subset_hook_caller("fleetprompt_upgrade", remove_plugins=others)
    caller(ctx="ctx", from_version="1.0", to_version="2.0")
    assert mine == [("upgrade", "1.0", "2.0")]
    assert other == []


def test_tool_decorator_returns_the_function_unchanged() -> None:
    package = Package("demo")

    @package.tool(effect="write", directive="demo.thing.create")
    def make(ctx: ToolContext, name: str) -> str:
        """Make a thing."""
        return name

    assert make(None, "x") == "x"  # type: ignore[arg-type]
    assert package.fleetprompt_tools()[0].effect.value == "write"


@pytest.mark.parametrize(
    ("register", "code"),
    [
        (lambda p: p.on_signal("Bad-Name")(lambda c, s: None), "invalid-handler-name"),
        (lambda p: p.directive("NotAType")(lambda c, d: None), "invalid-directive-type"),
    ],
)
def test_badly_named_handlers_are_refused(register: Any, code: str) -> None:
    with pytest.raises(ManifestError) as info:
        register(Package("demo"))
    assert info.value.code == code
