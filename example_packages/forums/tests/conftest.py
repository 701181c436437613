"""An in-memory stand-in for the FleetPrompt host: just enough to run one package's code.

``FakeTenant`` keeps one tenant's records, signals and directives in memory. It checks
what the real host checks about a package (records, directive params and signal data
against the manifest's schemas; tools request only their own directive; roles; secrets
readable only with ``secrets:read``), runs directive handlers with all-or-nothing
effects, and delivers emitted signals to the package's own subscriptions.

The file is the same in every example package except for ``PACKAGE_MODULE``; the host's
pytest fixtures replace it once they exist.
"""

from __future__ import annotations

import copy
import importlib
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import jsonschema
import pluggy
import pytest

from fleetprompt_sdk import hookspecs
from fleetprompt_sdk.enums import DirectiveStatus, Effect, Role
from fleetprompt_sdk.errors import (
    FleetPromptError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from fleetprompt_sdk.models import Actor, Directive, DirectiveRef, Record, Signal, Subject
from fleetprompt_sdk.naming import pattern_matches

PACKAGE_MODULE = "fleetprompt_forums"


def load_manifest(module: str = PACKAGE_MODULE) -> dict[str, Any]:
    """Return the manifest shipped inside ``module`` as raw JSON data."""
    text = resources.files(module).joinpath("fleetprompt.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _check(schema: dict[str, Any], data: Any, where: str) -> None:
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(data)
    )
    if error is not None:
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        raise InvalidInputError(f"{where}: {path}: {error.message}")


class FakeRecords:
    """``RecordWriter`` over the tenant's dict; ``writable=False`` makes it a reader."""

    def __init__(self, tenant: FakeTenant, *, writable: bool, provisioning: bool = False):
        self._tenant = tenant
        self._writable = writable
        self._provisioning = provisioning

    def _schema(self, collection: str) -> dict[str, Any]:
        for spec in self._tenant.manifest["collections"]:
            if spec["name"] == collection:
                schema: dict[str, Any] = spec["schema"]
                return schema
        raise PermissionDeniedError(f"collection {collection!r} is not declared by the package")

    def _writing(self) -> None:
        if not self._writable:
            raise PermissionDeniedError("records are read-only here; request a directive")

    def get(self, collection: str, key: str) -> Record | None:
        """Return the record ``key`` of ``collection``, or None."""
        self._schema(collection)
        return self._tenant.records.get((collection, key))

    def find(
        self,
        collection: str,
        *,
        where: dict[str, Any] | None = None,
        text: str | None = None,
        limit: int = 50,
    ) -> list[Record]:
        """Return records whose data equals ``where`` and contains ``text`` (any field)."""
        self._schema(collection)
        out = []
        for (coll, _), record in self._tenant.records.items():
            if coll != collection:
                continue
            if where and any(record.data.get(k) != v for k, v in where.items()):
                continue
            if text and not any(
                text.lower() in str(v).lower() for v in record.data.values() if v is not None
            ):
                continue
            out.append(record)
        return out[:limit]

    def put(self, collection: str, data: dict[str, Any], *, key: str | None = None) -> Record:
        """Create or replace a record after checking it against the collection's schema."""
        self._writing()
        _check(self._schema(collection), data, f"record {collection}/{key}")
        key = key or f"r{next(self._tenant.counter)}"
        old = self._tenant.records.get((collection, key))
        now = datetime.now(UTC)
        record = Record(
            collection=collection,
            key=key,
            data=copy.deepcopy(data),
            package=self._tenant.name,
            # Only records a lifecycle hook creates count as provisioned: an upgrade that
            # rewrites a user's record must not make it disappear on uninstall.
            provisioned=old.provisioned if old else self._provisioning,
            created_at=old.created_at if old else now,
            updated_at=now,
        )
        self._tenant.records[(collection, key)] = record
        return record

    def update(self, collection: str, key: str, changes: dict[str, Any]) -> Record:
        """Merge ``changes`` into the record's data."""
        old = self.get(collection, key)
        if old is None:
            raise NotFoundError(f"no record {collection}/{key}")
        return self.put(collection, {**old.data, **changes}, key=key)

    def delete(self, collection: str, key: str) -> bool:
        """Delete a record; return whether it existed."""
        self._writing()
        return self._tenant.records.pop((collection, key), None) is not None


@dataclass
class FakeContext:
    """One context object playing every context protocol; the tenant sets what it allows."""

    tenant_obj: FakeTenant
    actor: Actor
    records: FakeRecords
    idempotency_key: str = ""
    role: str = "owner"
    #: In a tool's context: the one directive type the tool may request ("" for none).
    tool_directive: str | None = None
    correlation_id: str = "corr-1"
    requested: int = 0

    @property
    def tenant(self) -> str:
        """The tenant slug."""
        return self.tenant_obj.slug

    @property
    def package(self) -> str:
        """The package's name."""
        return self.tenant_obj.name

    @property
    def config(self) -> dict[str, Any]:
        """The non-secret config values."""
        return dict(self.tenant_obj.config)

    def request_directive(
        self,
        type: str,
        params: dict[str, Any],
        *,
        preview: str = "",
        key: str | None = None,
    ) -> DirectiveRef:
        """Request a directive; a tool may request only the one it declares."""
        if self.tool_directive == "":
            raise PermissionDeniedError(f"a read tool cannot request {type!r}")
        if self.tool_directive is not None and type != self.tool_directive:
            raise PermissionDeniedError(f"tool may request {self.tool_directive!r}, not {type!r}")
        self.requested += 1
        key = key or f"{self.idempotency_key}:{self.requested}"
        return self.tenant_obj.request(
            type, params, actor=self.actor, role=self.role, key=key, preview=preview
        )

    def secret(self, name: str) -> str | None:
        """Return a secret config value, as the host does with ``secrets:read``."""
        if "secrets:read" not in self.tenant_obj.manifest["permissions"]:
            raise PermissionDeniedError("package lacks secrets:read")
        return self.tenant_obj.secrets.get(name)

    def emit(
        self,
        type: str,
        data: dict[str, Any],
        *,
        subject: Subject | None = None,
        dedupe_key: str | None = None,
    ) -> Signal:
        """Emit a declared signal of the package."""
        specs = {s["type"]: s for s in self.tenant_obj.manifest["signals"]["emits"]}
        if type not in specs:
            raise PermissionDeniedError(f"signal {type!r} is not declared in signals.emits")
        _check(specs[type]["schema"], data, f"signal {type}")
        return self.tenant_obj.record_signal(
            type,
            data,
            source=self.package,
            subject=subject,
            dedupe_key=dedupe_key,
            actor=self.actor,
        )


@dataclass
class FakeTenant:
    """One tenant with the package installed, held in memory."""

    manifest: dict[str, Any]
    plugin: Any
    slug: str = "acme"
    config: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    records: dict[tuple[str, str], Record] = field(default_factory=dict)
    signals: list[Signal] = field(default_factory=list)
    directives: dict[str, Directive] = field(default_factory=dict)
    previews: dict[str, str] = field(default_factory=dict)
    delivered: int = 0
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.pm.register(self.plugin)

    @property
    def name(self) -> str:
        """The package name."""
        return str(self.manifest["name"])

    # -- lifecycle ------------------------------------------------------------------------
    def _install_ctx(self) -> FakeContext:
        records = FakeRecords(self, writable=True, provisioning=True)
        return FakeContext(self, Actor.parse("system:installer"), records)

    def install(self) -> None:
        """Write the seed records, then run the install hook."""
        with self.atomically():
            ctx = self._install_ctx()
            for seed in self.manifest["seed"]:
                ctx.records.put(seed["collection"], seed["data"], key=seed["key"])
            self.pm.hook.fleetprompt_install(ctx=ctx)

    def upgrade(self, from_version: str, to_version: str) -> None:
        """Run the upgrade hook; nothing changes if it raises."""
        with self.atomically():
            ctx = self._install_ctx()
            self.pm.hook.fleetprompt_upgrade(
                ctx=ctx, from_version=from_version, to_version=to_version
            )

    def uninstall(self, *, purge: bool) -> None:
        """Run the uninstall hook, then drop provisioned records (all records with purge)."""
        with self.atomically():
            self.pm.hook.fleetprompt_uninstall(ctx=self._install_ctx(), purge=purge)
            for ident, record in list(self.records.items()):
                if purge or record.provisioned:
                    del self.records[ident]

    # -- tools, directives, signals ------------------------------------------------------
    def tool(self, name: str) -> Any:
        """Return the package's tool called ``name``."""
        tools = [t for group in self.pm.hook.fleetprompt_tools() for t in group]
        return next(t for t in tools if t.name == name)

    def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        actor: str = "user:alice",
        role: str = "member",
    ) -> Any:
        """Validate the arguments and invoke a tool, as the tool executor does."""
        tool = self.tool(name)
        args = tool.validate_arguments(arguments)
        ctx = FakeContext(
            self,
            Actor.parse(actor),
            FakeRecords(self, writable=False),
            idempotency_key=f"tool-call-{next(self.counter)}",
            role=role,
            tool_directive=(tool.directive or "") if tool.effect == Effect.WRITE else "",
        )
        return tool.invoke(ctx, args)

    def request(
        self,
        type: str,
        params: dict[str, Any],
        *,
        actor: Actor,
        key: str,
        role: str = "owner",
        preview: str = "",
    ) -> DirectiveRef:
        """Record a requested directive; the same key returns the existing one."""
        for existing in self.directives.values():
            if existing.idempotency_key == key:
                return self._ref(existing, created=False)
        spec = next((d for d in self.manifest["directives"] if d["type"] == type), None)
        if spec is None:
            raise NotFoundError(f"no handler for directive type {type!r}")
        if not Role(role).satisfies(Role(spec["required_role"])):
            raise PermissionDeniedError(f"{type} needs role {spec['required_role']}, not {role}")
        _check(spec["params"], params, f"directive {type} params")
        directive = Directive(
            id=f"dir-{next(self.counter)}",
            tenant=self.slug,
            type=type,
            params=copy.deepcopy(params),
            status=DirectiveStatus.REQUESTED,
            idempotency_key=key,
            actor=actor,
        )
        self.directives[directive.id] = directive
        self.previews[directive.id] = preview
        return self._ref(directive, created=True)

    def _ref(self, directive: Directive, *, created: bool) -> DirectiveRef:
        return DirectiveRef(
            id=directive.id,
            type=directive.type,
            status=directive.status,
            preview=self.previews.get(directive.id, ""),
            result=directive.result,
            created=created,
        )

    def record_signal(
        self,
        type: str,
        data: dict[str, Any],
        *,
        source: str,
        subject: Subject | None = None,
        dedupe_key: str | None = None,
        actor: Actor | None = None,
    ) -> Signal:
        """Append a signal; the same dedupe key returns the existing one."""
        for existing in self.signals:
            if dedupe_key is not None and existing.dedupe_key == dedupe_key:
                return existing
        signal = Signal(
            id=f"sig-{next(self.counter)}",
            seq=len(self.signals) + 1,
            tenant=self.slug,
            type=type,
            data=copy.deepcopy(data),
            source=source,
            subject=subject,
            actor=actor,
            dedupe_key=dedupe_key,
            occurred_at=datetime.now(UTC),
        )
        self.signals.append(signal)
        return signal

    def atomically(self) -> _Snapshot:
        """Return a context manager that restores records and signals if its body raises."""
        return _Snapshot(self)

    def run(self, directive_id: str) -> Directive:
        """Run one requested directive; its effects are all or nothing."""
        directive = self.directives[directive_id]
        handlers = [h for group in self.pm.hook.fleetprompt_directive_handlers() for h in group]
        handler = next(h for h in handlers if h.type == directive.type)
        ctx = FakeContext(
            self,
            directive.actor,
            FakeRecords(self, writable=True),
            idempotency_key=directive.idempotency_key,
        )
        try:
            with self.atomically():
                result = handler.function(ctx, directive)
            update: dict[str, Any] = {"status": DirectiveStatus.SUCCEEDED, "result": result}
        except FleetPromptError as exc:
            error = {"code": exc.code, "message": str(exc)}
            update = {"status": DirectiveStatus.FAILED, "error": error}
        except Exception as exc:  # a package bug: recorded, as the host does
            error = {"code": "handler-crashed", "message": repr(exc)}
            update = {"status": DirectiveStatus.FAILED, "error": error}
        done = directive.model_copy(update=update)
        self.directives[directive_id] = done
        return done

    def deliver(self, signal: Signal) -> None:
        """Deliver ``signal`` to every handler of the package subscribed to its type."""
        handlers = {
            h.name: h for group in self.pm.hook.fleetprompt_signal_handlers() for h in group
        }
        for sub in self.manifest["signals"]["subscribes"]:
            if pattern_matches(sub["pattern"], signal.type):
                ctx = FakeContext(
                    self,
                    Actor.parse(f"system:{self.name}"),
                    FakeRecords(self, writable=False),
                    idempotency_key=f"{signal.id}:{sub['handler']}",
                )
                handlers[sub["handler"]].function(ctx, signal)

    def settle(self) -> list[Directive]:
        """Run requested directives and deliver new signals until nothing is left to do."""
        ran = []
        while True:
            pending = [d for d in self.directives.values() if d.status == DirectiveStatus.REQUESTED]
            fresh = self.signals[self.delivered :]
            if not pending and not fresh:
                return ran
            for directive in pending:
                ran.append(self.run(directive.id))
            for signal in fresh:
                self.delivered += 1
                self.deliver(signal)

    # -- inspection ------------------------------------------------------------------------
    def data(self, collection: str) -> dict[str, dict[str, Any]]:
        """Return ``{key: data}`` of every record in ``collection``."""
        return {k: r.data for (c, k), r in self.records.items() if c == collection}

    def durable_text(self) -> str:
        """Everything the host would store durably, as one string (to look for leaks)."""
        return json.dumps(
            {
                "records": [r.model_dump(mode="json") for r in self.records.values()],
                "signals": [s.model_dump(mode="json") for s in self.signals],
                "directives": [d.model_dump(mode="json") for d in self.directives.values()],
                "previews": self.previews,
            }
        )


class _Snapshot:
    def __init__(self, tenant: FakeTenant) -> None:
        self.tenant = tenant

    def __enter__(self) -> None:
        self.records = dict(self.tenant.records)
        self.signals = list(self.tenant.signals)

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            self.tenant.records = self.records
            self.tenant.signals = self.signals


@pytest.fixture
def manifest() -> dict[str, Any]:
    """The package's manifest, read from the installed package data."""
    return load_manifest()


@pytest.fixture
def package() -> Any:
    """The object the package's entry point names."""
    return importlib.import_module(PACKAGE_MODULE).package


@pytest.fixture
def make_tenant(manifest: dict[str, Any], package: Any) -> Any:
    """Return a factory of installed tenants: ``make_tenant(config=..., secrets=...)``."""

    def make(*, install: bool = True, **kwargs: Any) -> FakeTenant:
        tenant = FakeTenant(manifest=manifest, plugin=package, **kwargs)
        if install:
            tenant.install()
        return tenant

    return make


@pytest.fixture
def tenant(make_tenant: Any) -> FakeTenant:
    """A tenant with the package freshly installed."""
    result: FakeTenant = make_tenant()
    return result
