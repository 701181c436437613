"""Host directive types are known to every thread, even during their first import."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import threading
from fleetprompt_host.engine.host_directives import host_directive

barrier = threading.Barrier(8)
found = []

def look():
    barrier.wait()
    found.append(host_directive("package.install") is not None)

threads = [threading.Thread(target=look) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(sum(found), len(found))
"""


def test_threads_looking_up_a_host_type_during_the_first_import_all_find_it() -> None:
    # A fresh interpreter, so the installations layer is imported by these lookups.
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
        ).stdout.split()
        assert out == ["8", "8"]
