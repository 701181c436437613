"""FleetPrompt host: discovery, validation, storage, the engine and the CLI."""

from __future__ import annotations

__version__ = "0.1.0"
