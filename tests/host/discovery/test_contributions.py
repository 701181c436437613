"""A package's code must be a plugin that agrees with its manifest, or it is left out."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from fleetprompt_host.discovery import discover

HEADER = """
from __future__ import annotations
from typing import Any
from fleetprompt_sdk import Package, hookimpl
"""

PING_SPEC = {
    "name": "ping",
    "description": "Answer pong.",
    "parameters": {"type": "object", "properties": {}},
    "effect": "read",
}

PING_TOOL = """
package = Package("{name}")

@package.tool{options}
def ping(ctx: Any) -> str:
    \"\"\"Answer pong.\"\"\"
    return "pong"
"""

FINE = HEADER + 'package = Package("synfine")\n'

# (case id, manifest extras, module code, entry point target, expected code, reason fragment)
CASES: list[tuple[str, dict[str, Any], str, str, str, str]] = [
    (
        "unknown-hook",
        {},
        "@hookimpl\ndef fleetprompt_toolz() -> list[Any]:\n    return []\n",
        "",
        "hook-invalid",
        "unknown hook 'fleetprompt_toolz'",
    ),
    (
        "hook-wrapper",
        {},
        "@hookimpl(wrapper=True)\ndef fleetprompt_tools() -> Any:\n    return (yield)\n",
        "",
        "hook-invalid",
        "hook wrapper",
    ),
    (
        "hook-signature",
        {},
        "@hookimpl\ndef fleetprompt_install(ctx: Any, surprise: int) -> None:\n    pass\n",
        "",
        "hook-invalid",
        "surprise",
    ),
    (
        "returns-a-string",
        {},
        "@hookimpl\ndef fleetprompt_tools() -> Any:\n    return 'nope'\n",
        "",
        "contribution-invalid",
        "must return a list of Tool, got str",
    ),
    (
        "returns-wrong-items",
        {},
        "@hookimpl\ndef fleetprompt_signal_handlers() -> Any:\n    return [42]\n",
        "",
        "contribution-invalid",
        "returned a int where a SignalHandler was expected",
    ),
    (
        "package-name-mismatch",
        {},
        'package = Package("someone_else")\n',
        "package",
        "name-mismatch",
        "named 'someone_else'",
    ),
    (
        "tool-mismatch",
        {"tools": [PING_SPEC]},
        PING_TOOL.replace("{options}", "(requires_confirmation=True)"),
        "package",
        "tool-mismatch",
        "requires_confirmation=False",
    ),
    (
        "tool-not-implemented",
        {"tools": [PING_SPEC]},
        'package = Package("{name}")\n',
        "package",
        "tool-not-implemented",
        "tool 'ping' is declared in the manifest but the code contributes no such tool",
    ),
    (
        "handler-undeclared",
        {},
        'package = Package("{name}")\n@package.on_signal("stray")\n'
        "def stray(ctx: Any, signal: Any) -> None:\n    pass\n",
        "package",
        "handler-undeclared",
        "signal handler 'stray' has no subscription",
    ),
    (
        "handler-not-implemented",
        {"signals": {"subscribes": [{"handler": "on_ping", "pattern": "other.ping.*"}]}},
        'package = Package("{name}")\n',
        "package",
        "handler-not-implemented",
        "handler 'on_ping'",
    ),
    (
        "directive-undeclared",
        {},
        'package = Package("{name}")\n@package.directive("{name}.thing.do")\n'
        "def do(ctx: Any, directive: Any) -> None:\n    pass\n",
        "package",
        "directive-undeclared",
        "a type the manifest does not declare",
    ),
    (
        "directive-not-implemented",
        {"directives": [{"type": "{name}.thing.do"}]},
        'package = Package("{name}")\n',
        "package",
        "directive-not-implemented",
        "has no handler",
    ),
    (
        "exits-on-import",
        {},
        "raise SystemExit(3)\n",
        "package",
        "import-failed",
        "SystemExit: 3",
    ),
    (
        "missing-attribute",
        {},
        'package = Package("{name}")\n',
        "no_such_attribute",
        "import-failed",
        "no_such_attribute",
    ),
]


def _fill(value: Any, name: str) -> Any:
    if isinstance(value, str):
        return value.replace("{name}", name)
    if isinstance(value, list):
        return [_fill(v, name) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, name) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("extras", "code", "target", "expected_code", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_code_that_is_not_a_fitting_plugin_leaves_the_package_broken_with_a_reason(
    site_factory: Any,
    manifest_for: Callable[..., dict[str, Any]],
    extras: dict[str, Any],
    code: str,
    target: str,
    expected_code: str,
    fragment: str,
) -> None:
    name = "synpkg"
    site_factory.add(
        "fpsyn_case",
        manifest_for(name, **_fill(extras, name)),
        HEADER + _fill(code, name),
        target=target,
    )
    site_factory.add("fpsyn_fine", manifest_for("synfine"), FINE)

    registry = discover(path=[site_factory.path])

    broken = {b.name: b for b in registry.broken}
    assert list(broken) == [name]
    assert broken[name].code == expected_code
    assert fragment in broken[name].reason
    assert list(registry.packages) == ["synfine"]
    assert registry.plugin_manager.get_plugin(name) is None


def test_a_tool_mismatch_names_the_manifest_path(
    site_factory: Any, manifest_for: Callable[..., dict[str, Any]]
) -> None:
    code = HEADER + PING_TOOL.replace("{options}", '(effect="write")').replace("{name}", "syn")
    site_factory.add("fpsyn_effect", manifest_for("syn", tools=[PING_SPEC]), code)

    broken = discover(path=[site_factory.path]).broken

    assert [p.path for p in broken[0].problems] == ["tools[0].effect"]


def test_an_unknown_hook_marked_optional_is_accepted(
    site_factory: Any, manifest_for: Callable[..., dict[str, Any]]
) -> None:
    code = HEADER + "@hookimpl(optionalhook=True)\ndef fleetprompt_future() -> None:\n    pass\n"
    site_factory.add("fpsyn_optional", manifest_for("synoptional"), code, target="")

    registry = discover(path=[site_factory.path])

    assert list(registry.packages) == ["synoptional"]


def test_an_entry_point_that_is_not_module_attribute_is_reported(
    site_factory: Any, manifest_for: Callable[..., dict[str, Any]]
) -> None:
    site_factory.add("fpsyn_value", manifest_for("synvalue"), "", target="not valid!")

    broken = discover(path=[site_factory.path]).broken

    assert [(b.name, b.code) for b in broken] == [("fpsyn_value", "entry-point-invalid")]


def test_a_malformed_entry_point_is_reported_even_with_the_metadata_backport_loaded(
    site_factory: Any, manifest_for: Callable[..., dict[str, Any]]
) -> None:
    # The backport's finder yields distributions whose entry points validate eagerly.
    pytest.importorskip("importlib_metadata")
    site_factory.add("fpsyn_backport", manifest_for("synbackport"), "", target="not valid!")

    broken = discover(path=[site_factory.path]).broken

    assert [(b.name, b.code) for b in broken] == [("fpsyn_backport", "entry-point-invalid")]


def test_many_installed_packages_are_all_discovered_and_loaded(
    site_factory: Any, manifest_for: Callable[..., dict[str, Any]]
) -> None:
    count = int(os.environ.get("FLEETPROMPT_TEST_DISCOVERY_PACKAGES", "50"))
    for index in range(count):
        name = f"syn{index:03d}"
        code = HEADER + PING_TOOL.replace("{options}", "").replace("{name}", name)
        site_factory.add(f"fpsyn_{name}", manifest_for(name, tools=[PING_SPEC]), code)

    registry = discover(path=[site_factory.path])
    names = registry.names()
    loaded = registry.packages

    # How fast this is, is measured in bench/foundation_bench.py, not asserted here.
    assert len(names) == len(loaded) == count
    assert registry.broken == []
