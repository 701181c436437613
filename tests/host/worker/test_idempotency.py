"""Idempotency under concurrency: several processes emit the same signal dedupe key and
request the same directive idempotency key at the same moment; each yields one row."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from fleetprompt_host.storage.models import DeliveryRow, DirectiveRow, SignalRow

if TYPE_CHECKING:
    from conftest import Lab

PROCESSES = 4

SCRIPT = """
import json, sys, time
from pathlib import Path
from fleetprompt_host.discovery import discover
from fleetprompt_host.engine.directives import DirectiveRequest, request
from fleetprompt_host.engine.signals import SignalInput, emit
from fleetprompt_host.storage import Database

url, site, ready, go = sys.argv[1:5]
registry = discover([site], enabled={"fpwork"})
registry.get("fpwork")
db = Database(url)
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.001)
signal, signal_created = emit(
    db, registry, "acme",
    SignalInput(type="fpwork.item.processed", data={"n": 1}, source="tests", dedupe_key="once"),
)
directive, directive_created = request(
    db, registry, "acme",
    DirectiveRequest("fpwork.item.write", {"n": 1}, actor="system:tests", key="once"),
)
print(json.dumps({
    "signal": signal.id, "signal_created": signal_created,
    "directive": directive.id, "directive_created": directive_created,
}))
"""


def test_one_key_emitted_and_requested_from_several_processes_at_once_yields_one_row(
    lab: Lab, wait_until: Callable[..., Any]
) -> None:
    go = lab.tmp / "go"
    ready = [lab.tmp / f"ready-{i}" for i in range(PROCESSES)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, lab.url, str(lab.site), str(mark), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=lab.env(),
        )
        for mark in ready
    ]
    try:
        wait_until(lambda: all(mark.exists() for mark in ready), what="every process to be ready")
        go.touch()
        outputs = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    assert [p.returncode for p in procs] == [0] * PROCESSES, [err[-2000:] for _, err in outputs]
    results = [json.loads(out) for out, _ in outputs]
    assert sum(r["signal_created"] for r in results) == 1
    assert sum(r["directive_created"] for r in results) == 1
    assert len({r["signal"] for r in results}) == 1
    assert len({r["directive"] for r in results}) == 1
    assert lab.scalars(select(SignalRow.id).where(SignalRow.dedupe_key == "once")) == [
        results[0]["signal"]
    ]
    assert lab.scalars(select(DirectiveRow.id).where(DirectiveRow.idempotency_key == "once")) == [
        results[0]["directive"]
    ]
    # The signal fanned out once: no duplicate deliveries from the losing emitters.
    assert len(lab.scalars(select(DeliveryRow.id))) == 1
