"""Every code the installations layer raises or records is documented in docs/errors.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MODULES = sorted((ROOT / "fleetprompt_host" / "installations").glob("*.py")) + [
    ROOT / "fleetprompt_host" / "cli" / name
    for name in ("install_cmd.py", "installations_cmd.py", "secrets_cmd.py")
]


def _codes(path: Path) -> tuple[set[str], set[str]]:
    """Return (codes, fragments of codes built with f-strings) passed as ``code=``."""
    found: set[str] = set()
    fragments: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg != "code":
                    continue
                if isinstance(keyword.value, ast.Constant):
                    found.add(str(keyword.value.value))
                elif isinstance(keyword.value, ast.JoinedStr):
                    # f"{hook}-hook-failed", f"cannot-{action}": the fixed part is enough.
                    fragments |= {
                        str(v.value) for v in keyword.value.values if isinstance(v, ast.Constant)
                    }
    return found, fragments


def _section() -> str:
    text = (ROOT / "docs" / "errors.md").read_text()
    return text[text.index("## Installation errors") :]


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_every_installation_code_is_documented(module: Path) -> None:
    section = _section()
    documented = set(re.findall(r"`([a-z0-9-]+)`", section))
    codes, fragments = _codes(module)
    missing = codes - documented
    missing |= {f for f in fragments if not any(f in name for name in documented)}
    assert not missing, f"{module.name}: document {sorted(missing)} in docs/errors.md"
