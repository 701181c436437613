"""docs/operations.md documents every environment variable FleetPrompt's code reads.

The code is scanned, not imported: every string constant ``FLEETPROMPT_...`` in
fleetprompt_host/ and fleetprompt_sdk/ (module constants such as ``HOME_ENV``, click's
``envvar=``, direct ``os.environ`` reads), and every other literal name read through
``os.environ`` / ``os.getenv`` (``OPENAI_API_KEY``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .conftest import DOCS, ROOT

CODE_DIRS = ("fleetprompt_host", "fleetprompt_sdk")
_OURS = re.compile(r"^FLEETPROMPT_[A-Z0-9_]+$")
_DOCUMENTED = re.compile(r"\bFLEETPROMPT_[A-Z0-9_]*[A-Z0-9]\b")


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def variables_in(source: str) -> set[str]:
    """Return the environment variable names ``source`` refers to (see the module doc)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _OURS.match(node.value):
                found.add(node.value)
        elif isinstance(node, ast.Call) and node.args:
            func, first = node.func, node.args[0]
            reads = isinstance(func, ast.Attribute) and (
                (func.attr == "get" and _is_os_environ(func.value))
                or (func.attr == "getenv" and isinstance(func.value, ast.Name))
            )
            if reads and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
        elif (
            isinstance(node, ast.Subscript)
            and _is_os_environ(node.value)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            found.add(node.slice.value)
    return found


def code_variables() -> dict[str, list[str]]:
    """Return ``{variable: [files that use it]}`` for FleetPrompt's code."""
    uses: dict[str, list[str]] = {}
    for directory in CODE_DIRS:
        for path in sorted((ROOT / directory).rglob("*.py")):
            for name in variables_in(path.read_text(encoding="utf-8")):
                uses.setdefault(name, []).append(path.relative_to(ROOT).as_posix())
    return uses


def _operations_text() -> str:
    return (DOCS / "operations.md").read_text(encoding="utf-8")


def test_every_variable_the_code_reads_is_documented_in_operations_md() -> None:
    text = _operations_text()
    missing = {name: files for name, files in code_variables().items() if name not in text}
    assert not missing, f"docs/operations.md does not mention: {missing}"


def test_every_fleetprompt_variable_operations_md_names_is_read_by_the_code() -> None:
    stale = set(_DOCUMENTED.findall(_operations_text())) - set(code_variables())
    assert not stale, f"docs/operations.md names variables no code reads: {sorted(stale)}"


def test_the_scan_finds_constants_click_envvars_and_direct_reads(tmp_path: Path) -> None:
    source = (
        "import os, click\n"
        'HOME_ENV = "FLEETPROMPT_HOME"\n'
        '@click.option("--tenant", envvar="FLEETPROMPT_TENANT")\n'
        "def f(): pass\n"
        'key = os.environ.get("OPENAI_API_KEY")\n'
        'os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"\n'
        'other = os.getenv("PROVIDER_TOKEN")\n'
        'text = "FLEETPROMPT_HOME is a sentence, not a name"\n'
        'unrelated = {"HOME": 1}.get("HOME")\n'
    )
    assert variables_in(source) == {
        "FLEETPROMPT_HOME",
        "FLEETPROMPT_TENANT",
        "OPENAI_API_KEY",
        "LITELLM_LOCAL_MODEL_COST_MAP",
        "PROVIDER_TOKEN",
    }


def test_the_code_scan_sees_the_variables_every_install_uses() -> None:
    found = code_variables()
    for name in ("FLEETPROMPT_HOME", "FLEETPROMPT_DATABASE_URL", "FLEETPROMPT_TENANT"):
        assert name in found
