"""CRM: contacts, the companies they work for, and a sales pipeline.

This package shows the basic shape of a FleetPrompt package:

- read tools (``search_contacts``, ``get_contact``, ``list_companies``) read the tenant's
  records through ``ctx.records`` and return plain JSON data;
- write tools (``create_contact``, ``update_contact``) never write: they check what a
  model can fix, then request a directive and return its reference;
- directive handlers do the writing, and emit signals in the same transaction.

Pipeline stages are seed records declared in the manifest, so every tenant starts with
the same five stages and can later rename or extend them.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any

from pydantic import Field

from fleetprompt_sdk import (
    ConflictError,
    DirectiveContext,
    DirectiveRef,
    InvalidInputError,
    NotFoundError,
    Package,
    ToolArgumentError,
    ToolContext,
)
from fleetprompt_sdk.context import RecordReader, RecordWriter
from fleetprompt_sdk.models import Directive, Record, Subject

package = Package("crm")

CONTACTS = "contacts"
COMPANIES = "companies"
STAGES = "pipeline_stages"

Name = Annotated[str, Field(min_length=1, max_length=200)]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)]
Phone = Annotated[str, Field(min_length=3, max_length=40)]
Key = Annotated[str, Field(min_length=1, max_length=200)]
Limit = Annotated[int, Field(ge=1, le=100)]


# -- helpers ----------------------------------------------------------------------------
def stable_key(prefix: str, idempotency_key: str) -> str:
    """Derive a record key from a directive's idempotency key.

    A retried directive then writes the same record again instead of a second copy.
    """
    return f"{prefix}_{hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]}"


def company_key(name: str) -> str:
    """Return the key of the company called ``name``: a slug, so one name is one company."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:60] or stable_key("company", name)


def as_dict(record: Record) -> dict[str, Any]:
    """Return a record as the JSON object tools hand to the model."""
    return {"key": record.key, **record.data}


def _contact(records: RecordReader, key: str) -> Record:
    record = records.get(CONTACTS, key)
    if record is None:
        raise ToolArgumentError(
            f"no contact with key {key!r}; search_contacts finds keys", code="contact-not-found"
        )
    return record


def _check_stage(records: RecordReader, stage: str) -> None:
    if records.get(STAGES, stage) is None:
        known = ", ".join(r.key for r in records.find(STAGES, limit=100))
        raise ToolArgumentError(
            f"unknown pipeline stage {stage!r}; known stages: {known}", code="unknown-stage"
        )


def _email_owner(records: RecordReader, email: str) -> Record | None:
    found = records.find(CONTACTS, where={"email": email}, limit=1)
    return found[0] if found else None


# -- read tools -------------------------------------------------------------------------
@package.tool
def search_contacts(
    ctx: ToolContext,
    query: Annotated[str, Field(min_length=1, max_length=200)],
    limit: Limit = 20,
) -> list[dict[str, Any]]:
    """Find contacts whose name, email, phone, company or stage contains some text.

    Args:
        query: Text to look for, for example a surname or an email domain.
        limit: The most contacts to return.
    """
    return [as_dict(r) for r in ctx.records.find(CONTACTS, text=query, limit=limit)]


@package.tool
def get_contact(ctx: ToolContext, key: Key) -> dict[str, Any]:
    """Return one contact with its company and pipeline stage spelled out.

    Args:
        key: The contact's key, as returned by search_contacts.
    """
    record = _contact(ctx.records, key)
    contact = as_dict(record)
    company = ctx.records.get(COMPANIES, record.data["company"]) if record.data["company"] else None
    stage = ctx.records.get(STAGES, record.data["stage"])
    contact["company_detail"] = as_dict(company) if company else None
    contact["stage_detail"] = as_dict(stage) if stage else None
    return contact


@package.tool
def list_companies(
    ctx: ToolContext,
    query: Annotated[str | None, Field(max_length=200)] = None,
    limit: Limit = 50,
) -> list[dict[str, Any]]:
    """List the companies contacts work for, optionally only those matching some text.

    Args:
        query: Text the company's name or domain must contain; omit to list all.
        limit: The most companies to return.
    """
    return [as_dict(r) for r in ctx.records.find(COMPANIES, text=query, limit=limit)]


# -- write tools ------------------------------------------------------------------------
@package.tool(effect="write", directive="crm.contact.create")
def create_contact(
    ctx: ToolContext,
    name: Name,
    email: Email,
    phone: Phone | None = None,
    company: Name | None = None,
    stage: Key = "lead",
) -> DirectiveRef:
    """Add a person to the CRM. Fails if a contact with the same email exists.

    Args:
        name: The person's full name.
        email: The person's email address; unique among contacts.
        phone: A phone number in any format.
        company: The name of the company they work for; created if new.
        stage: The pipeline stage key, such as lead, qualified or won.
    """
    email = email.strip().lower()
    owner = _email_owner(ctx.records, email)
    if owner is not None:
        raise ToolArgumentError(
            f"contact {owner.key!r} already has email {email!r}; use update_contact",
            code="contact-exists",
        )
    _check_stage(ctx.records, stage)
    params = {"name": name, "email": email, "phone": phone, "company": company, "stage": stage}
    at = f" at {company}" if company else ""
    return ctx.request_directive(
        "crm.contact.create", params, preview=f"Create contact {name} <{email}>{at} ({stage})"
    )


@package.tool(effect="write", directive="crm.contact.update")
def update_contact(
    ctx: ToolContext,
    key: Key,
    name: Name | None = None,
    email: Email | None = None,
    phone: Phone | None = None,
    company: Name | None = None,
    stage: Key | None = None,
) -> DirectiveRef:
    """Change some fields of a contact; fields left out stay as they are.

    Args:
        key: The contact's key, as returned by search_contacts.
        name: The new full name.
        email: The new email address; unique among contacts.
        phone: The new phone number.
        company: The name of the new company; created if new.
        stage: The new pipeline stage key.
    """
    current = _contact(ctx.records, key)
    given = {"name": name, "email": email, "phone": phone, "company": company, "stage": stage}
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        raise ToolArgumentError("nothing to change: give at least one field", code="no-changes")
    if "email" in changes:
        changes["email"] = changes["email"].strip().lower()
        owner = _email_owner(ctx.records, changes["email"])
        if owner is not None and owner.key != key:
            raise ToolArgumentError(
                f"contact {owner.key!r} already has email {changes['email']!r}",
                code="contact-exists",
            )
    if "stage" in changes:
        _check_stage(ctx.records, changes["stage"])
    summary = ", ".join(f"{k}: {current.data.get(k)!r} -> {v!r}" for k, v in changes.items())
    return ctx.request_directive(
        "crm.contact.update",
        {"key": key, "changes": changes},
        preview=f"Update contact {current.data['name']}: {summary}",
    )


# -- directive handlers -----------------------------------------------------------------
def _ensure_company(records: RecordWriter, name: str) -> str:
    key = company_key(name)
    if records.get(COMPANIES, key) is None:
        records.put(COMPANIES, {"name": name, "domain": None}, key=key)
    return key


def _refuse_taken_email(records: RecordReader, email: str, key: str) -> None:
    # Checked again here: the tool's check ran earlier, outside this transaction.
    owner = _email_owner(records, email)
    if owner is not None and owner.key != key:
        raise ConflictError(f"contact {owner.key!r} already has email {email!r}")


def _refuse_unknown_stage(records: RecordReader, stage: str) -> None:
    if records.get(STAGES, stage) is None:
        raise InvalidInputError(f"unknown pipeline stage {stage!r}", code="unknown-stage")


@package.directive("crm.contact.create")
def run_create_contact(ctx: DirectiveContext, directive: Directive) -> dict[str, Any]:
    """Write a new contact (and its company if new); emit ``crm.contact.created``."""
    params = directive.params
    key = stable_key("contact", ctx.idempotency_key)
    _refuse_taken_email(ctx.records, params["email"], key)
    _refuse_unknown_stage(ctx.records, params["stage"])
    company = _ensure_company(ctx.records, params["company"]) if params.get("company") else None
    data = {
        "name": params["name"],
        "email": params["email"],
        "phone": params.get("phone"),
        "company": company,
        "stage": params["stage"],
    }
    ctx.records.put(CONTACTS, data, key=key)
    ctx.emit(
        "crm.contact.created",
        {"key": key, **data},
        subject=Subject(type="contact", id=key),
        dedupe_key=f"crm.contact.created:{ctx.idempotency_key}",
    )
    return {"key": key, "company": company}


@package.directive("crm.contact.update")
def run_update_contact(ctx: DirectiveContext, directive: Directive) -> dict[str, Any]:
    """Apply changes to a contact; emit ``crm.contact.updated`` with old and new values."""
    key = directive.params["key"]
    changes = dict(directive.params["changes"])
    current = ctx.records.get(CONTACTS, key)
    if current is None:
        raise NotFoundError(f"crm.contact.update: no contact with key {key!r}")
    if "email" in changes:
        _refuse_taken_email(ctx.records, changes["email"], key)
    if "stage" in changes:
        _refuse_unknown_stage(ctx.records, changes["stage"])
    if "company" in changes:
        changes["company"] = _ensure_company(ctx.records, changes["company"])
    ctx.records.update(CONTACTS, key, changes)
    ctx.emit(
        "crm.contact.updated",
        {
            "key": key,
            "changes": changes,
            "previous": {k: current.data.get(k) for k in changes},
        },
        subject=Subject(type="contact", id=key),
        dedupe_key=f"crm.contact.updated:{ctx.idempotency_key}",
    )
    return {"key": key, "changed": sorted(changes)}
