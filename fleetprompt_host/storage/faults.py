"""A test hook that freezes a process at a named point, so a test can kill it there.

Set ``FLEETPROMPT_PAUSE_AT=<point>:<marker path>``: when the process reaches ``<point>``
it creates the marker file and waits (at most ten minutes) until the file is removed,
then carries on. Crash-safety tests SIGKILL a real ``fleetprompt`` process while it waits
there; race tests remove the marker to let it finish.
Unset (always, outside tests), :func:`pause_point` costs one dictionary lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_ENV = "FLEETPROMPT_PAUSE_AT"
MAX_PAUSE_SECONDS = 600.0


def pause_point(name: str) -> None:
    """Pause here when ``FLEETPROMPT_PAUSE_AT`` names ``name`` (see module doc)."""
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return
    point, _, marker = spec.partition(":")
    if point != name or not marker:
        return
    path = Path(marker)
    path.write_text(str(os.getpid()))
    deadline = time.monotonic() + MAX_PAUSE_SECONDS
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
