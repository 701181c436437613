"""Telling an outside system about a new ticket, with a secret bearer token.

The token comes from ``ctx.secret("webhook_token")`` and goes into one HTTP header only:
never into records, signals, directive results or error messages, which are all stored.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from fleetprompt_sdk import FleetPromptError

TIMEOUT_SECONDS = 5.0


class WebhookError(FleetPromptError):
    """The configured webhook did not accept a notification (the directive is retried)."""

    code = "helpdesk-webhook-failed"
    audience = "operator"


def notify(url: str, token: str | None, payload: dict[str, Any], idempotency_key: str) -> None:
    """POST ``payload`` as JSON to ``url``; raise :class:`WebhookError` unless it answers 2xx.

    ``idempotency_key`` is sent as the ``Idempotency-Key`` header: a retried directive
    sends the same key, so a receiver that honours it acts once.
    """
    headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        # The message names the URL and status only; the request (and its token) stays out.
        raise WebhookError(f"helpdesk webhook {url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WebhookError(f"helpdesk webhook {url} unreachable: {reason}") from None
