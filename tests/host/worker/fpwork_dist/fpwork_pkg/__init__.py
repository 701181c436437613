"""Handlers of the fpwork test package (see tests/host/worker/conftest.py).

Every processed item writes one record and emits one signal, whose delivery requests one
``ack`` directive under a key unique to that delivery run: a delivery committed twice would
leave two acks."""

import os
import time
import uuid
from pathlib import Path
from typing import Any

from fleetprompt_sdk import Package

package = Package("fpwork")


@package.directive("fpwork.item.process")
def process(ctx: Any, directive: Any) -> Any:
    """Write one record and emit one signal for item ``n``."""
    ctx.records.put("items", {"n": directive.params["n"], "directive": ctx.directive_id})
    ctx.emit("fpwork.item.processed", {"n": directive.params["n"]})
    return {"n": directive.params["n"]}


@package.directive("fpwork.item.write")
def write(ctx: Any, directive: Any) -> Any:
    """Write one record for item ``n`` (its only effect)."""
    ctx.records.put("items", {"n": directive.params["n"], "directive": ctx.directive_id})
    return None


@package.directive("fpwork.item.ack")
def ack(ctx: Any, directive: Any) -> Any:
    """Nothing to do: the directive itself is the effect."""
    return None


@package.directive("fpwork.slow.run")
def slow(ctx: Any, directive: Any) -> Any:
    """Say who started, wait for the gate file, then write and emit (after the wait, so a
    stopped run holds no lock)."""
    Path(directive.params["started"], f"{os.getpid()}-{ctx.attempt}").write_text(str(time.time()))
    deadline = time.monotonic() + 120
    while not Path(directive.params["gate"]).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    ctx.records.put("items", {"n": directive.params["n"], "pid": os.getpid()})
    ctx.emit("fpwork.slow.done", {"n": directive.params["n"], "pid": os.getpid()})
    return {"pid": os.getpid()}


@package.directive("fpwork.noop")
def noop(ctx: Any, directive: Any) -> Any:
    """Do nothing."""
    return None


@package.directive("fpwork.clock")
def clock(ctx: Any, directive: Any) -> Any:
    """Record when the handler started (wall clock, compared with the request time)."""
    Path(directive.params["dir"], ctx.directive_id).write_text(repr(time.time()))
    return None


@package.on_signal("on_processed")
def on_processed(ctx: Any, signal: Any) -> None:
    """Request one ack per delivery run: a random key makes a second commit visible."""
    ctx.request_directive(
        "fpwork.item.ack", {"n": signal.data["n"]}, key=f"ack:{signal.id}:{uuid.uuid4().hex}"
    )
