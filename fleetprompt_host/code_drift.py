"""The drift check: does the package's code contribute what its manifest declares?

The package is imported in a subprocess (:mod:`fleetprompt_host.code_check`); whatever
goes wrong there (import error, hook error, crash, hang) becomes a problem, never an
exception here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetprompt_sdk.errors import FleetPromptError, PackageError, Problem

from .json_paths import PathPart
from .package_locator import PackageLocation, locate
from .semantic_rules.view import ManifestView

DEFAULT_TIMEOUT = 60.0
_TOOL_FIELDS = ("description", "effect", "requires_confirmation", "directive", "parameters")


@dataclass(frozen=True)
class CodeContributions:
    """What a package's hooks contribute: tool specs and handler names/types."""

    tools: list[dict[str, Any]] = field(default_factory=list)
    signal_handlers: list[str] = field(default_factory=list)
    directive_handlers: list[str] = field(default_factory=list)


def run_code_check(
    location: PackageLocation, name: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> CodeContributions:
    """Import the package in a subprocess and return its contributions.

    Raises :class:`PackageError` (code ``package-import-failed``, ``package-hook-failed``
    or ``package-object-not-found``) when the package cannot be inspected.
    """
    with tempfile.TemporaryDirectory(prefix="fleetprompt-code-check-") as scratch:
        output = Path(scratch) / "result.json"
        command = [sys.executable, "-m", "fleetprompt_host.code_check"]
        command += ["--sys-path", location.sys_path, "--module", location.module]
        command += ["--output", str(output)]
        command += ["--attr", location.attr] if location.attr else []
        command += ["--name", name] if name else []
        # No bytecode: checking a source tree must leave it as it was.
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            done = subprocess.run(
                command, cwd=scratch, env=env, stdin=subprocess.DEVNULL,
                capture_output=True, text=True, timeout=timeout, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise PackageError(
                f"importing {location.module} did not finish within {timeout:g}s",
                code="package-import-failed",
            ) from None
        if done.returncode != 0 or not output.is_file():
            tail = " ".join(done.stderr.strip().splitlines()[-1:]) or f"exit {done.returncode}"
            raise PackageError(
                f"inspecting {location.module} failed: {tail}", code="package-import-failed"
            )
        result = json.loads(output.read_text(encoding="utf-8"))
    if not result.get("ok"):
        raise PackageError(str(result.get("message")), code=str(result.get("code")))
    return CodeContributions(
        tools=list(result["tools"]),
        signal_handlers=list(result["signal_handlers"]),
        directive_handlers=list(result["directive_handlers"]),
    )


def differences(
    a: Any, b: Any, parts: tuple[PathPart, ...] = (), limit: int = 3
) -> list[tuple[PathPart, ...]]:
    """Return up to ``limit`` paths where the JSON values ``a`` and ``b`` differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        found: list[tuple[PathPart, ...]] = []
        for key in [*a, *(k for k in b if k not in a)]:
            found += differences(a.get(key), b.get(key), (*parts, key), limit - len(found))
            if len(found) >= limit:
                break
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        found = []
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found += differences(x, y, (*parts, index), limit - len(found))
            if len(found) >= limit:
                break
        return found
    return [] if a == b else [parts]


def _normalised(raw: dict[str, Any]) -> dict[str, Any]:
    """Return a manifest tool entry with defaults filled in, as ``Tool.to_spec()`` dumps it."""
    from fleetprompt_sdk.manifest import ToolSpec

    try:
        return ToolSpec.model_validate(raw).model_dump(mode="json", by_alias=True)
    except Exception:  # invalid entries are reported by the validator; compare them raw
        return raw


def _tool_drift(view: ManifestView, code: CodeContributions) -> Iterator[Problem]:
    in_code = {str(t.get("name")): t for t in code.tools}
    declared: set[str] = set()
    for entry in view.entries("tools"):
        name = entry.text("name")
        if name is None:
            continue
        declared.add(name)
        spec = in_code.get(name)
        if spec is None:
            yield Problem(
                "tool-drift", entry.at("name"), f"tool {name!r} is declared but not in the code"
            )
            continue
        manifest_side = _normalised(entry.data)
        for key in _TOOL_FIELDS:
            for parts in differences(manifest_side.get(key), spec.get(key), (key,)):
                yield Problem(
                    "tool-drift",
                    entry.at(*parts),
                    f"tool {name!r} differs from the code here (run fleetprompt tools sync)",
                )
    for name in in_code:
        if name not in declared:
            yield Problem(
                "tool-drift",
                "tools",
                f"tool {name!r} is in the code but not declared (run fleetprompt tools sync)",
            )


def _handler_drift(view: ManifestView, code: CodeContributions) -> Iterator[Problem]:
    handled = set(code.directive_handlers)
    declared: set[str] = set()
    for entry in view.entries("directives"):
        if (kind := entry.text("type")) is not None:
            declared.add(kind)
            if kind not in handled:
                yield Problem(
                    "handler-drift", entry.at("type"), f"directive {kind!r} has no handler in code"
                )
    for kind in sorted(handled - declared):
        yield Problem(
            "handler-drift", "directives", f"code handles directive {kind!r}, not declared here"
        )
    in_code = set(code.signal_handlers)
    subscribed: set[str] = set()
    for entry in view.entries("signals", "subscribes"):
        if (name := entry.text("handler")) is not None:
            subscribed.add(name)
            if name not in in_code:
                yield Problem(
                    "handler-drift", entry.at("handler"), f"handler {name!r} is not in the code"
                )
    for name in sorted(in_code - subscribed):
        yield Problem(
            "handler-drift",
            "signals.subscribes",
            f"code defines signal handler {name!r}, which no subscription names",
        )


def drift_problems(data: object, code: CodeContributions) -> list[Problem]:
    """Compare a manifest with what the code contributes; return every difference."""
    view = ManifestView(data)
    return [*_tool_drift(view, code), *_handler_drift(view, code)]


def check_code(path: Path, data: object, timeout: float = DEFAULT_TIMEOUT) -> list[Problem]:
    """Run the whole drift check for a ``validate`` target; failures become problems."""
    with tempfile.TemporaryDirectory(prefix="fleetprompt-sdist-") as scratch:
        try:
            location = locate(path, Path(scratch))
            code = run_code_check(location, ManifestView(data).name, timeout)
        except FleetPromptError as exc:
            code_name = exc.code if exc.code.startswith("package-") else "package-import-failed"
            return [Problem(code_name, "", exc.message)]
        except (OSError, ValueError) as exc:
            return [Problem("package-import-failed", "", f"cannot inspect {path}: {exc}")]
    return drift_problems(data, code)


__all__ = ["CodeContributions", "check_code", "drift_problems", "run_code_check"]
