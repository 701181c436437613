"""A lifecycle plan: the directives one command will request, in order, and what each does.

``--dry-run`` prints a plan and changes nothing; without it the same plan is submitted.
Each step is one directive: its type, package, versions, idempotency key, the reason it is
there (requested, a dependency, a dependent), the config changes (secret fields by name
only) and the records it will create or remove.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fleetprompt_host.storage.base import new_id

WHY_REQUESTED = "requested"


@dataclass
class Step:
    """One lifecycle directive of a plan."""

    action: str
    package: str
    version: str
    key: str
    params: dict[str, Any]
    from_version: str | None = None
    reason: str = WHY_REQUESTED
    config_changes: list[dict[str, Any]] = field(default_factory=list)
    records_create: list[str] = field(default_factory=list)
    records_remove: dict[str, int] = field(default_factory=dict)
    records_kept: dict[str, int] = field(default_factory=dict)
    tools_added: list[str] = field(default_factory=list)
    tools_removed: list[str] = field(default_factory=list)
    #: Set when the tenant is already in the wanted state: nothing is requested.
    noop: str | None = None
    #: Secret values to store with the request; never printed or serialised.
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    directive_id: str | None = None
    created: bool | None = None
    status: str | None = None
    error: dict[str, Any] | None = None

    @property
    def type(self) -> str:
        """The directive type: ``package.<action>``."""
        return f"package.{self.action}"

    def to_json(self) -> dict[str, Any]:
        """Return the step as JSON (no secret values)."""
        return {
            "type": self.type,
            "package": self.package,
            "from_version": self.from_version,
            "version": self.version,
            "reason": self.reason,
            "idempotency_key": self.key,
            "noop": self.noop,
            "config_changes": self.config_changes,
            "records_create": self.records_create,
            "records_remove": self.records_remove,
            "records_kept": self.records_kept,
            "tools_added": self.tools_added,
            "tools_removed": self.tools_removed,
            "directive_id": self.directive_id,
            "created": self.created,
            "status": self.status,
            "error": self.error,
        }

    def headline(self) -> str:
        """One line: ``package.install crm 1.0.0 (dependency of helpdesk)``."""
        versions = self.version
        if self.from_version and self.from_version != self.version:
            versions = f"{self.from_version} -> {self.version}"
        elif self.from_version:
            versions = f"{self.version} (config change)"
        why = "" if self.reason == WHY_REQUESTED else f" ({self.reason})"
        return f"{self.type} {self.package} {versions}{why}"


@dataclass
class Plan:
    """The steps of one command in one tenant, sharing a correlation id."""

    tenant: str
    action: str
    steps: list[Step] = field(default_factory=list)
    correlation_id: str = field(default_factory=new_id)
    dry_run: bool = False

    @property
    def pending(self) -> list[Step]:
        """The steps that request a directive (not already satisfied)."""
        return [s for s in self.steps if s.noop is None]

    def to_json(self) -> dict[str, Any]:
        """Return the plan as JSON."""
        return {
            "tenant": self.tenant,
            "action": self.action,
            "dry_run": self.dry_run,
            "correlation_id": self.correlation_id,
            "dependencies": [s.package for s in self.steps if s.reason != WHY_REQUESTED],
            "steps": [s.to_json() for s in self.steps],
        }

    def lines(self) -> list[str]:
        """Return the plan as readable lines (for ``--dry-run``)."""
        head = "plan (dry run, nothing changed)" if self.dry_run else "plan"
        out = [f"{head} for tenant {self.tenant}:"]
        for number, step in enumerate(self.steps, 1):
            out.append(f"  {number}. {step.headline()}")
            out.extend(f"       {line}" for line in _details(step))
        if not self.steps:
            out.append("  nothing to do")
        return out


def _details(step: Step) -> list[str]:
    out: list[str] = []
    if step.noop:
        return [f"nothing to do: {step.noop}"]
    out.append(f"idempotency key: {step.key}")
    for change in step.config_changes:
        if change.get("secret"):
            out.append(f"config {change['field']}: {change['change']} (secret, value hidden)")
        elif change["change"] == "set":
            out.append(f"config {change['field']}: set to {_show(change['new'])}")
        elif change["change"] == "unset":
            out.append(f"config {change['field']}: unset (was {_show(change['old'])})")
        else:
            out.append(
                f"config {change['field']}: {_show(change['old'])} -> {_show(change['new'])}"
            )
    if step.records_create:
        out.append(f"records to create: {', '.join(step.records_create)}")
    if step.action == "install":
        out.append("plus any records the package's install hook writes")
    if step.records_remove:
        out.append(f"records to remove: {_counts(step.records_remove)}")
    if step.records_kept:
        out.append(f"user records kept: {_counts(step.records_kept)} (--purge removes them)")
    if step.tools_added:
        out.append(f"tools added: {', '.join(step.tools_added)}")
    if step.tools_removed:
        out.append(f"tools removed: {', '.join(step.tools_removed)}")
    return out


def _show(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} in {c}" for c, n in sorted(counts.items()))
