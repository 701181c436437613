"""Chat tests: the scripted LLM server, the test packages and a chat factory."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fleetprompt_host.chat.events import EventLog
from fleetprompt_host.chat.loop import ChatSession
from fleetprompt_host.chat.model import LiteLLMClient, ModelSettings
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.testing.llm_server import (  # noqa: F401 - fixture used by name
    ScriptedLLMServer,
    llm_server,
)

NOTES_MODULE = "fp_tests_notes_pkg"


def _load_notes_pkg() -> ModuleType:
    if NOTES_MODULE not in sys.modules:
        path = Path(__file__).parents[1] / "tools" / "notes_pkg.py"
        spec = importlib.util.spec_from_file_location(NOTES_MODULE, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[NOTES_MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[NOTES_MODULE]


@pytest.fixture
def notes_pkg() -> ModuleType:
    """The test packages' module (``tests/host/tools/notes_pkg.py``)."""
    return _load_notes_pkg()


@pytest.fixture
def registry(notes_pkg: ModuleType) -> PackageRegistry:
    """``notes`` and ``memo`` (memo may read records, so its tool can be offered)."""
    return notes_pkg.registry(memo_permissions=["records:read"])  # type: ignore[no-any-return]


@pytest.fixture
def tenant(db: Database, notes_pkg: ModuleType) -> str:
    """Tenant ``acme`` with ``notes`` installed; alice owns it, bob is a member."""
    from fleetprompt_host.storage.roles import add_member

    db.create_tenant("acme", "Acme", actor="user:alice")
    with db.tenant_session("acme") as session:
        add_member(session, "user:bob", "member", by="user:alice")
    notes_pkg.install(db, "acme", "notes")
    return "acme"


ChatFactory = Callable[..., tuple[ChatSession, EventLog]]


@pytest.fixture
def chat(
    db: Database,
    registry: PackageRegistry,
    tenant: str,
    llm_server: ScriptedLLMServer,  # noqa: F811 - the fixture imported above
) -> ChatFactory:
    """``chat(**options) -> (session, events)``: a chat with acme through litellm."""

    def make(
        *, stream: bool = True, tenant_slug: str = "acme", actor: str = "user:alice", **kw: Any
    ) -> tuple[ChatSession, EventLog]:
        settings = {"api_base": llm_server.base_url, "backoff": 0.01, "stream": stream}
        settings.update(kw.pop("settings", {}))
        events = EventLog()
        session = ChatSession(
            db,
            registry,
            tenant_slug,
            actor,
            lambda model: LiteLLMClient(ModelSettings(model=model, **settings)),
            model=kw.pop("model", "scripted"),
            sink=events,
            **kw,
        )
        return session, events

    return make


@pytest.fixture(params=["sqlite"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """Chat tests run on SQLite; ``test_backends.py`` runs the core flows on both."""
    return str(request.param)
