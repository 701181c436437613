"""Which handlers receive a signal type: manifest subscriptions of the active packages.

A handler is named ``"package:handler"``. The answer depends only on the registry's
loaded packages, the set of packages active in the tenant and the type, so it is cached
per registry (package code loaded later invalidates the cache through the identity of the
loaded package objects).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

from fleetprompt_host.registry import LoadedPackage, PackageRegistry
from fleetprompt_sdk.naming import pattern_matches

_CACHE_LIMIT = 4096
_caches: weakref.WeakKeyDictionary[PackageRegistry, dict[object, tuple[str, ...]]] = (
    weakref.WeakKeyDictionary()
)


def handler_id(package: str, handler: str) -> str:
    """Return the delivery handler name ``package:handler``."""
    return f"{package}:{handler}"


def split_handler_id(value: str) -> tuple[str, str]:
    """Split ``package:handler``; the package part is empty when there is no colon."""
    package, _, handler = value.partition(":")
    return (package, handler) if handler else ("", package)


def loaded(registry: PackageRegistry, names: Iterable[str]) -> list[LoadedPackage]:
    """Return the loaded packages among ``names`` (unknown or broken ones are skipped)."""
    found = [registry.find(name) for name in sorted(names)]
    return [p for p in found if isinstance(p, LoadedPackage)]


def subscribers(registry: PackageRegistry, active: frozenset[str], type_: str) -> tuple[str, ...]:
    """Return the handlers of active packages whose subscription pattern matches ``type_``."""
    packages = loaded(registry, active)
    key = (tuple((p.name, id(p)) for p in packages), type_)
    cache = _caches.setdefault(registry, {})
    hit = cache.get(key)
    if hit is not None:
        return hit
    result: list[str] = []
    for package in packages:
        for sub in package.manifest.signals.subscribes:
            name = handler_id(package.name, sub.handler)
            if name not in result and pattern_matches(sub.pattern, type_):
                result.append(name)
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = tuple(result)
    return cache[key]


def any_subscriber(registry: PackageRegistry, type_: str) -> bool:
    """True when some usable package of the registry subscribes to ``type_``, installed or not.

    When none does, fanout needs no look at the tenant's installations (one query saved
    per emit). This loads every discovered package once per process.
    """
    key = (registry.generation, "*", type_)
    cache = _caches.setdefault(registry, {})
    hit = cache.get(key)
    if hit is None:
        hit = tuple(
            handler_id(p.name, sub.handler)
            for p in registry.packages.values()
            for sub in p.manifest.signals.subscribes
            if pattern_matches(sub.pattern, type_)
        )
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = hit
    return bool(hit)
