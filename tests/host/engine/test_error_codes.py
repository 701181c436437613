"""Every code the engine raises or records is documented in docs/errors.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ENGINE = ROOT / "fleetprompt_host" / "engine"
CLI = ROOT / "fleetprompt_host" / "cli"
NAMES = """
audit batch context_base contexts delivery_runner directives executions history host_directives
inline installed jsonsafe leases lifecycle outcomes queries records_api replay retry runner
schemas signals subscriptions
"""
MODULES = [
    *(ENGINE / f"{name}.py" for name in NAMES.split()),
    *(CLI / f"{name}.py" for name in ("engine_cli", "signals_cmd", "directives_cmd")),
]
#: Codes defined elsewhere (SDK, storage) that the engine passes through.
FOREIGN = {"usage"}


def _codes(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            values = [kw.value for kw in node.keywords if kw.arg == "code"]
            if name == "RunFailure" and node.args:
                values.append(node.args[0])
            found |= {v.value for v in values if isinstance(v, ast.Constant)}
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id.endswith("CODES") for t in node.targets
        ):
            found |= {v.value for v in ast.walk(node.value) if isinstance(v, ast.Constant)} - {
                "not-json",
                "too-deep",
                "secret",
            }
    return {c for c in found if isinstance(c, str)}


def _engine_section() -> str:
    text = (ROOT / "docs" / "errors.md").read_text()
    return text[text.index("## Engine runtime errors") :]


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_every_engine_code_is_documented(module: Path) -> None:
    documented = set(re.findall(r"^\| `([a-z0-9-]+)`", _engine_section(), re.M))
    missing = _codes(module) - documented - FOREIGN
    assert not missing, f"{module.name}: document {sorted(missing)} in docs/errors.md"
