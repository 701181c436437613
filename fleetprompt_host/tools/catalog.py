"""The tenant's tool list: which tools this tenant, actor and agent profile may use.

A tool is offered when its package is installed and enabled in the tenant, the package
declares the permission the tool needs (``records:read`` for read tools,
``directives:request`` for write tools), the actor's role meets the role the tool needs
(a write tool needs the role its directive type requires) and, with an agent profile,
the profile's allowlist names it. Every other tool the host knows about is remembered
with the reason it is not offered, so a call to it is refused with a message that says
why, and never reaches its code.

Names are namespaced by package (``crm__search_contacts``), so two packages can both
have ``search``; the list is exported in the OpenAI function-calling format litellm
takes.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fleetprompt_sdk.enums import Effect, Permission, Role
from fleetprompt_sdk.errors import NotFoundError, PermissionDeniedError
from fleetprompt_sdk.manifest import AgentProfile, Manifest, ToolSpec
from fleetprompt_sdk.naming import TOOL_NAMESPACE_SEPARATOR, namespaced_tool_name

from .tenant_state import read_tenant_state

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

    from fleetprompt_host.registry import LoadedPackage, PackageRegistry
    from fleetprompt_sdk.models import Actor
    from fleetprompt_sdk.tools import Tool

#: The permission a package must declare for its tools of each effect to be offered.
NEEDED_PERMISSION = {
    Effect.READ: Permission.RECORDS_READ,
    Effect.WRITE: Permission.DIRECTIVES_REQUEST,
}


@dataclass(frozen=True)
class CatalogEntry:
    """One tool the model may call, with what the host needs to run it."""

    name: str
    package: str
    spec: ToolSpec
    tool: Tool
    required_role: Role

    @property
    def effect(self) -> Effect:
        """Whether the tool reads, or requests a change."""
        return self.spec.effect

    @property
    def requires_confirmation(self) -> bool:
        """Whether the user must confirm each call."""
        return self.spec.requires_confirmation or self.tool.requires_confirmation

    @property
    def timeout(self) -> float:
        """Seconds the tool's code may run."""
        return self.tool.timeout

    def to_openai(self) -> dict[str, Any]:
        """Return the tool in the OpenAI function-calling format."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.spec.description,
                "parameters": self.spec.parameters,
            },
        }

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the model-facing contract (name, description, parameters)."""
        text = json.dumps(self.to_openai(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class AgentRef:
    """An agent profile and the package that provides it."""

    package: str
    profile: AgentProfile

    @property
    def name(self) -> str:
        """``package/name``: unique within a tenant."""
        return f"{self.package}/{self.profile.name}"

    def allowed(self) -> frozenset[str]:
        """The namespaced names of the tools the profile may use."""
        out: set[str] = set()
        for item in self.profile.tools:
            out.add(
                item
                if TOOL_NAMESPACE_SEPARATOR in item
                else namespaced_tool_name(self.package, item)
            )
        return frozenset(out)


@dataclass
class ToolCatalog:
    """The tools offered to one actor (and agent profile) in one tenant."""

    tenant: str
    actor: str
    role: Role | None
    agent: AgentRef | None
    entries: dict[str, CatalogEntry] = field(default_factory=dict)
    #: Known tools that are not offered, with the reason (shown when one is called).
    withheld: dict[str, str] = field(default_factory=dict)
    #: The manifests of the tenant's active packages, for the system prompt.
    manifests: dict[str, Manifest] = field(default_factory=dict)
    #: Packages present in the tenant whose tools are not offered, with the reason.
    unavailable: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> CatalogEntry | None:
        """Return the offered tool ``name``, or None."""
        return self.entries.get(name)

    def refusal(self, name: str) -> str:
        """Return why ``name`` cannot be called here (for a tool that is not offered)."""
        reason = self.withheld.get(name)
        if reason is not None:
            return f"tool {name!r} is not available: {reason}"
        package = name.partition(TOOL_NAMESPACE_SEPARATOR)[0]
        if package in self.unavailable:
            return f"tool {name!r} is not available: {self.unavailable[package]}"
        return f"no tool named {name!r} is available in this tenant"

    def openai_tools(self) -> list[dict[str, Any]]:
        """Return the offered tools in the OpenAI function-calling format, sorted by name."""
        return [self.entries[name].to_openai() for name in sorted(self.entries)]

    def fingerprints(self) -> dict[str, str]:
        """Return each offered tool's contract fingerprint (for replay comparisons)."""
        return {name: entry.fingerprint for name, entry in sorted(self.entries.items())}


def actor_role(session: Session, actor: Actor) -> Role | None:
    """Return the actor's role; system actors get None (trusted, every tool).

    Raises :class:`PermissionDeniedError` (``not-a-member``) for a user who is not a member.
    """
    from fleetprompt_host.storage.roles import member_role

    if actor.kind == "system":
        return None
    return _checked_role(actor, member_role(session, actor))


def _checked_role(actor: Actor, role: Role | str | None) -> Role:
    if role is None:
        raise PermissionDeniedError(
            f"{actor} is not a member of this tenant: it cannot use its tools", code="not-a-member"
        )
    return Role(role)


def load_agents(session: Session | Connection, packages: Iterable[str]) -> list[AgentRef]:
    """Return the agent profiles provisioned in the tenant by ``packages``.

    Installing a package stores its manifest's agent profiles as tenant records (collection
    ``_agents``); those records, not the package code, say which profiles a tenant has.
    """
    from sqlalchemy import select

    from fleetprompt_host.installations.provisioning import AGENT_COLLECTION
    from fleetprompt_host.storage.models import RecordRow

    names = sorted(packages)
    if not names:
        return []
    rows = session.execute(
        select(RecordRow.package, RecordRow.data)
        .where(RecordRow.collection == AGENT_COLLECTION, RecordRow.package.in_(names))
        .order_by(RecordRow.package, RecordRow.key)
    ).all()
    fields = set(AgentProfile.model_fields)
    return [
        AgentRef(
            package, AgentProfile.model_validate({k: v for k, v in data.items() if k in fields})
        )
        for package, data in rows
    ]


def find_agent(agents: list[AgentRef], name: str) -> AgentRef:
    """Return the agent profile ``name`` (``profile`` or ``package/profile``).

    Raises :class:`NotFoundError` (``agent-not-found``) naming the profiles that exist, or
    (``agent-ambiguous``) when two packages provide a profile of that name.
    """
    package, _, local = name.rpartition("/")
    found = [a for a in agents if a.profile.name == local and (not package or a.package == package)]
    if len(found) == 1:
        return found[0]
    if found:
        raise NotFoundError(
            f"agent {name!r} is ambiguous: use one of {', '.join(a.name for a in found)}",
            code="agent-ambiguous",
        )
    known = ", ".join(a.name for a in agents) or "none"
    raise NotFoundError(
        f"no agent profile {name!r} in this tenant (known: {known})", code="agent-not-found"
    )


def _withhold_reason(
    package: LoadedPackage,
    spec: ToolSpec,
    name: str,
    role: Role | None,
    needed: Role,
    agent: AgentRef | None,
    allowed: frozenset[str] | None,
    directive_roles: dict[str, Role],
) -> str | None:
    permission = NEEDED_PERMISSION[spec.effect]
    if permission not in package.manifest.permissions:
        return f"package {package.name!r} does not declare the {permission.value} permission"
    if spec.effect is Effect.WRITE and (
        spec.directive is None or spec.directive not in directive_roles
    ):
        return f"its directive {spec.directive!r} is not handled by any active package"
    if role is not None and not role.satisfies(needed):
        return f"it needs the {needed.value} role; the actor holds {role.value}"
    if agent is not None and allowed is not None and name not in allowed:
        return f"agent profile {agent.name!r} does not allow it"
    if spec.name not in package.tools:
        return f"package {package.name!r} does not define it in code"
    return None


def build_catalog(
    session: Session | Connection,
    registry: PackageRegistry,
    tenant: str,
    actor: Actor,
    *,
    agent: str | None = None,
) -> ToolCatalog:
    """Return the tools ``actor`` may use in the session's tenant (optionally as ``agent``).

    Reads the tenant's installations and the actor's role through ``session`` (read-only
    is enough; a connection will do), in one statement, every time: nothing about who may
    do what is cached. With ``agent`` the agent profiles are a second statement.
    What is derived from them (the entries and the reasons) is memoised per process
    (:class:`_Derived`). Packages that are not active in the tenant contribute only "not
    installed" / "disabled" reasons; their code is never loaded for this.
    """
    from fleetprompt_host.registry import LoadedPackage

    state = read_tenant_state(session, str(actor))
    role = None if actor.kind == "system" else _checked_role(actor, state.role)
    catalog = ToolCatalog(tenant=tenant, actor=str(actor), role=role, agent=None)
    for package, status in state.inactive().items():
        catalog.unavailable[package] = f"package {package!r} is {status} here"
    versions = state.active()
    loaded: list[LoadedPackage] = []
    for name in sorted(versions):
        entry = registry.find(name)
        if not isinstance(entry, LoadedPackage):
            catalog.unavailable[name] = "its code cannot be loaded in this process"
        elif versions[name] != entry.version:
            catalog.unavailable[name] = (
                f"version {versions[name]} is installed but this process has "
                f"{entry.version}: run `fleetprompt upgrade {name}`"
            )
        else:
            loaded.append(entry)
            catalog.manifests[name] = entry.manifest
    if agent is not None:
        catalog.agent = find_agent(load_agents(session, catalog.manifests), agent)
    derived = _DERIVED.get(loaded, role, catalog.agent)
    catalog.entries = dict(derived.entries)
    catalog.withheld = dict(derived.withheld)
    return catalog


@dataclass
class _Entries:
    packages: tuple[LoadedPackage, ...]
    entries: dict[str, CatalogEntry] = field(default_factory=dict)
    withheld: dict[str, str] = field(default_factory=dict)


class _Derived:
    """Entries and reasons per (loaded packages, role, agent profile), kept per process.

    The key holds everything they are computed from: the packages by identity (a
    re-registered package is a new object; the cached value keeps the old one alive, so
    its id cannot be reused), the role, and the agent profile's name and allowlist. The
    inputs themselves are read from the database for every catalog.
    """

    MAX = 256

    def __init__(self) -> None:
        self._items: dict[tuple[Any, ...], _Entries] = {}
        self._lock = threading.Lock()

    def get(
        self, loaded: list[LoadedPackage], role: Role | None, agent: AgentRef | None
    ) -> _Entries:
        allowed = agent.allowed() if agent is not None else None
        key = (
            tuple(map(id, loaded)),
            role,
            agent.name if agent is not None else None,
            allowed,
        )
        found = self._items.get(key)
        if found is not None:
            return found
        made = _derive(loaded, role, agent, allowed)
        with self._lock:
            if len(self._items) >= self.MAX:
                self._items.pop(next(iter(self._items)))
            self._items[key] = made
        return made


_DERIVED = _Derived()


def _derive(
    loaded: list[LoadedPackage],
    role: Role | None,
    agent: AgentRef | None,
    allowed: frozenset[str] | None,
) -> _Entries:
    out = _Entries(tuple(loaded))
    directive_roles = {d.type: d.required_role for p in loaded for d in p.manifest.directives}
    for package in loaded:
        for spec in package.manifest.tools:
            qualified = namespaced_tool_name(package.name, spec.name)
            needed = Role.MEMBER
            if spec.effect is Effect.WRITE and spec.directive in directive_roles:
                needed = directive_roles[spec.directive]
            reason = _withhold_reason(
                package, spec, qualified, role, needed, agent, allowed, directive_roles
            )
            if reason is not None:
                out.withheld[qualified] = reason
                continue
            out.entries[qualified] = CatalogEntry(
                name=qualified,
                package=package.name,
                spec=spec,
                tool=package.tools[spec.name],
                required_role=needed,
            )
    return out
