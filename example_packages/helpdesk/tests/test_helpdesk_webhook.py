"""The webhook hears about new tickets with the secret token; nothing durable holds it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fleetprompt_sdk import DirectiveStatus

TOKEN = "tok-5ecret-d0-not-store"


class Receiver:
    """A local HTTP endpoint that records each request and answers with ``status``."""

    def __init__(self) -> None:
        self.status = 204
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), json.loads(body)))
                self.send_response(receiver.status)
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


@pytest.fixture
def hooked(make_tenant: Any, receiver: Receiver) -> Any:
    """A tenant whose helpdesk notifies ``receiver`` with the secret token."""
    return make_tenant(config={"webhook_url": receiver.url}, secrets={"webhook_token": TOKEN})


def create(tenant: Any) -> Any:
    ref = tenant.call_tool("create_ticket", {"title": "VPN drops hourly", "priority": "high"})
    tenant.settle()
    return tenant.directives[ref.id]


def test_new_ticket_is_posted_with_the_token_and_the_idempotency_key(
    hooked: Any, receiver: Receiver
) -> None:
    done = create(hooked)
    assert done.status == DirectiveStatus.SUCCEEDED, done.error
    assert done.result["notified"] is True
    ((headers, body),) = receiver.requests
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Idempotency-Key"] == done.idempotency_key
    assert body["ticket"]["key"] == done.result["key"]
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


def test_the_token_appears_in_no_record_signal_directive_or_result(
    hooked: Any, receiver: Receiver
) -> None:
    create(hooked)
    key = next(iter(hooked.data("tickets")))
    hooked.call_tool("bulk_close_tickets", {"keys": [key], "reason": "fixed"}, role="admin")
    hooked.settle()
    assert len(receiver.requests) == 1
    assert hooked.signals and hooked.directives
    assert TOKEN not in hooked.durable_text()


@pytest.mark.parametrize("status", [401, 500])
def test_a_refused_notification_fails_the_directive_and_writes_nothing(
    hooked: Any, receiver: Receiver, status: int
) -> None:
    receiver.status = status
    done = create(hooked)
    assert done.status == DirectiveStatus.FAILED
    assert done.error["code"] == "helpdesk-webhook-failed"
    assert f"HTTP {status}" in done.error["message"]
    assert hooked.data("tickets") == {}
    assert hooked.signals == []
    assert TOKEN not in hooked.durable_text()


def test_an_unreachable_webhook_fails_the_directive_without_leaking(make_tenant: Any) -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{closed.server_address[1]}/"
    closed.server_close()  # nothing listens on the port any more
    tenant = make_tenant(config={"webhook_url": url}, secrets={"webhook_token": TOKEN})
    done = create(tenant)
    assert done.status == DirectiveStatus.FAILED
    assert done.error["code"] == "helpdesk-webhook-failed"
    assert tenant.data("tickets") == {}
    assert TOKEN not in tenant.durable_text()


def test_without_a_webhook_url_nobody_is_called(make_tenant: Any, receiver: Receiver) -> None:
    tenant = make_tenant(secrets={"webhook_token": TOKEN})
    done = create(tenant)
    assert done.result["notified"] is False
    assert receiver.requests == []
