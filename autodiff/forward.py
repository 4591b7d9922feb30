"""Forward mode: dual numbers carrying a value and a tangent through the same primitives.

A ``Dual`` holds a primal value and its tangent. Applying a primitive computes the
primal output and pushes the tangents through the JVP rules declared beside the VJP
rules in the table. A trace may carry a *batch* of tangents (leading axis of size B):
``jacfwd`` pushes every input direction at once that way. Elementwise rules broadcast
over the batch axis; any other rule is applied to each direction in turn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .primitive import OPS, Primitive, Trace, Traced

__all__ = ["Dual", "DualTrace"]


class Dual(Traced):
    """A value with its tangent (``_tangent``; ``None`` stands for zero)."""

    __slots__ = ("_tangent",)

    def __init__(self, value: Any, trace: DualTrace, tangent: Any):
        self._value = value
        self._trace = trace
        self._tangent = tangent

    def __repr__(self) -> str:
        return f"Dual({self._value!r}, tangent={self._tangent!r})"


def _plain_shape(x: Any) -> tuple:
    while isinstance(x, Traced):
        x = x._value
    return np.shape(x)


class DualTrace(Trace):
    """One forward-mode transformation; ``batch`` is the number of tangent directions or None."""

    __slots__ = ("batch",)

    def __init__(self, batch: int | None = None) -> None:
        super().__init__()
        self.batch = batch

    def apply(self, prim: Primitive, args: Any, kw: dict) -> Any:
        vals = list(args)
        tangents: list = [None] * len(args)
        lower = False
        any_t = False
        for i, a in enumerate(args):
            if isinstance(a, Traced):
                if a._trace is self:
                    v = a._value
                    vals[i] = v
                    if a._tangent is not None:
                        tangents[i] = a._tangent
                        any_t = True
                    if isinstance(v, Traced):
                        lower = True
                else:
                    lower = True
        ans = prim(*vals, **kw) if lower else prim.fun(*vals, **kw)
        if not any_t:
            return self._wrap(prim, ans, None)
        if self.batch is not None and not prim.batch_jvp:
            t_out = self._per_direction(prim, tangents, ans, vals, kw)
        else:
            t_out = self._jvp(prim, tangents, ans, vals, kw)
        return self._wrap(prim, ans, t_out)

    def _jvp(self, prim: Primitive, tangents: list, ans: Any, vals: list, kw: dict) -> Any:
        if self.batch is not None:
            # align each batched tangent with the output's rank so elementwise rules broadcast
            nd = len(_plain_shape(ans))
            tangents = [
                t if t is None or t.ndim - 1 >= nd else _expand(t, nd - (t.ndim - 1))
                for t in tangents
            ]
        if prim.jvp_all is not None:
            return prim.jvp_all(tangents, ans, *vals, **kw)
        t_out = None
        for pos, t in enumerate(tangents):
            if t is None:
                continue
            rule = prim.jvps[pos] if pos < len(prim.jvps) else None
            if rule is None:
                rule = prim.jvp_rule(pos)  # raises a clear error
            ti = rule(t, ans, *vals, **kw)
            t_out = ti if t_out is None else t_out + ti
        return t_out

    def _per_direction(self, prim: Primitive, tangents: list, ans: Any, vals: list, kw: dict):
        """Apply a rule that knows nothing of batches to each tangent direction."""
        saved, self.batch = self.batch, None
        try:
            outs = [
                self._jvp(prim, [None if t is None else t[b] for t in tangents], ans, vals, kw)
                for b in range(saved)
            ]
        finally:
            self.batch = saved
        if prim.multiple_results:
            return tuple(OPS["stack"](*[o[j] for o in outs], axis=0) for j in range(len(ans)))
        return OPS["stack"](*outs, axis=0)

    def _wrap(self, prim: Primitive, ans: Any, t_out: Any) -> Any:
        if prim.multiple_results:
            ts = [None] * len(ans) if t_out is None else t_out
            outs = [self._one(a, t) for a, t in zip(ans, ts, strict=False)]
            return tuple(outs) if isinstance(ans, tuple) else outs
        return self._one(ans, t_out)

    def _one(self, ans: Any, t: Any) -> Dual:
        if t is not None:
            shape = _plain_shape(ans)
            if self.batch is not None:
                shape = (self.batch,) + shape
            if t.shape != shape:
                t = OPS["broadcast_to"](t, shape)
            dt = _plain_dtype(ans)
            if _plain_dtype(t) != dt and np.issubdtype(dt, np.inexact):
                t = OPS["astype"](t, dt) if _needs_cast(t, dt) else t
        return Dual(ans, self, t)


def _expand(t: Any, n: int) -> Any:
    shape = t.shape
    return OPS["reshape"](t, shape[:1] + (1,) * n + shape[1:])


def _plain_dtype(x: Any) -> np.dtype:
    while isinstance(x, Traced):
        x = x._value
    return np.result_type(x)


def _needs_cast(t: Any, dt: np.dtype) -> bool:
    tdt = _plain_dtype(t)
    return not (np.issubdtype(tdt, np.complexfloating) and np.issubdtype(dt, np.floating))
