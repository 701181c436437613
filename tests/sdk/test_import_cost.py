"""The SDK stays light: it never imports the host, SQLAlchemy or litellm."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import fleetprompt_sdk
from fleetprompt_sdk import Package, tool, hookimpl, ToolContext, DirectiveContext
loaded = sorted({m.split('.')[0] for m in sys.modules})
print(json.dumps(loaded))
"""


def test_importing_the_sdk_pulls_in_no_heavy_dependency() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert "fleetprompt_sdk" in loaded
    forbidden = {"sqlalchemy", "litellm", "fleetprompt_host", "jsonschema", "httpx", "pydantic"}
    assert loaded.isdisjoint(forbidden), loaded & forbidden


def test_lazy_exports_resolve_to_the_models() -> None:
    import fleetprompt_sdk
    from fleetprompt_sdk.manifest import Manifest

    assert fleetprompt_sdk.Manifest is Manifest
    assert set(fleetprompt_sdk.__all__) <= set(dir(fleetprompt_sdk)) | set(fleetprompt_sdk._LAZY)
    for name in fleetprompt_sdk.__all__:
        assert getattr(fleetprompt_sdk, name) is not None
