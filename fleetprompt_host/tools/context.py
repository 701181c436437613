"""The ``ToolContext`` a tool's code receives while it runs.

Tool code always runs on a read-only tenant session: it can read its package's records,
never write them. The session is opened when the code first reads (``ctx.records``,
``ctx.config``), so a tool that computes or calls out without reading the tenant's data
costs no transaction. A write tool states the change it wants through
``ctx.request_directive``; the context only *captures* that request (type, params,
preview). The dispatcher then asks for confirmation if the tool needs it and requests
the directive in a transaction of its own, with the invocation's idempotency key, so
nothing a tool does can become a side effect before every check has passed.

The tenant, the actor and the correlation id come from the host, never from arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetprompt_host.engine.records_api import PackageRecords
from fleetprompt_host.storage.models import InstallationRow
from fleetprompt_sdk.enums import DirectiveStatus, Effect
from fleetprompt_sdk.errors import FleetPromptError, InvalidInputError, PermissionDeniedError
from fleetprompt_sdk.manifest import Manifest
from fleetprompt_sdk.models import Actor, DirectiveRef

#: The id a captured directive reference carries until the directive is requested.
PENDING_ID = "pending"


class ToolTimedOutError(FleetPromptError):
    """A tool's code ran past its timeout; whatever it does afterwards is ignored."""

    code = "tool-timeout"
    audience = "model"


@dataclass(frozen=True)
class CapturedDirective:
    """The directive a write tool asked for, before it is requested."""

    type: str
    params: dict[str, Any]
    preview: str


class ToolRunContext:
    """A ``ToolContext`` for one invocation of one tool (see the module doc)."""

    def __init__(
        self,
        open_session: Callable[[], Session],
        manifest: Manifest,
        *,
        tenant: str,
        actor: Actor,
        correlation_id: str,
        effect: Effect,
        tool: str,
    ) -> None:
        self._open_session = open_session
        self._session: Session | None = None
        self._manifest = manifest
        self._tenant = tenant
        self._actor = actor
        self._correlation_id = correlation_id
        self._effect = effect
        self._tool = tool
        self._records: PackageRecords | None = None
        self._config: dict[str, Any] | None = None
        self.captured: CapturedDirective | None = None
        #: Set by the dispatcher when the call timed out: later requests are refused.
        self.abandoned = False

    @property
    def tenant(self) -> str:
        """The tenant slug (from the host, never from arguments)."""
        return self._tenant

    @property
    def actor(self) -> Actor:
        """Who the tool runs for."""
        return self._actor

    @property
    def correlation_id(self) -> str:
        """The correlation id of the chat turn or CLI call."""
        return self._correlation_id

    @property
    def package(self) -> str:
        """The tool's package."""
        return self._manifest.name

    def _read_session(self) -> Session:
        if self._session is None:
            self._session = self._open_session()
        return self._session

    @property
    def config(self) -> dict[str, Any]:
        """The installation's non-secret config values."""
        if self._config is None:
            found = (
                self._read_session()
                .execute(
                    select(InstallationRow.config).where(InstallationRow.package == self.package)
                )
                .scalar_one_or_none()
            )
            self._config = dict(found or {})
        return dict(self._config)

    @property
    def records(self) -> PackageRecords:
        """Read-only access to the package's records."""
        if self._records is None:
            self._records = PackageRecords(self._read_session(), self._manifest, writable=False)
        return self._records

    def request_directive(
        self, type: str, params: dict[str, Any], *, preview: str = ""
    ) -> DirectiveRef:
        """Capture the directive this write tool asks for (one per call)."""
        if self.abandoned:
            raise ToolTimedOutError(f"tool {self._tool!r} timed out; its request is ignored")
        if self._effect is not Effect.WRITE:
            raise PermissionDeniedError(
                f"tool {self._tool!r} is a read tool: only write tools request directives",
                code="read-tool-requested-directive",
            )
        if self.captured is not None:
            raise PermissionDeniedError(
                f"tool {self._tool!r} requested a second directive; one call requests one",
                code="one-directive-per-call",
            )
        if not isinstance(params, dict):
            raise InvalidInputError(
                f"tool {self._tool!r} gave directive params that are not an object",
                code="directive-params-not-json",
            )
        self.captured = CapturedDirective(type=type, params=dict(params), preview=str(preview))
        return DirectiveRef(
            id=PENDING_ID, type=type, status=DirectiveStatus.REQUESTED, preview=str(preview)
        )
