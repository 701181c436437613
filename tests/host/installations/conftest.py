"""Installations tests: the real example packages, a private home and key, one tenant.

``registry`` discovers the installed example packages (crm, helpdesk 2.0, forums).
``registry_v1`` offers crm and helpdesk 1.0, loaded from ``example_packages/helpdesk_v1``
under another module name, so an upgrade from 1.0 to 2.0 runs real code of both lines.
``Ops`` drives lifecycle operations the way the CLI does (plan, submit, run inline).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

import fleetprompt_host.installations  # noqa: F401 - registers the lifecycle directive types
from fleetprompt_host.discovery import discover
from fleetprompt_host.installations.plan import Plan
from fleetprompt_host.installations.planner import ConfigInput, Planner
from fleetprompt_host.installations.requests import Operation, operate
from fleetprompt_host.installations.status import InstallationView, list_installations
from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage import Database
from fleetprompt_host.storage.models import RecordRow
from fleetprompt_sdk import Package
from fleetprompt_sdk.manifest import Manifest

ROOT = Path(__file__).resolve().parents[3]
HELPDESK_V1 = ROOT / "example_packages" / "helpdesk_v1" / "fleetprompt_helpdesk"
V1_MODULE = "fp_tests_helpdesk_v1"


@pytest.fixture(autouse=True)
def fp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private FleetPrompt home (where the key file is created) for every test."""
    home = tmp_path / "home"
    monkeypatch.setenv("FLEETPROMPT_HOME", str(home))
    for name in ("FLEETPROMPT_SECRET_KEY", "FLEETPROMPT_SECRET_KEY_FILE", "FLEETPROMPT_PACKAGES"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def registry() -> PackageRegistry:
    """The example packages installed in this environment."""
    found = discover(enabled=None)
    for name in ("crm", "helpdesk", "forums"):
        assert found.get(name).version in ("1.0.0", "2.0.0")
    return found


def _load_v1() -> ModuleType:
    if V1_MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            V1_MODULE, HELPDESK_V1 / "__init__.py", submodule_search_locations=[str(HELPDESK_V1)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[V1_MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[V1_MODULE]


@pytest.fixture(scope="session")
def registry_v1(registry: PackageRegistry) -> PackageRegistry:
    """crm 1.0 and helpdesk 1.0 (the 1.x line, from its source directory)."""
    v1 = PackageRegistry()
    crm = registry.get("crm")
    v1.register(crm.plugin, crm.manifest)
    v1.register(_load_v1().package, HELPDESK_V1 / "fleetprompt.json")
    assert v1.get("helpdesk").version == "1.0.0"
    return v1


def make_test_package(
    name: str,
    *,
    version: str = "1.0.0",
    install: Callable[..., None] | None = None,
    upgrade: Callable[..., None] | None = None,
    **manifest: Any,
) -> tuple[Package, Manifest]:
    """Return a small package ``name`` with a ``notes`` collection and the given hooks."""
    package = Package(name)
    if install is not None:
        package.on_install(install)
    if upgrade is not None:
        package.on_upgrade(upgrade)
    data: dict[str, Any] = {
        "name": name,
        "version": version,
        "display_name": name.title(),
        "permissions": ["records:read", "records:write"],
        "collections": [
            {
                "name": "notes",
                "schema": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"],
                },
            }
        ],
        **manifest,
    }
    return package, Manifest.model_validate(data)


def registry_with(base: PackageRegistry, *extra: tuple[Package, Manifest]) -> PackageRegistry:
    """A new registry with crm, helpdesk and forums from ``base`` plus ``extra`` packages."""
    out = PackageRegistry()
    for name in ("crm", "helpdesk", "forums"):
        loaded = base.get(name)
        out.register(loaded.plugin, loaded.manifest)
    for plugin, manifest in extra:
        out.register(plugin, manifest)
    return out


class Ops:
    """Lifecycle operations in one tenant, as the CLI performs them (inline by default)."""

    def __init__(
        self, db: Database, registry: PackageRegistry, tenant: str, actor: str = "user:alice"
    ) -> None:
        self.db, self.registry, self.tenant, self.actor = db, registry, tenant, actor

    def run(self, build: Callable[[Planner], Plan], **kw: Any) -> Plan:
        """Plan and submit ``build`` (``wait=True`` unless given)."""
        kw.setdefault("wait", True)
        actor = kw.pop("actor", self.actor)
        registry = kw.pop("registry", self.registry)
        op = Operation(self.tenant, actor, build, needs_key=True, **kw)
        return operate(self.db, registry, op)

    def install(
        self, requirement: str, *sets: str, with_deps: bool = False, file: Any = None, **kw: Any
    ) -> Plan:
        """``fleetprompt install REQUIREMENT --set ...``."""
        config = ConfigInput(file=file, sets=sets)
        return self.run(lambda p: p.install(requirement, config, with_deps=with_deps), **kw)

    def upgrade(
        self,
        requirement: str,
        *sets: str,
        unsets: tuple[str, ...] = (),
        with_deps: bool = False,
        **kw: Any,
    ) -> Plan:
        """``fleetprompt upgrade REQUIREMENT --set ...``."""
        config = ConfigInput(sets=sets, unsets=unsets)
        return self.run(lambda p: p.upgrade(requirement, config, with_deps=with_deps), **kw)

    def uninstall(
        self, package: str, *, purge: bool = False, cascade: bool = False, **kw: Any
    ) -> Plan:
        """``fleetprompt uninstall PACKAGE``."""
        return self.run(lambda p: p.uninstall(package, purge=purge, cascade=cascade), **kw)

    def toggle(self, package: str, action: str, **kw: Any) -> Plan:
        """``fleetprompt enable|disable PACKAGE``."""
        return self.run(lambda p: p.toggle(package, action), **kw)

    def views(self) -> dict[str, InstallationView]:
        """The tenant's installations by package."""
        with self.db.tenant_session(self.tenant, readonly=True) as session:
            return {v.info.package: v for v in list_installations(session)}

    def status(self, package: str) -> tuple[str, str]:
        """(status, version) of ``package``."""
        info = self.views()[package].info
        return info.status, info.version

    def records(self, package: str, collection: str | None = None) -> list[dict[str, Any]]:
        """Every record of ``package`` as dicts, by collection and key."""
        with self.db.tenant_session(self.tenant, readonly=True) as session:
            stmt = select(RecordRow).where(RecordRow.package == package)
            if collection is not None:
                stmt = stmt.where(RecordRow.collection == collection)
            rows = session.execute(stmt.order_by(RecordRow.collection, RecordRow.key)).scalars()
            return [
                {
                    "collection": r.collection,
                    "key": r.key,
                    "data": r.data,
                    "provisioned": r.provisioned,
                }
                for r in rows
            ]


@pytest.fixture
def tenant(db: Database) -> str:
    """Tenant ``acme``, owned by alice, with bob as a plain member."""
    from fleetprompt_host.storage.roles import add_member

    db.create_tenant("acme", "Acme", actor="user:alice")
    with db.tenant_session("acme") as session:
        add_member(session, "user:bob", "member", by="user:alice")
    return "acme"


@pytest.fixture
def ops(db: Database, registry: PackageRegistry, tenant: str) -> Ops:
    """Lifecycle operations in ``acme`` as alice (the owner)."""
    return Ops(db, registry, tenant)


def table_dump(db: Database, tenant: str, *, skip: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Every row of every table in the tenant's storage, each as sorted-keys JSON text."""
    out: dict[str, list[str]] = {}
    with db.tenant_session(tenant, readonly=True) as session:
        names = inspect(session.connection()).get_table_names()
        for name in sorted(names):
            if name in skip:
                continue
            rows = session.execute(text(f'SELECT * FROM "{name}"')).mappings().all()
            out[name] = sorted(json.dumps(dict(r), sort_keys=True, default=str) for r in rows)
    return out


@pytest.fixture
def make_package() -> Callable[..., tuple[Package, Manifest]]:
    """``make_package(name, install=..., upgrade=..., **manifest)``: a small test package."""
    return make_test_package


@pytest.fixture
def extend_registry(registry: PackageRegistry) -> Callable[..., PackageRegistry]:
    """``extend_registry(*packages)``: the example packages plus the given test packages."""
    return lambda *extra: registry_with(registry, *extra)


@pytest.fixture
def dump() -> Callable[..., dict[str, list[str]]]:
    """``dump(db, tenant, skip=())``: every row of every tenant table as JSON text."""
    return table_dump


@pytest.fixture
def ops_for(db: Database) -> Callable[..., Ops]:
    """``ops_for(registry, tenant="acme", actor="user:alice")``: operations elsewhere."""
    return lambda registry, tenant="acme", actor="user:alice": Ops(db, registry, tenant, actor)
