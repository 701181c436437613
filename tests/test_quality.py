"""Lint, format and type checks run as part of the test command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize(
    "command",
    [
        ("ruff", "check", "."),
        ("ruff", "format", "--check", "."),
    ],
    ids=["ruff-lint", "ruff-format"],
)
def test_code_passes_ruff(command: tuple[str, ...]) -> None:
    assert shutil.which("ruff"), "ruff is a dev dependency: pip install -e '.[dev]'"
    result = _run(*command)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sdk_passes_mypy_strict() -> None:
    result = _run(sys.executable, "-m", "mypy", "fleetprompt_sdk")
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_gives_the_test_command_that_ci_runs() -> None:
    command = [
        line
        for line in (ROOT / ".ci" / "test-command").read_text().splitlines()
        if line and not line.startswith(("#", "set "))
    ]
    assert len(command) == 1
    assert command[0] in (ROOT / "README.md").read_text()
