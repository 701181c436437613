"""Tenant slugs: the one grammar every tenant name must follow before anything is touched.

A slug becomes part of a PostgreSQL schema name (``org_<slug>``), a role name and a
SQLite file name, so it is checked against a strict ASCII pattern and a list of reserved
words before any of those exist. Nothing else is ever accepted.
"""

from __future__ import annotations

import re

from fleetprompt_sdk.errors import InvalidInputError

#: The documented slug pattern: lowercase ASCII letter, then 1-40 of ``[a-z0-9_]``.
SLUG_PATTERN = r"^[a-z][a-z0-9_]{1,40}$"
_SLUG = re.compile(r"[a-z][a-z0-9_]{1,40}", re.ASCII)

#: Names refused even though they match the pattern (PostgreSQL, SQL or our own).
RESERVED_SLUGS = frozenset(
    {
        "public",
        "information_schema",
        "postgres",
        "template0",
        "template1",
        "host",
        "fleetprompt",
        "admin",
        "system",
        "root",
        "default",
        "tenant",
        "tenants",
        "user",
        "users",
        "role",
        "roles",
        "schema",
        "select",
        "table",
        "null",
        "none",
        "all",
        "test",
    }
)
#: Prefixes refused (``pg_`` is reserved by PostgreSQL, ``fp_`` by FleetPrompt).
RESERVED_PREFIXES = ("pg_", "fp_", "sqlite_")


def validate_slug(slug: object) -> str:
    """Return ``slug`` when it is a valid tenant slug; raise otherwise.

    Raises :class:`InvalidInputError` with code ``invalid-slug`` naming what is wrong.
    """
    if not isinstance(slug, str):
        raise InvalidInputError(
            f"invalid tenant slug {slug!r}: expected a string", code="invalid-slug"
        )
    if not slug:
        raise InvalidInputError("invalid tenant slug '': it is empty", code="invalid-slug")
    if len(slug) > 41:
        raise InvalidInputError(
            f"invalid tenant slug {slug[:50]!r}...: {len(slug)} characters, at most 41",
            code="invalid-slug",
        )
    if not _SLUG.fullmatch(slug):
        raise InvalidInputError(
            f"invalid tenant slug {slug!r}: must match {SLUG_PATTERN} "
            "(lowercase ASCII letter first, then lowercase letters, digits or _)",
            code="invalid-slug",
        )
    if slug in RESERVED_SLUGS or slug.startswith(RESERVED_PREFIXES):
        raise InvalidInputError(f"invalid tenant slug {slug!r}: reserved name", code="invalid-slug")
    return slug


def schema_name(slug: str) -> str:
    """Return the schema (and SQLite file stem) of tenant ``slug``: ``org_<slug>``."""
    return f"org_{validate_slug(slug)}"
