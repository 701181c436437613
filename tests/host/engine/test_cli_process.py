"""``fleetprompt signals tail --follow`` in a real process: new signals appear, Ctrl-C ends it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Any


def _lines(stream: Any, into: queue.Queue[str]) -> None:
    for raw in iter(stream.readline, b""):
        into.put(raw.decode())


def test_tail_follow_prints_new_signals_as_they_commit_and_stops_on_ctrl_c(
    engine: Any, tmp_path: Any
) -> None:
    engine.emit("shop.order.noted", {"n": 0})
    env = {
        **os.environ,
        "FLEETPROMPT_DATABASE_URL": engine.db.url,
        "FLEETPROMPT_HOME": str(tmp_path / "home"),
    }
    args = ["signals", "tail", "--tenant", "acme", "--follow", "--json", "--interval", "0.05"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetprompt_host", *args, "-n", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    try:
        seen = [json.loads(lines.get(timeout=30))["seq"]]
        engine.emit("shop.order.noted", {"n": 1})
        engine.emit("shop.order.placed", {"order": "2"})
        seen += [json.loads(lines.get(timeout=30))["seq"] for _ in range(2)]
        assert seen == [1, 2, 3]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None and b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        deadline = time.monotonic() + 5
        while reader.is_alive() and time.monotonic() < deadline:
            reader.join(0.1)
