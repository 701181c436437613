"""Confirmation of high-impact tools: who says yes, and to exactly what.

A tool flagged requires-confirmation runs only when one of these lets it through:

- a grant for this tool and the hash of these exact validated arguments (given by an
  API client that showed the user the ``confirmation_required`` event); a grant is used
  once, and different arguments need a new one;
- the policy flag (``--yes`` / ``--allow-confirmation``), for non-interactive use by an
  operator who accepts every confirmation in advance;
- the user, asked interactively with the preview of what will happen.

Otherwise the call is refused with a clear reason: ``confirmation-declined`` when the
user said no, ``confirmation-required`` when nobody could be asked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConfirmationRequest:
    """What the user is asked to confirm: the call, its exact arguments and a preview."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    arguments_hash: str
    preview: str
    directive_type: str | None = None

    def to_event(self) -> dict[str, Any]:
        """Return the data of a ``confirmation_required`` event."""
        return {
            "id": self.call_id,
            "name": self.name,
            "arguments": self.arguments,
            "arguments_hash": self.arguments_hash,
            "preview": self.preview,
            "directive_type": self.directive_type,
        }


@dataclass(frozen=True)
class Refusal:
    """Why a confirmation-required call did not run."""

    code: str
    message: str


Ask = Callable[[ConfirmationRequest], bool]


class ConfirmationPolicy:
    """Decides confirmation-required calls (see the module doc)."""

    def __init__(
        self,
        ask: Ask | None = None,
        *,
        allow: bool = False,
        granted: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.ask = ask
        self.allow = allow
        self._granted: set[tuple[str, str]] = set(granted)
        self._lock = threading.Lock()

    def grant(self, name: str, arguments_hash: str) -> None:
        """Confirm in advance one call of ``name`` with exactly these arguments."""
        with self._lock:
            self._granted.add((name, arguments_hash))

    def needs_asking(self, request: ConfirmationRequest) -> bool:
        """True when neither a grant nor the policy flag covers ``request``."""
        with self._lock:
            granted = (request.name, request.arguments_hash) in self._granted
        return not granted and not self.allow

    def decide(self, request: ConfirmationRequest) -> tuple[str | None, Refusal | None]:
        """Return ``(confirmed_by, None)`` or ``(None, refusal)``."""
        with self._lock:
            key = (request.name, request.arguments_hash)
            if key in self._granted:
                self._granted.discard(key)
                return "grant", None
        if self.allow:
            return "policy", None
        if self.ask is None:
            return None, Refusal(
                "confirmation-required",
                f"tool {request.name!r} needs the user's confirmation and nobody can be asked "
                "here; it was not run (an operator may allow it with --allow-confirmation)",
            )
        if self.ask(request):
            return "user", None
        return None, Refusal(
            "confirmation-declined",
            f"the user declined {request.name!r} with these arguments; it was not run",
        )
