"""The records API package code receives: one package's collections in one tenant.

:class:`PackageRecords` implements the SDK's ``RecordReader``/``RecordWriter`` protocols
over the tenant's ``records`` table, bound to one package: it can reach only the
collections that package declares, validates data against the collection's schema and
stamps provenance (package, provisioned flag, directive and actor) on every write.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from fleetprompt_host.storage.base import new_id, utcnow
from fleetprompt_host.storage.models import RecordRow
from fleetprompt_sdk.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from fleetprompt_sdk.manifest import Manifest
from fleetprompt_sdk.models import Record

from .jsonsafe import check_json
from .leases import affected
from .schemas import validate

_CODES = {"not-json": "record-not-json", "too-deep": "record-not-json", "secret": "record-not-json"}
MAX_FIND = 1000


def _to_record(row: RecordRow) -> Record:
    return Record(
        collection=row.collection,
        key=row.key,
        data=row.data,
        package=row.package,
        provisioned=row.provisioned,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _contains(value: Any, needle: str) -> bool:
    if isinstance(value, str):
        return needle in value.lower()
    if isinstance(value, dict):
        return any(_contains(v, needle) for v in value.values())
    if isinstance(value, list):
        return any(_contains(v, needle) for v in value)
    return needle in str(value).lower() if value is not None else False


def _same(a: Any, b: Any) -> bool:
    # JSON equality: True is not 1, and 1 equals 1.0.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


class PackageRecords:
    """Records of ``manifest``'s collections; writes only when ``writable``."""

    def __init__(
        self,
        session: Session,
        manifest: Manifest,
        *,
        writable: bool,
        provisioned: bool = False,
        directive_id: str | None = None,
        actor: str | None = None,
        check_permissions: bool = True,
    ) -> None:
        self._session = session
        self._manifest = manifest
        self._writable = writable
        self._provisioned = provisioned
        self._directive_id = directive_id
        self._actor = actor
        self._check_permissions = check_permissions
        self._schemas = {c.name: c.schema_ for c in manifest.collections}

    @property
    def package(self) -> str:
        """The package whose collections these are."""
        return self._manifest.name

    def _collection(self, collection: str, *, write: bool) -> None:
        if collection not in self._schemas:
            declared = ", ".join(sorted(self._schemas)) or "none"
            raise InvalidInputError(
                f"package {self.package!r} declares no collection {collection!r} "
                f"(declared: {declared})",
                code="unknown-collection",
            )
        if write and not self._writable:
            raise PermissionDeniedError(
                f"records of {self.package!r} are read-only here: only directive handlers "
                "and lifecycle hooks write records",
                code="records-read-only",
            )
        if self._check_permissions:
            have = {p.value for p in self._manifest.permissions}
            need = {"records:write"} if write else {"records:read", "records:write"}
            if not have & need:
                raise PermissionDeniedError(
                    f"package {self.package!r} lacks permission {sorted(need)[0]!r}",
                    code="package-permission-missing",
                )

    def _row(self, collection: str, key: str) -> RecordRow | None:
        return self._session.execute(
            select(RecordRow).where(
                RecordRow.package == self.package,
                RecordRow.collection == collection,
                RecordRow.key == key,
            )
        ).scalar_one_or_none()

    def _check_data(self, collection: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise InvalidInputError(
                f"record data for {self.package}.{collection} must be an object",
                code="record-not-json",
            )
        check_json(data, root="data", codes=_CODES, allow_secrets=True)
        validate(
            data,
            self._schemas[collection],
            root="data",
            code="record-invalid",
            what=f"a record of {self.package}.{collection}",
        )

    # -- RecordReader -----------------------------------------------------------------

    def get(self, collection: str, key: str) -> Record | None:
        """Return the record ``key`` of ``collection``, or None."""
        self._collection(collection, write=False)
        row = self._row(collection, key)
        return None if row is None else _to_record(row)

    def find(
        self,
        collection: str,
        *,
        where: dict[str, Any] | None = None,
        text: str | None = None,
        limit: int = 50,
    ) -> list[Record]:
        """Return up to ``limit`` records (by key) equal to ``where`` and containing ``text``."""
        self._collection(collection, write=False)
        limit = max(1, min(int(limit), MAX_FIND))
        stmt = select(RecordRow).where(
            RecordRow.package == self.package, RecordRow.collection == collection
        )
        for field_name, value in (where or {}).items():
            # Narrow in SQL by text comparison, which never fails a cast on either dialect;
            # exact JSON equality (types included) is checked below.
            if isinstance(value, str):
                stmt = stmt.where(RecordRow.data[field_name].as_string() == value)
        rows = self._session.execute(stmt.order_by(RecordRow.key)).scalars()
        needle = text.lower() if text else None
        found: list[Record] = []
        for row in rows:
            if where and not all(k in row.data and _same(row.data[k], v) for k, v in where.items()):
                continue
            if needle and not _contains(row.data, needle):
                continue
            found.append(_to_record(row))
            if len(found) >= limit:
                break
        return found

    # -- RecordWriter -----------------------------------------------------------------

    def put(self, collection: str, data: dict[str, Any], *, key: str | None = None) -> Record:
        """Create or replace a record; a missing ``key`` gets a new unique one."""
        self._collection(collection, write=True)
        self._check_data(collection, data)
        key = key if key is not None else new_id()
        if not (isinstance(key, str) and 0 < len(key) <= 200):
            raise InvalidInputError("record key must be 1 to 200 characters", code="invalid-key")
        row = self._row(collection, key)
        now = utcnow()
        if row is None:
            row = RecordRow(
                package=self.package,
                collection=collection,
                key=key,
                data=data,
                provisioned=self._provisioned,
                created_by_directive=self._directive_id,
                created_by_actor=self._actor,
                updated_by_directive=self._directive_id,
                created_at=now,
                updated_at=now,
            )
            self._session.add(row)
            self._session.flush()
            return _to_record(row)
        return self._replace(row, data)

    def _replace(self, row: RecordRow, data: dict[str, Any]) -> Record:
        self._session.execute(
            update(RecordRow)
            .where(RecordRow.id == row.id)
            .values(
                data=data,
                revision=RecordRow.revision + 1,
                updated_by_directive=self._directive_id,
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        self._session.refresh(row)
        return _to_record(row)

    def update(self, collection: str, key: str, changes: dict[str, Any]) -> Record:
        """Merge ``changes`` into the record's data and return the new record."""
        self._collection(collection, write=True)
        row = self._row(collection, key)
        if row is None:
            raise NotFoundError(
                f"no record {key!r} in {self.package}.{collection}", code="record-not-found"
            )
        merged = {**row.data, **changes}
        self._check_data(collection, merged)
        return self._replace(row, merged)

    def delete(self, collection: str, key: str) -> bool:
        """Delete a record; return whether it existed."""
        self._collection(collection, write=True)
        result = self._session.execute(
            delete(RecordRow)
            .where(
                RecordRow.package == self.package,
                RecordRow.collection == collection,
                RecordRow.key == key,
            )
            .execution_options(synchronize_session=False)
        )
        return affected(result) > 0
