"""Chat tests: the scripted LLM server fixture."""

from __future__ import annotations

from fleetprompt_host.testing.llm_server import llm_server  # noqa: F401 - used by name
