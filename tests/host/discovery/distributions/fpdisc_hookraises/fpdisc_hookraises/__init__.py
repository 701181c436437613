"""A module used as the plugin object; its tools hook raises."""

from __future__ import annotations

from fleetprompt_sdk import Tool, hookimpl


@hookimpl
def fleetprompt_tools() -> list[Tool]:
    """Fail the way a package with a bug in its set-up code fails."""
    raise RuntimeError("the tool table of dischookraises exploded")
