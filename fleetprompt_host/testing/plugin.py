"""The pytest plugin for package authors (entry point ``pytest11: fleetprompt``).

Fixtures:

- ``fp_host``: a :class:`~fleetprompt_host.host.Host` on a fresh SQLite database in a
  temporary directory (``--fleetprompt-db URL`` or ``FLEETPROMPT_TEST_DATABASE_URL``
  points it at another database, e.g. a throwaway PostgreSQL one);
- ``fp_tenant``: a tenant (``acme``) with the packages under test installed, with config;
  a :class:`TenantHarness` to call tools as an actor, emit signals, run directives and
  deliveries until idle, and read records, signals and directives;
- ``fp_llm``: a scripted OpenAI-compatible model server on 127.0.0.1 for chat tests.

Which packages are installed: the ``fleetprompt`` marker
(``@pytest.mark.fleetprompt(install=["helpdesk"], config={"helpdesk": {...}})``), else the
ini option ``fleetprompt_install``, else every package discovered. Dependencies are
installed first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from fleetprompt_host.host import Host, ToolOutcome
    from fleetprompt_sdk.models import Directive, Record, Signal

    from .llm_server import ScriptedLLMServer

DB_ENV = "FLEETPROMPT_TEST_DATABASE_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the plugin's options."""
    group = parser.getgroup("fleetprompt")
    group.addoption(
        "--fleetprompt-db",
        default=None,
        metavar="URL",
        help=f"database for fp_host (default: SQLite in a temp dir; env {DB_ENV})",
    )
    parser.addini("fleetprompt_install", "packages fp_tenant installs", type="linelist")


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``fleetprompt`` marker."""
    config.addinivalue_line(
        "markers",
        "fleetprompt(install=None, config=None, tenant='acme'): what fp_tenant sets up",
    )


class TenantHarness:
    """One tenant of ``fp_host``, with the verbs a package's tests need."""

    def __init__(self, host: Host, slug: str, packages: list[str]) -> None:
        self.host = host
        self.slug = slug
        self.packages = packages
        self.actor = "user:owner"

    def as_user(self, name: str, role: str = "member") -> str:
        """Add ``user:NAME`` with ``role`` to the tenant and return the actor string."""
        actor = f"user:{name}"
        self.host.add_member(self.slug, actor, role, actor=self.actor)
        return actor

    def _tool_name(self, name: str) -> str:
        if "__" in name or len(self.packages) != 1:
            return name
        return f"{self.packages[0]}__{name}"

    def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        actor: str | None = None,
        confirm: bool = False,
    ) -> ToolOutcome:
        """Call a tool (``pkg__tool``, or ``tool`` when one package is under test)."""
        return self.host.call_tool(
            self.slug,
            self._tool_name(name),
            arguments,
            actor=actor or self.actor,
            confirm=confirm,
            run_inline=True,
        )

    def tools(self, actor: str | None = None) -> list[str]:
        """Return the tools ``actor`` may use."""
        return self.host.tools(self.slug, actor or self.actor)

    def emit(self, type_: str, data: Mapping[str, Any], **options: Any) -> Signal:
        """Emit a signal into the tenant and return it."""
        signal, _ = self.host.emit(self.slug, type_, data, **options)
        return signal

    def request_directive(
        self, type_: str, params: Mapping[str, Any], *, actor: str | None = None
    ) -> Directive:
        """Request a directive (not run yet: see :meth:`run_until_idle`)."""
        directive, _ = self.host.request_directive(
            self.slug, type_, params, actor=actor or self.actor
        )
        return directive

    def run_until_idle(self) -> int:
        """Run due directives and signal deliveries until none is due."""
        return self.host.run_until_idle(self.slug)

    def records(self, collection: str, package: str | None = None) -> list[Record]:
        """Return the records of ``collection`` (of the package under test by default)."""
        return self.host.records(self.slug, package or self.packages[0], collection)

    def signals(self, pattern: str | None = None) -> list[Signal]:
        """Return the tenant's signals in order, optionally matching a type pattern."""
        return self.host.signals(self.slug, pattern)

    def directives(self, type_: str | None = None) -> list[Directive]:
        """Return the tenant's directives in request order."""
        return self.host.directives(self.slug, type_)

    def chat(self, message: str, llm: ScriptedLLMServer, **options: Any) -> Any:
        """Run one chat turn against the scripted model server ``llm``."""
        options.setdefault("actor", self.actor)
        return self.host.chat(
            self.slug, message, model="openai/scripted", api_base=llm.base_url, **options
        )


@pytest.fixture
def fp_host(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Host]:
    """A FleetPrompt host on a fresh database, with this environment's packages."""
    from fleetprompt_host.host import Host

    home = tmp_path / "fleetprompt-home"
    home.mkdir()
    monkeypatch.setenv("FLEETPROMPT_HOME", str(home))
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    url = request.config.getoption("--fleetprompt-db") or os.environ.get(DB_ENV)
    host = Host(url or f"sqlite:///{home / 'fleetprompt.sqlite'}")
    try:
        yield host
    finally:
        host.close()


def _setting(request: pytest.FixtureRequest, key: str, default: Any) -> Any:
    marker = request.node.get_closest_marker("fleetprompt")
    if marker is not None and key in marker.kwargs:
        return marker.kwargs[key]
    return default


@pytest.fixture
def fp_tenant(request: pytest.FixtureRequest, fp_host: Host) -> Iterator[TenantHarness]:
    """A tenant with the packages under test installed (see the module doc).

    The tenant is deleted after the test, so tests sharing a ``--fleetprompt-db``
    database each start from a fresh tenant.
    """
    slug = _setting(request, "tenant", "acme")
    packages = list(
        _setting(request, "install", None)
        or request.config.getini("fleetprompt_install")
        or fp_host.registry.names()
    )
    config: dict[str, dict[str, Any]] = dict(_setting(request, "config", {}) or {})
    fp_host.create_tenant(slug)
    try:
        for package in packages:
            fp_host.install(slug, package, config.get(package), with_deps=True)
        yield TenantHarness(fp_host, slug, packages)
    finally:
        fp_host.db.delete_tenant(slug)


@pytest.fixture
def fp_llm() -> Iterator[ScriptedLLMServer]:
    """A scripted OpenAI-compatible model server on 127.0.0.1, stopped after the test."""
    from .llm_server import ScriptedLLMServer

    server = ScriptedLLMServer().start()
    try:
        yield server
    finally:
        server.stop()
