"""The webhook hears about new tickets with the secret token; no database table holds it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from fleetprompt_host.engine.inline import run_pending_inline
from fleetprompt_host.engine.retry import RetryPolicy
from fleetprompt_host.host import Host
from fleetprompt_host.storage import HostBase, TenantBase
from fleetprompt_host.testing.plugin import TenantHarness

TOKEN = "tok-5ecret-d0-not-store"
#: Retries due at once, so a test sees every attempt without waiting for the backoff.
NO_BACKOFF = RetryPolicy(base_seconds=0.0)


class Receiver:
    """A local HTTP endpoint that records each request and answers with scripted statuses."""

    def __init__(self) -> None:
        #: Statuses for the next requests, in order; 204 once they are used up.
        self.statuses: list[int] = []
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), json.loads(body)))
                status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tickets"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running receiver, stopped after the test."""
    rec = Receiver()
    # A short poll interval keeps shutdown() quick.
    thread = threading.Thread(target=rec.server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()
    thread.join()


def tenant_with(fp_host: Host, config: dict[str, str]) -> TenantHarness:
    """Tenant ``acme`` with helpdesk (and crm) installed with ``config``."""
    fp_host.create_tenant("acme")
    fp_host.install("acme", "helpdesk", config, with_deps=True)
    return TenantHarness(fp_host, "acme", ["helpdesk"])


@pytest.fixture
def hooked(fp_host: Host, receiver: Receiver) -> TenantHarness:
    """A tenant whose helpdesk notifies ``receiver`` with the secret token."""
    return tenant_with(fp_host, {"webhook_url": receiver.url, "webhook_token": TOKEN})


def create(fp_tenant: TenantHarness, *, policy: RetryPolicy = NO_BACKOFF) -> Any:
    """Request a ticket through the tool, run until idle under ``policy``; return the directive."""
    outcome = fp_tenant.host.call_tool(
        fp_tenant.slug,
        "helpdesk__create_ticket",
        {"title": "VPN drops hourly", "priority": "high"},
        run_inline=False,
    )
    assert outcome.ok, outcome.error
    run_pending_inline(fp_tenant.host.db, fp_tenant.host.registry, fp_tenant.slug, policy=policy)
    (directive,) = fp_tenant.directives("helpdesk.ticket.create")
    return directive


def tables_holding(host: Host, tenant: str, needle: str) -> list[str]:
    """Return the host and tenant tables with a row whose text contains ``needle``.

    Every table is read, whichever the host has, so a new table cannot escape the check.
    """
    found: list[str] = []
    with host.db.host_session(write=False) as session:
        for table in HostBase.metadata.sorted_tables:
            rows = session.execute(select(table)).all()
            found += [f"host.{table.name}" for row in rows if needle in repr(tuple(row))]
    with host.db.tenant_session(tenant, readonly=True) as session:
        for table in TenantBase.metadata.sorted_tables:
            rows = session.execute(select(table)).all()
            found += [table.name for row in rows if needle in repr(tuple(row))]
    return sorted(set(found))


def test_new_ticket_is_posted_with_the_token_and_the_idempotency_key(
    hooked: TenantHarness, receiver: Receiver
) -> None:
    done = create(hooked)
    assert done.status == "succeeded", done.error
    assert done.result["notified"] is True
    ((headers, body),) = receiver.requests
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Idempotency-Key"] == done.idempotency_key
    assert body == {
        "event": "helpdesk.ticket.created",
        "tenant": "acme",
        "ticket": {
            "key": done.result["key"],
            "title": "VPN drops hourly",
            "priority": "high",
            "contact": None,
        },
    }


def test_the_token_is_in_no_table_of_the_database(
    hooked: TenantHarness, receiver: Receiver
) -> None:
    receiver.statuses = [500]  # one failed attempt too: its error is stored
    done = create(hooked)
    admin = hooked.as_user("ada", "admin")
    closed = hooked.call_tool(
        "bulk_close_tickets",
        {"keys": [done.result["key"]], "reason": "fixed"},
        actor=admin,
        confirm=True,
    )
    hooked.call_tool("crm__create_contact", {"name": "Grace", "email": "grace@navy.example"})
    hooked.run_until_idle()
    assert closed.directive is not None and closed.directive["status"] == "succeeded"
    assert len(receiver.requests) == 3  # the failed try, its retry, the welcome ticket
    assert {h["Authorization"] for h, _ in receiver.requests} == {f"Bearer {TOKEN}"}

    assert tables_holding(hooked.host, "acme", TOKEN) == []
    # The scan does read the stored (encrypted) secret, previews, results and records.
    assert "installation_secrets" in tables_holding(hooked.host, "acme", "webhook_token")
    assert "execution_steps" in tables_holding(hooked.host, "acme", "Close 1 ticket(s)")
    ticket_tables = tables_holding(hooked.host, "acme", done.result["key"])
    assert {"directives", "execution_steps", "records", "signals"} <= set(ticket_tables)


@pytest.mark.parametrize("status", [401, 500])
def test_a_refused_notification_is_retried_then_fails_and_writes_nothing(
    hooked: TenantHarness, receiver: Receiver, status: int
) -> None:
    receiver.statuses = [status] * 10
    done = create(hooked)
    assert done.status == "failed"
    assert done.error["code"] == "helpdesk-webhook-failed"
    assert f"HTTP {status}" in done.error["message"]
    # Every attempt sent the same key, so a receiver that honours it acts once.
    keys = {h["Idempotency-Key"] for h, _ in receiver.requests}
    assert (len(receiver.requests), keys) == (done.max_attempts, {done.idempotency_key})
    assert hooked.records("tickets") == []
    assert hooked.signals("helpdesk.**") == []
    assert tables_holding(hooked.host, "acme", TOKEN) == []


def test_a_notification_refused_once_succeeds_on_retry_with_one_ticket(
    hooked: TenantHarness, receiver: Receiver
) -> None:
    receiver.statuses = [503]
    done = create(hooked)
    assert (done.status, done.attempts) == ("succeeded", 2)
    assert [h["Idempotency-Key"] for h, _ in receiver.requests] == [done.idempotency_key] * 2
    assert [t.key for t in hooked.records("tickets")] == [done.result["key"]]
    assert len(hooked.signals("helpdesk.ticket.created")) == 1


def test_an_unreachable_webhook_fails_the_directive_without_leaking(fp_host: Host) -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{closed.server_address[1]}/"
    closed.server_close()  # nothing listens on the port any more
    tenant = tenant_with(fp_host, {"webhook_url": url, "webhook_token": TOKEN})
    done = create(tenant)
    assert done.status == "failed"
    assert done.error["code"] == "helpdesk-webhook-failed"
    assert "unreachable" in done.error["message"]
    assert tenant.records("tickets") == []
    assert tables_holding(fp_host, "acme", TOKEN) == []


def test_without_a_webhook_url_nobody_is_called(fp_host: Host, receiver: Receiver) -> None:
    tenant = tenant_with(fp_host, {"webhook_token": TOKEN})
    done = create(tenant)
    assert done.result["notified"] is False
    assert receiver.requests == []
