"""Where the AD time goes: exclusive time per primitive, split into forward and backward.

``OpProfiler`` wraps, for the duration of a ``with`` block, every primitive's NumPy function
and VJP rules, the tape's ``unbroadcast`` and its backward sweep, and charges each call's
own time (minus the calls it makes) to a label:

- ``fwd:<op>`` / ``bwd:<op>``: the NumPy function of a primitive, in the forward pass or
  inside a VJP rule during the backward sweep;
- ``vjp:<op>[i]``: the rule's own Python and NumPy work for argument i (plain NumPy
  expressions in the rule count here, primitives it calls count as ``bwd:``);
- ``unbroadcast``: summing cotangents down to broadcast inputs;
- ``sweep``: the backward loop itself, including cotangent accumulation (``prev + g``);
- ``other``: the rest of the run (Python of the model, API, pytree handling).

The wrappers cost about a microsecond per call, so per-op numbers are inflated by that on
small ops; compare labels against each other and against the hand-written code's lines.
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Callable, Iterator

from autodiff import OPS
from autodiff import tape as _tape

__all__ = ["OpProfiler", "profile"]


class OpProfiler:
    """Accumulates exclusive seconds and call counts per label (see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.seconds: collections.Counter = collections.Counter()
        self.calls: collections.Counter = collections.Counter()
        self._stack: list = []
        self._phase = "fwd"

    def _timed(self, fn: Callable, label: Callable[[], str]) -> Callable:
        stack, seconds, calls, clock = self._stack, self.seconds, self.calls, self.clock

        def wrapper(*args, **kw):
            frame = [clock(), 0.0]
            stack.append(frame)
            try:
                return fn(*args, **kw)
            finally:
                stack.pop()
                dt = clock() - frame[0]
                name = label()
                seconds[name] += dt - frame[1]
                calls[name] += 1
                if stack:
                    stack[-1][1] += dt

        return wrapper

    @contextlib.contextmanager
    def installed(self) -> Iterator[OpProfiler]:
        """Wrap every primitive, ``unbroadcast`` and the sweep; restore them on exit."""
        saved = [(p, p.fun, p.vjps, p.vjp_all) for p in OPS.values()]
        phase = self._phase_of
        for name, p in OPS.items():
            p.fun = self._timed(p.fun, lambda name=name: f"{phase()}:{name}")
            p.vjps = tuple(
                self._timed(r, lambda name=name, i=i: f"vjp:{name}[{i}]")
                for i, r in enumerate(p.vjps)
            )
            if p.vjp_all is not None:
                p.vjp_all = self._timed(p.vjp_all, lambda name=name: f"vjp:{name}")
        unbroadcast, backward = _tape.unbroadcast, _tape.Tape.backward
        _tape.unbroadcast = self._timed(unbroadcast, lambda: "unbroadcast")
        timed_backward = self._timed(backward, lambda: "sweep")

        def sweep(tape, *args, **kw):
            self._phase = "bwd"
            try:
                return timed_backward(tape, *args, **kw)
            finally:
                self._phase = "fwd"

        _tape.Tape.backward = sweep
        try:
            yield self
        finally:
            for p, fun, vjps, vjp_all in saved:
                p.fun, p.vjps, p.vjp_all = fun, vjps, vjp_all
            _tape.unbroadcast, _tape.Tape.backward = unbroadcast, backward

    def _phase_of(self) -> str:
        return self._phase

    def table(self, per: int = 1, top: int = 20, total: float | None = None) -> list[tuple]:
        """(label, microseconds per run, calls per run) of the ``top`` labels, plus "other"."""
        rows = [(k, v / per * 1e6, self.calls[k] / per) for k, v in self.seconds.most_common(top)]
        if total is not None:
            rows.append(("other", (total - sum(self.seconds.values())) / per * 1e6, 0))
        return rows


def profile(fn: Callable[[], object], runs: int = 20, top: int = 20,
            clock: Callable[[], float] = time.perf_counter) -> list[tuple]:  # fmt: skip
    """Per-label table of ``fn()`` (see ``OpProfiler.table``), averaged over ``runs`` runs.

    ``clock=time.thread_time`` counts CPU time only (robust to other processes' load, but
    each reading costs about 0.4 us more than ``perf_counter``).

    >>> import numpy as np, autodiff.numpy as anp
    >>> from autodiff import grad
    >>> rows = profile(lambda: grad(lambda x: anp.sum(anp.sin(x)))(np.ones(3)), runs=2)
    >>> sorted(r[0] for r in rows if r[0].startswith("vjp"))
    ['vjp:sin[0]', 'vjp:sum[0]']
    """
    fn()
    prof = OpProfiler(clock)
    with prof.installed():
        start = clock()
        for _ in range(runs):
            fn()
        total = clock() - start
    return prof.table(runs, top, total)
