"""Chat budgets: per-turn limits and a per-tenant daily token and cost budget.

Both are enforced *before* each model call, so a turn never spends past a limit by
starting another call. The daily budget counts the tokens and cost of every recorded
model call of the tenant since midnight UTC (the ``llm_call`` execution steps); a turn
reads that total once when it starts and adds its own calls as it goes, so two turns
running at the same moment can overshoot by at most one call each.

Configuration: ``ChatLimits`` fields, set by ``fleetprompt chat`` options or these
environment variables: ``FLEETPROMPT_CHAT_MAX_ROUNDS``, ``FLEETPROMPT_CHAT_MAX_TURN_TOKENS``,
``FLEETPROMPT_DAILY_TOKEN_BUDGET`` and ``FLEETPROMPT_DAILY_COST_BUDGET`` (USD).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

from fleetprompt_sdk.errors import ConfigError, FleetPromptError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DEFAULT_MAX_ROUNDS = 8


class BudgetExhaustedError(FleetPromptError):
    """A chat budget does not allow another model call."""

    code = "budget-exhausted"
    audience = "operator"


@dataclass(frozen=True)
class ChatLimits:
    """How much one turn and one tenant per day may spend."""

    max_rounds: int = DEFAULT_MAX_ROUNDS
    max_turn_tokens: int | None = None
    daily_tokens: int | None = None
    daily_cost: float | None = None

    @classmethod
    def from_env(cls, **overrides: int | float | None) -> ChatLimits:
        """Return limits from the environment, with explicit (non-None) ``overrides``."""
        values: dict[str, int | float | None] = {
            "max_rounds": _env_number("FLEETPROMPT_CHAT_MAX_ROUNDS", int) or DEFAULT_MAX_ROUNDS,
            "max_turn_tokens": _env_number("FLEETPROMPT_CHAT_MAX_TURN_TOKENS", int),
            "daily_tokens": _env_number("FLEETPROMPT_DAILY_TOKEN_BUDGET", int),
            "daily_cost": _env_number("FLEETPROMPT_DAILY_COST_BUDGET", float),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        limits = cls(**values)  # type: ignore[arg-type]
        if limits.max_rounds < 1:
            raise ConfigError("the round limit must be at least 1", code="invalid-limit")
        return limits


def _env_number(name: str, kind: type[int] | type[float]) -> int | float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number", code="invalid-limit") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative", code="invalid-limit")
    return value


@dataclass
class Usage:
    """Tokens and cost spent."""

    tokens: int = 0
    cost: float = 0.0

    def add(self, tokens: int, cost: float | None) -> None:
        """Count one model call."""
        self.tokens += tokens
        self.cost += cost or 0.0


def usage_today(session: Session, now: datetime | None = None) -> Usage:
    """Return the tokens and cost of the tenant's model calls since midnight UTC."""
    from sqlalchemy import func, select

    from fleetprompt_host.storage.models import ExecutionStepRow

    moment = now or datetime.now(UTC)
    midnight = datetime.combine(moment.date(), time(0), tzinfo=UTC)
    step = ExecutionStepRow
    row = session.execute(
        select(
            func.coalesce(func.sum(step.tokens_in), 0)
            + func.coalesce(func.sum(step.tokens_out), 0),
            func.coalesce(func.sum(step.cost), 0.0),
        ).where(step.kind == "llm_call", step.started_at >= midnight)
    ).one()
    return Usage(tokens=int(row[0] or 0), cost=float(row[1] or 0.0))


class Budget:
    """Checks the limits before each model call of one turn."""

    def __init__(self, limits: ChatLimits, today: Usage) -> None:
        self.limits = limits
        self.today = today
        self.turn = Usage()

    def check(self) -> None:
        """Raise :class:`BudgetExhaustedError` when another model call is not allowed."""
        limits = self.limits
        if limits.max_turn_tokens is not None and self.turn.tokens >= limits.max_turn_tokens:
            raise BudgetExhaustedError(
                f"this turn used {self.turn.tokens} tokens, its limit is "
                f"{limits.max_turn_tokens}: ask again to continue",
                code="turn-token-budget-exhausted",
            )
        if limits.daily_tokens is not None and self.today.tokens >= limits.daily_tokens:
            raise BudgetExhaustedError(
                f"the tenant used {self.today.tokens} tokens today, its daily budget is "
                f"{limits.daily_tokens}",
                code="daily-token-budget-exhausted",
            )
        if limits.daily_cost is not None and self.today.cost >= limits.daily_cost:
            raise BudgetExhaustedError(
                f"the tenant spent ${self.today.cost:.4f} today, its daily budget is "
                f"${limits.daily_cost:.4f}",
                code="daily-cost-budget-exhausted",
            )

    def spend(self, tokens: int, cost: float | None) -> None:
        """Count a finished model call against the turn and the day."""
        self.turn.add(tokens, cost)
        self.today.add(tokens, cost)
