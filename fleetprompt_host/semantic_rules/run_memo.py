"""Reusing verdicts on identical embedded schemas within one validation run.

Several rules ask the same questions of the same embedded schema (is it valid? do its
``$ref``s resolve? do its defaults fit?), and real manifests repeat schemas (many tools
with the same parameters). Inside :func:`validation_run`, :func:`memoized` answers each
question once per distinct schema. Outside a run nothing is remembered, so a direct
call always computes afresh and no memory outlives the document.

Two schemas are the same when they are equal down to the exact type and order of every
part: ``1``, ``1.0`` and ``True`` are equal in Python but get different messages, and
a tuple is not a JSON array to jsonschema. :mod:`marshal` (format 2, which writes no
back-references) encodes exactly that in C: it tags every value with its exact type,
keeps dict order, and refuses subclasses and other objects, so its output is the key.
Values it refuses, or nested too deeply for it, get no key and are computed afresh.
"""

from __future__ import annotations

import marshal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

T = TypeVar("T")

#: marshal's format 2: no back-references, so equal values always encode alike.
_FORMAT = 2


@dataclass
class _Run:
    #: id(value) -> (value, key); the value is held so that its id stays its own.
    keys: dict[int, tuple[Any, bytes | None]] = field(default_factory=dict)
    answers: dict[tuple[str, bytes], Any] = field(default_factory=dict)

    def key(self, value: Any) -> bytes | None:
        known = self.keys.get(id(value))
        if known is None:
            known = (value, exact_key(value))
            self.keys[id(value)] = known
        return known[1]


_RUN: ContextVar[_Run | None] = ContextVar("fleetprompt_validation_run", default=None)


def exact_key(value: Any) -> bytes | None:
    """Return bytes that only values equal in every exact type and order share, or None."""
    try:
        return marshal.dumps(value, _FORMAT)
    except ValueError:  # an object marshal refuses, or nesting too deep for it
        return None


@contextmanager
def validation_run() -> Iterator[None]:
    """Remember answers about identical values until the block ends."""
    token = _RUN.set(_Run())
    try:
        yield
    finally:
        _RUN.reset(token)


@lru_cache(maxsize=64)
def _needle(key: str) -> bytes:
    return marshal.dumps(key, _FORMAT)


def may_hold_key(value: Any, key: str) -> bool:
    """Return False only when no object anywhere inside ``value`` has the key ``key``.

    Inside a run the answer comes from the value's key, which holds the encoding of every
    string in the value (keys, and values too: those only make the answer a needless
    True). That lets rules skip walking schemas that cannot hold what they look for;
    outside a run, or without a key, the answer is True (walk and see).
    """
    run = _RUN.get()
    text = None if run is None else run.key(value)
    return text is None or _needle(key) in text


def memoized(question: str, value: Any, compute: Callable[[], T]) -> T:
    """Return ``compute()``, reusing the answer to ``question`` for an identical ``value``.

    ``compute`` must depend on nothing but ``value``; an answer that raised is not
    remembered (the next call raises again). Callers must not mutate the answer.
    """
    run = _RUN.get()
    key = None if run is None else run.key(value)
    if run is None or key is None:
        return compute()
    slot = (question, key)
    if slot in run.answers:
        return run.answers[slot]  # type: ignore[no-any-return]
    answer = compute()
    run.answers[slot] = answer
    return answer
