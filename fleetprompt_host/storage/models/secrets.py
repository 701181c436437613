"""The tenant table that holds encrypted secret config values.

Secret values never sit in ``installations.config``, directive params, signals or
executions: those carry a reference (``sec_...``) to a row here, whose ``ciphertext``
only host code holding the host key can decrypt (see
:mod:`fleetprompt_host.installations.secrets`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..base import TENANT_SCHEMA, TenantBase, UTCDateTime, utcnow


class InstallationSecretRow(TenantBase):
    """One encrypted secret value of a package's config, addressed by its reference."""

    __tablename__ = "installation_secrets"
    __table_args__ = (
        Index(None, "package", "field"),
        Index(None, "key_id"),
        {"schema": TENANT_SCHEMA},
    )

    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    package: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(16))
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
