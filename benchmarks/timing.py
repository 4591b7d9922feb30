"""Measuring: interleaved min-of-repeats timing and tracemalloc peak memory."""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable


def interleaved_times(
    fns: dict[str, Callable[[], object]],
    repeats: int = 7,
    number: int = 1,
    min_time: float = 0.0,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Best time per call of each function, measured round-robin so load affects all alike.

    Each round calls every function ``number`` times in turn; the minimum over ``repeats``
    rounds (per call) is returned. Before its timed calls, each function runs once untimed,
    and each round starts one function later in the order: otherwise the first function
    of a round always ran right after the last one of the previous round, with the caches
    and allocator state that one left. Measured on LeNet-5 float64 with the three peers
    timed in the same rounds, that made the hand-written code (timed first) 8-10% slower
    than in rounds without the peers, and AD/hand 0.93-1.00 instead of 1.06-1.12; with the
    warm-up call and the rotation both sets of rounds give 1.0-1.1.

    With ``min_time`` > 0, ``number`` grows until one round of the slowest function takes at
    least that long. ``clock`` may be ``time.process_time`` (CPU time of this process:
    steadier on a loaded machine).
    """
    for f in fns.values():  # warm up
        f()
    if min_time > 0:
        slowest = max(_once(f, clock) for f in fns.values())
        number = max(number, int(min_time / max(slowest, 1e-9)) + 1)
    best = {name: float("inf") for name in fns}
    gc_was = gc.isenabled()
    gc.disable()
    try:
        items = list(fns.items())
        for r in range(repeats):
            k = r % max(len(items), 1)
            for name, f in items[k:] + items[:k]:
                f()
                start = clock()
                for _ in range(number):
                    f()
                best[name] = min(best[name], (clock() - start) / number)
    finally:
        if gc_was:
            gc.enable()
    return best


def _once(f: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> float:
    start = clock()
    f()
    return clock() - start


def peak_memory(f: Callable[[], object]) -> int:
    """Peak bytes allocated (Python and NumPy, via tracemalloc) while ``f()`` runs."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        f()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base
