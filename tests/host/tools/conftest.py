"""Tools tests: a tenant with the ``notes`` and ``memo`` test packages installed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database

NOTES_MODULE = "fp_tests_notes_pkg"


def load_notes_pkg() -> ModuleType:
    """Import ``notes_pkg.py`` once under a fixed name (tests import in importlib mode)."""
    if NOTES_MODULE not in sys.modules:
        path = Path(__file__).with_name("notes_pkg.py")
        spec = importlib.util.spec_from_file_location(NOTES_MODULE, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[NOTES_MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[NOTES_MODULE]


@pytest.fixture
def notes_pkg() -> ModuleType:
    """The test packages' module."""
    return load_notes_pkg()


@pytest.fixture
def registry(notes_pkg: ModuleType) -> PackageRegistry:
    """A registry with ``notes`` and ``memo`` registered in code."""
    return notes_pkg.registry()  # type: ignore[no-any-return]


@pytest.fixture
def tenant(db: Database) -> str:
    """Tenant ``acme``: alice owns it, bob is a member; notes and memo are installed."""
    from fleetprompt_host.storage.roles import add_member

    db.create_tenant("acme", "Acme", actor="user:alice")
    with db.tenant_session("acme") as session:
        add_member(session, "user:bob", "member", by="user:alice")
    load_notes_pkg().install(db, "acme", "notes", "memo")
    return "acme"
