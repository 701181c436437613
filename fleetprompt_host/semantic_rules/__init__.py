"""The semantic rules of the manifest: what a JSON Schema cannot express.

Each rule is a function ``(ManifestView) -> Iterator[Problem]`` in the module of its
concept; :func:`semantic_problems` runs them all on one document, and
:mod:`.graph` runs the rules that need several manifests at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial

from fleetprompt_sdk.errors import Problem

from . import embedded, identity, naming_rules, permissions, references, uniqueness
from .run_memo import validation_run
from .view import ManifestView

Rule = Callable[[ManifestView], Iterable[Problem]]

RULES: tuple[Rule, ...] = (
    *identity.RULES,
    *naming_rules.RULES,
    *uniqueness.RULES,
    *embedded.RULES,
    *references.RULES,
    *permissions.RULES,
)


def guarded(rule: Callable[[], Iterable[Problem]], name: str) -> Iterator[Problem]:
    """Run ``rule``; a rule that fails unexpectedly becomes a problem, never an exception.

    Validation must report on any input, so one broken rule may not hide the findings of
    the others (and the fuzz tests assert that this problem never appears).
    """
    try:
        yield from list(rule())
    except RecursionError:
        yield Problem(
            "validator-internal-error", "", f"rule {name} gave up: input nested too deeply"
        )
    except Exception as exc:
        yield Problem(
            "validator-internal-error", "", f"rule {name} failed: {type(exc).__name__}: {exc}"
        )


def semantic_problems(data: object) -> list[Problem]:
    """Return every semantic problem of one raw manifest document."""
    view = ManifestView(data)
    problems: list[Problem] = []
    # One run: rules asking the same question of the same embedded schema share the answer.
    with validation_run():
        for rule in RULES:
            problems.extend(guarded(partial(rule, view), rule.__name__))
    return problems


__all__ = ["RULES", "ManifestView", "guarded", "semantic_problems"]
