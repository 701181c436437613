"""Run every benchmark in this directory: ``python bench/run.py [--quick] [FILTER...]``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    """Run each ``*_bench.py`` in a fresh interpreter; return non-zero if any failed."""
    quick = "--quick" in argv
    filters = [a for a in argv if not a.startswith("-")]
    scripts = sorted(HERE.glob("*_bench.py"))
    if filters:
        scripts = [s for s in scripts if any(f in s.name for f in filters)]
    failed: list[str] = []
    for script in scripts:
        print(f"== {script.stem} ==", flush=True)
        started = time.perf_counter()
        args = [sys.executable, str(script)] + (["--quick"] if quick else [])
        if subprocess.run(args).returncode != 0:
            failed.append(script.stem)
        print(f"   ({time.perf_counter() - started:.1f}s)\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
