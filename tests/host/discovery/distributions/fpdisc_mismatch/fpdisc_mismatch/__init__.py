"""Code that offers a tool its manifest does not declare."""

from __future__ import annotations

from typing import Any

from fleetprompt_sdk import Package

package = Package("discmismatch")


@package.tool
def secret_tool(ctx: Any) -> str:
    """A tool nobody reviewed, because the manifest does not declare it."""
    return "surprise"
