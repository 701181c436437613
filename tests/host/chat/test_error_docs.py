"""Every error code the tools and chat layers produce is documented in their docs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MODULES = sorted(
    [
        *(ROOT / "fleetprompt_host" / "tools").glob("*.py"),
        *(ROOT / "fleetprompt_host" / "chat").glob("*.py"),
        ROOT / "fleetprompt_host" / "cli" / "chat_cmd.py",
    ]
)
CALLS = {"error_result": 2, "Refusal": 0}


def _codes(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        values = [kw.value for kw in node.keywords if kw.arg == "code"]
        if name in CALLS and len(node.args) > CALLS[name]:
            values.append(node.args[CALLS[name]])
        found |= {v.value for v in values if isinstance(v, ast.Constant)}
    return {c for c in found if isinstance(c, str)}


def _documented() -> set[str]:
    text = (ROOT / "docs" / "tools.md").read_text() + (ROOT / "docs" / "chat.md").read_text()
    section = "".join(part.split("## Error codes", 1)[-1] for part in text.split("# ")[1:])
    return set(re.findall(r"`([a-z0-9-]+)`", section))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_code_is_documented(module: Path) -> None:
    missing = _codes(module) - _documented()
    assert not missing, f"{module.name}: document {sorted(missing)} in docs/tools.md or chat.md"


def test_every_model_error_kind_is_documented() -> None:
    from fleetprompt_host.chat import model

    kinds = {kind for kind, _ in model._STATUS_KINDS.values()}
    kinds |= {"timeout", "connection", "server", "provider"}
    missing = {f"model-{k}" for k in kinds} - _documented()
    assert not missing, f"document {sorted(missing)} in docs/chat.md"
