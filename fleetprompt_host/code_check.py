"""Import a package and report what its hooks contribute, as JSON (run in a subprocess).

Usage::

    python -m fleetprompt_host.code_check --sys-path DIR --module NAME [--attr ATTR]
        [--name PACKAGE] --output FILE

The drift check (``fleetprompt validate --with-code``) and ``fleetprompt tools sync`` run
this in a separate process so that a package that fails to import, prints, calls
``sys.exit`` or hangs cannot take the validator down with it. The result is written to
``--output`` (not stdout, which the package's code may write to)::

    {"ok": true, "tools": [ToolSpec JSON...], "signal_handlers": ["name", ...],
     "directive_handlers": ["type", ...]}
    {"ok": false, "code": "package-import-failed", "message": "..."}
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from fleetprompt_sdk import hookspecs
from fleetprompt_sdk.package import Package


class CheckFailed(Exception):
    """The package could not be inspected; carries the problem code to report."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _last_line(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return lines[-1].strip() if lines else type(exc).__name__


def _is_plugin_module(module: ModuleType) -> bool:
    marker = f"{hookspecs.PROJECT_NAME}_impl"
    return any(hasattr(getattr(module, n, None), marker) for n in dir(module))


def find_package_object(module: ModuleType, attr: str | None, name: str | None) -> object:
    """Return the plugin object: ``attr`` if given, else the module's one ``Package``
    (the one called ``name`` when there are several), else the module itself when it
    defines ``@hookimpl`` functions."""
    if attr:
        obj: Any = module
        for part in attr.split("."):
            if not hasattr(obj, part):
                raise CheckFailed(
                    "package-object-not-found", f"{module.__name__} has no attribute {attr!r}"
                )
            obj = getattr(obj, part)
        return obj
    packages = [v for v in vars(module).values() if isinstance(v, Package)]
    if len(packages) > 1 and name:
        packages = [p for p in packages if p.name == name] or packages
    if len(packages) == 1:
        return packages[0]
    if len(packages) > 1:
        raise CheckFailed(
            "package-object-not-found",
            f"{module.__name__} defines {len(packages)} Package objects; name one in the "
            "fleetprompt.packages entry point",
        )
    if _is_plugin_module(module):
        return module
    raise CheckFailed(
        "package-object-not-found",
        f"{module.__name__} defines no fleetprompt_sdk.Package and no @hookimpl functions",
    )


def _call(pm: pluggy.PluginManager, hook: str) -> list[Any]:
    try:
        results = getattr(pm.hook, hook)()
    except Exception as exc:
        raise CheckFailed("package-hook-failed", f"hook {hook} raised {_last_line(exc)}") from None
    return [item for result in results for item in (result or [])]


def contributions(obj: object) -> dict[str, Any]:
    """Register ``obj`` as a plugin and return what its contribution hooks return."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    try:
        pm.register(obj, name="package-under-check")
    except Exception as exc:
        raise CheckFailed("package-hook-failed", f"not a valid plugin: {_last_line(exc)}") from None
    tools = _call(pm, "fleetprompt_tools")
    try:
        specs = [t.to_spec().model_dump(mode="json", by_alias=True) for t in tools]
    except Exception as exc:
        raise CheckFailed("package-hook-failed", f"a tool has no spec: {_last_line(exc)}") from None
    return {
        "ok": True,
        "tools": specs,
        "signal_handlers": [str(h.name) for h in _call(pm, "fleetprompt_signal_handlers")],
        "directive_handlers": [str(h.type) for h in _call(pm, "fleetprompt_directive_handlers")],
    }


def inspect_package(
    sys_path: str, module: str, attr: str | None, name: str | None
) -> dict[str, Any]:
    """Import ``module`` from ``sys_path`` and return its contributions (or the failure)."""
    sys.path.insert(0, sys_path)
    try:
        try:
            imported = importlib.import_module(module)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt from package code too
            raise CheckFailed(
                "package-import-failed", f"import {module} failed: {_last_line(exc)}"
            ) from None
        return contributions(find_package_object(imported, attr, name))
    except CheckFailed as failed:
        return {"ok": False, "code": failed.code, "message": failed.message}


def main(argv: list[str] | None = None) -> int:
    """Inspect the package and write the JSON result to ``--output``; exit 0 when written."""
    parser = argparse.ArgumentParser(prog="python -m fleetprompt_host.code_check")
    parser.add_argument("--sys-path", required=True)
    parser.add_argument("--module", required=True)
    parser.add_argument("--attr", default=None)
    parser.add_argument("--name", default=None)
    parser.add_argument("--output", required=True, type=Path)
    args = parser.parse_args(argv)
    result = inspect_package(args.sys_path, args.module, args.attr, args.name)
    args.output.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
