"""Printing benchmark figures next to their same-run baselines."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timeit(fn: Callable[[], object], *, repeat: int, warmup: int = 1) -> float:
    """Return the median seconds per call of ``fn`` over ``repeat`` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def ratio_line(
    name: str,
    value: float,
    baseline_name: str,
    baseline: float,
    unit: str = "ms",
    target: str = "",
) -> str:
    """Format ``name: value (baseline: value) ratio``; values are seconds shown in ``unit``."""
    scale = {"ms": 1e3, "us": 1e6, "s": 1.0}[unit]
    ratio = value / baseline if baseline else float("inf")
    line = (
        f"{name:<44} {value * scale:10.3f} {unit}   "
        f"{baseline_name}: {baseline * scale:10.3f} {unit}   ratio {ratio:6.2f}x"
    )
    return line + (f"   (target {target})" if target else "")


def report(*args: object, **kwargs: object) -> None:
    """Print one ratio line (see :func:`ratio_line`)."""
    print(ratio_line(*args, **kwargs), flush=True)  # type: ignore[arg-type]
