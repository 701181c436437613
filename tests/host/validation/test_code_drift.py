"""``validate --with-code``: the package is imported in a subprocess and its hooks'
contributions are compared with the manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from fleetprompt_host.code_drift import check_code
from fleetprompt_host.tools_sync import sync_tools, write

Run = Callable[..., Result]
Make = Callable[..., Path]


def _problems(result: Result) -> set[tuple[str, str]]:
    [target] = json.loads(result.output)["results"]
    return {(p["code"], p["path"]) for p in target["problems"]}


@pytest.fixture
def synced(make_package: Make) -> Path:
    """A package whose manifest agrees with its code (tools written by tools sync)."""
    root = make_package("notes")
    write(sync_tools(root))
    return root


def _manifest(root: Path) -> tuple[Path, dict[str, Any]]:
    [path] = root.rglob("fleetprompt.json")
    return path, json.loads(path.read_text())


def test_agreeing_code_and_manifest_pass(run_cli: Run, synced: Path) -> None:
    result = run_cli("validate", "--with-code", "--format", "json", str(synced))
    assert result.exit_code == 0, result.output
    assert _problems(result) == set()


def test_checking_code_leaves_no_bytecode_in_the_source_tree(synced: Path) -> None:
    _, data = _manifest(synced)
    assert check_code(synced, data) == []
    assert not list(synced.rglob("__pycache__"))


def test_tool_missing_from_manifest_and_changed_tool_are_drift(run_cli: Run, synced: Path) -> None:
    path, data = _manifest(synced)
    data["tools"] = [t for t in data["tools"] if t["name"] != "add_note"]
    data["tools"][0]["parameters"]["properties"]["limit"]["default"] = 20
    data["tools"][0]["description"] = "Search."
    path.write_text(json.dumps(data, indent=2))
    result = run_cli("validate", "--with-code", "--format", "json", str(synced))
    assert result.exit_code == 1
    assert _problems(result) == {
        ("tool-drift", "tools"),
        ("tool-drift", "tools[0].description"),
        ("tool-drift", "tools[0].parameters.properties.limit.default"),
    }


def test_declared_tool_without_code_is_drift(run_cli: Run, synced: Path) -> None:
    path, data = _manifest(synced)
    data["tools"].append({**data["tools"][0], "name": "ghost"})
    path.write_text(json.dumps(data, indent=2))
    result = run_cli("validate", "--with-code", "--format", "json", str(synced))
    assert ("tool-drift", "tools[2].name") in _problems(result)


def test_handlers_must_match_directives_and_subscriptions(run_cli: Run, synced: Path) -> None:
    path, data = _manifest(synced)
    data["directives"].append({"type": "notes.note.archive"})
    data["signals"]["subscribes"] = [{"handler": "on_ticket_closed", "pattern": "helpdesk.**"}]
    path.write_text(json.dumps(data, indent=2))
    result = run_cli("validate", "--with-code", "--format", "json", str(synced))
    assert result.exit_code == 1
    assert _problems(result) == {
        ("handler-drift", "directives[1].type"),
        ("handler-drift", "signals.subscribes[0].handler"),
        ("handler-drift", "signals.subscribes"),
    }


def test_code_handler_for_undeclared_directive_is_drift(
    run_cli: Run, make_package: Make, package_manifest: Callable[[str], dict]
) -> None:
    manifest = package_manifest("notes")
    manifest["directives"] = []
    manifest["permissions"].remove("directives:handle")
    root = make_package("notes", manifest=manifest)
    write(sync_tools(root))
    result = run_cli("validate", "--with-code", "--format", "json", str(root))
    assert ("handler-drift", "directives") in _problems(result)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import does_not_exist_anywhere\n", "package-import-failed"),
        ("raise SystemExit(3)\n", "package-import-failed"),
        ("VALUE = 1\n", "package-object-not-found"),
        (
            "from fleetprompt_sdk import hookimpl\n"
            "@hookimpl\ndef fleetprompt_tools():\n    raise RuntimeError('boom')\n",
            "package-hook-failed",
        ),
    ],
    ids=["missing-module", "exits", "no-package-object", "hook-raises"],
)
def test_broken_code_is_reported_as_a_problem_never_a_crash(
    run_cli: Run, make_package: Make, code: str, expected: str
) -> None:
    root = make_package("notes", code=code)
    (root / "pyproject.toml").write_text("[project]\nname = 'notes'\n")  # no entry point
    result = run_cli("validate", "--with-code", "--format", "json", str(root))
    assert result.exit_code == 1, result.output
    assert (expected, "") in _problems(result)


def test_package_that_prints_on_import_is_still_inspected(
    run_cli: Run, make_package: Make, package_code: str
) -> None:
    root = make_package("notes", code='print("hello from import")\n' + package_code)
    write(sync_tools(root))
    assert run_cli("validate", "--with-code", str(root)).exit_code == 0


def test_module_level_hookimpls_count_as_the_plugin(run_cli: Run, make_package: Make) -> None:
    code = (
        "from fleetprompt_sdk import hookimpl, tool\n"
        "@tool\ndef ping(ctx) -> str:\n    '''Answer pong.'''\n    return 'pong'\n"
        "@hookimpl\ndef fleetprompt_tools():\n    return [ping]\n"
    )
    manifest = {"name": "notes", "version": "1.0", "display_name": "N", "tools": []}
    root = make_package("notes", code=code, manifest=manifest)
    (root / "pyproject.toml").write_text("[project]\nname = 'notes'\n")
    write(sync_tools(root))
    _, data = _manifest(root)
    assert [t["name"] for t in data["tools"]] == ["ping"]
    assert run_cli("validate", "--with-code", str(root)).exit_code == 0


def test_drift_check_imports_a_wheel_without_installing_it(
    run_cli: Run, synced: Path, tmp_path: Path
) -> None:
    import zipfile

    wheel = tmp_path / "notes-0.3.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for file in (synced / "src" / "notes").iterdir():
            if file.is_file():
                zf.write(file, f"notes/{file.name}")
        zf.writestr("notes-0.3.0.dist-info/entry_points.txt",
                    "[fleetprompt.packages]\nnotes = notes:package\n")  # fmt: skip
        # Every wheel has METADATA; entry point scans (pydantic's plugin loader) need it.
        zf.writestr("notes-0.3.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: notes\nVersion: 0.3.0\n")  # fmt: skip
    assert run_cli("validate", "--with-code", str(wheel)).exit_code == 0


def test_import_that_hangs_is_stopped_at_the_timeout(run_cli: Run, make_package: Make) -> None:
    root = make_package("notes", code="import time\ntime.sleep(30)\n")
    result = run_cli(
        "validate", "--with-code", "--code-timeout", "1", "--format", "json", str(root)
    )
    assert result.exit_code == 1
    [target] = json.loads(result.output)["results"]
    [problem] = [p for p in target["problems"] if p["code"] == "package-import-failed"]
    assert "within 1s" in problem["message"]
