"""Shared fixtures: the storage fixtures FleetPrompt ships in ``fleetprompt_host.testing``."""

from __future__ import annotations

from fleetprompt_host.testing.fixtures import (  # noqa: F401 - fixtures are used by name
    db,
    db_backend,
    db_url,
    fp_postgres,
    fp_postgres_url,
)

#: ``pytester`` runs the package authors' plugin in isolated inner pytest sessions.
pytest_plugins = ["pytester"]
