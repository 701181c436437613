"""The top-level command: help, version, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from fleetprompt_host import __version__
from fleetprompt_host.cli import main as main_module
from fleetprompt_host.cli.main import cli

HEAVY = ("sqlalchemy", "litellm", "jsonschema", "pydantic", "fleetprompt_host.storage")


def test_help_lists_commands_without_importing_heavy_dependencies() -> None:
    probe = (
        "import sys, json\n"
        "from fleetprompt_host.cli.main import main\n"
        "try:\n    main(['--help'])\n"
        "except SystemExit as e:\n    code = e.code\n"
        "print(json.dumps({'code': code, 'mods': sorted(sys.modules)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["code"] == 0
    loaded = [m for m in result["mods"] if m.startswith(HEAVY)]
    assert loaded == []
    assert "validate" in out and "packages" in out


def test_version_is_printed() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_module_entry_point_runs_in_a_real_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fleetprompt_host", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"fleetprompt, version {__version__}"


def test_unknown_command_is_a_usage_error_with_exit_code_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fleetprompt_host", "no-such-command"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "No such command" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def failing_command(monkeypatch: pytest.MonkeyPatch) -> str:
    """Register a command that raises, to observe main()'s error handling."""
    from fleetprompt_sdk.errors import ConflictError

    @click.command("explode")
    @click.option("--kind", default="conflict")
    def explode(kind: str) -> None:
        if kind == "conflict":
            raise ConflictError("tenant 'acme' already exists", code="tenant-exists")
        raise RuntimeError("boom")

    monkeypatch.setitem(cli.commands, "explode", explode)
    return "explode"


@pytest.mark.parametrize("debug", [False, True])
def test_known_errors_are_one_line_on_stderr_with_their_code(
    failing_command: str, capsys: pytest.CaptureFixture[str], debug: bool
) -> None:
    from fleetprompt_sdk.errors import ConflictError

    args = (["--debug"] if debug else []) + [failing_command]
    if debug:
        with pytest.raises(ConflictError):
            main_module.main(args)
        return
    with pytest.raises(SystemExit) as info:
        main_module.main(args)
    assert info.value.code == 4
    err = capsys.readouterr().err
    assert err == "error: tenant 'acme' already exists [tenant-exists]\n"


def test_unexpected_errors_show_no_traceback_without_debug(
    failing_command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main_module.main([failing_command, "--kind", "other"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "RuntimeError: boom" in err and "Traceback" not in err
