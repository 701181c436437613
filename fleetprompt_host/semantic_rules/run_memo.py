"""Reusing verdicts on identical embedded schemas within one validation run.

Several rules ask the same questions of the same embedded schema (is it valid? do its
``$ref``s resolve? do its defaults fit?), and real manifests repeat schemas (many tools
with the same parameters). Inside :func:`validation_run`, :func:`memoized` answers each
question once per distinct schema. Outside a run nothing is remembered, so a direct
call always computes afresh and no memory outlives the document.

Two schemas are the same when their JSON texts are, keys in the same order: a key that
kept only equal-as-Python values could mix ``1`` with ``1.0`` or ``True``, whose
messages differ. Values that are not plain JSON (tuples, non-string keys, other
objects) or are nested very deeply get no key, and are always computed afresh.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

T = TypeVar("T")

#: Deeper than this many nested containers, a value gets no key (computed afresh).
MAX_KEY_DEPTH = 64
_SCALARS = (str, int, float, bool, type(None))


@dataclass
class _Run:
    #: id(value) -> (value, key); the value is held so that its id stays its own.
    keys: dict[int, tuple[Any, str | None]] = field(default_factory=dict)
    answers: dict[tuple[str, str], Any] = field(default_factory=dict)

    def key(self, value: Any) -> str | None:
        known = self.keys.get(id(value))
        if known is None:
            known = (value, json_key(value))
            self.keys[id(value)] = known
        return known[1]


_RUN: ContextVar[_Run | None] = ContextVar("fleetprompt_validation_run", default=None)


def _plain(value: Any, depth: int) -> bool:
    # Loops rather than all(...): this runs on every embedded schema of every manifest.
    kind = type(value)
    if kind is dict:
        if depth >= MAX_KEY_DEPTH:
            return False
        for key, item in value.items():
            if type(key) is not str or not _plain(item, depth + 1):
                return False
        return True
    if kind is list:
        if depth >= MAX_KEY_DEPTH:
            return False
        return all(_plain(item, depth + 1) for item in value)
    return kind in _SCALARS


def json_key(value: Any) -> str | None:
    """Return the exact JSON text of ``value``, or None when it is not plain JSON."""
    if not _plain(value, 0):
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@contextmanager
def validation_run() -> Iterator[None]:
    """Remember answers about identical values until the block ends."""
    token = _RUN.set(_Run())
    try:
        yield
    finally:
        _RUN.reset(token)


@lru_cache(maxsize=64)
def _needle(key: str) -> str:
    return json.dumps(key, ensure_ascii=False) + ":"


def may_hold_key(value: Any, key: str) -> bool:
    """Return False only when no object anywhere inside ``value`` has the key ``key``.

    Inside a run the answer comes from the value's JSON text (an object key is the only
    string followed by ``:``), which lets rules skip walking schemas that cannot hold
    what they look for; otherwise the answer is True (walk and see).
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
