"""Package code may request only its own directives and its dependencies' member-level ones."""

from __future__ import annotations

from typing import Any

import pytest

from fleetprompt_host.registry import PackageRegistry
from fleetprompt_host.storage.models import DeliveryRow, DirectiveRow
from fleetprompt_sdk import Package
from fleetprompt_sdk.manifest import Manifest
from fleetprompt_sdk.models import Signal

from .conftest import SHOP_MANIFEST, Behaviour, Engine, build_shop


def build_watcher(target: str) -> Package:
    """A package whose handler requests ``target`` whenever a shop order is placed."""
    watcher = Package("watcher")

    @watcher.on_signal("react")
    def react(ctx: Any, signal: Signal) -> None:
        ctx.request_directive(target, {} if target != "shop.order.place" else {"item": "x"})

    return watcher


def watcher_manifest(depends_on_shop: bool) -> Manifest:
    return Manifest.model_validate(
        {
            "name": "watcher",
            "version": "1.0",
            "display_name": "Watcher",
            "permissions": ["signals:subscribe", "directives:request"],
            "dependencies": [{"name": "shop"}] if depends_on_shop else [],
            "signals": {"subscribes": [{"handler": "react", "pattern": "shop.order.placed"}]},
        }
    )


@pytest.fixture(
    params=[
        ("shop.noop", False, "refused"),
        ("shop.order.purge", False, "refused"),
        ("shop.order.purge", True, "refused"),  # admin-only: no package may ask for it
        ("shop.noop", True, "allowed"),
    ],
    ids=["other-package", "other-admin", "dependency-admin", "dependency-member"],
)
def case(request: pytest.FixtureRequest) -> tuple[str, bool, str]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def registry(behaviour: Behaviour, case: tuple[str, bool, str]) -> PackageRegistry:
    target, depends, _ = case
    reg = PackageRegistry()
    reg.register(build_shop(behaviour), Manifest.model_validate(SHOP_MANIFEST))
    reg.register(build_watcher(target), watcher_manifest(depends))
    return reg


def test_a_handler_cannot_request_directives_outside_its_scope(
    engine: Engine, case: tuple[str, bool, str]
) -> None:
    target, _, verdict = case
    engine.install("watcher")
    engine.request()  # shop.order.place -> shop.order.placed -> watcher:react
    engine.run_pending()

    requested = engine.count(DirectiveRow, DirectiveRow.type == target)
    [delivery] = [d for d in engine.deliveries() if d.handler == "watcher:react"]
    if verdict == "allowed":
        assert requested == 1
        assert delivery.status == "done"
    else:
        assert requested == 0
        assert delivery.status == "dead"
        assert delivery.last_error is not None
        assert delivery.last_error["code"] == "directive-out-of-scope"
        assert engine.count(DeliveryRow, DeliveryRow.status == "done") >= 1
