"""Storage models: host tables (:class:`HostBase`) and tenant tables (:class:`TenantBase`)."""

from __future__ import annotations

from .conversations import ConversationRow, MessageRow
from .counters import CounterRow, allocate
from .deliveries import DeliveryRow
from .directives import DirectiveRow
from .executions import ExecutionRow, ExecutionStepRow
from .host import HostAuditRow, KnownPackageRow, TenantRow
from .installations import InstallationRow
from .members import MemberRow
from .records import RecordRow
from .secrets import InstallationSecretRow
from .signals import SignalRow
from .work import TenantWorkRow

__all__ = [
    "ConversationRow",
    "CounterRow",
    "DeliveryRow",
    "DirectiveRow",
    "ExecutionRow",
    "ExecutionStepRow",
    "HostAuditRow",
    "InstallationRow",
    "InstallationSecretRow",
    "KnownPackageRow",
    "MemberRow",
    "MessageRow",
    "RecordRow",
    "SignalRow",
    "TenantRow",
    "TenantWorkRow",
    "allocate",
]
