"""Reverse mode: the tape (a Wengert list) and the backward sweep.

Each primitive applied to a traced value appends one node to its tape:
``(prim, args, kw, ans, parents)`` where ``parents`` lists ``(position, node id)``
for the arguments traced on this tape. ``backward`` walks the nodes in reverse
with a plain loop (no recursion, so chains of any length work), sums each
cotangent down to its input's shape, and frees every node as soon as the sweep
has passed it. A weight matrix used by many products (a recurrence's ``Wh``) gets
its cotangent as one stacked product at the end of the sweep (``_WeightProducts``).
There is no global tape: a tape is reached only through its tracers, so threads
never share state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import primitive
from .primitive import KIND_MATMUL, KIND_SCATTER, OPS, Primitive, Trace, Traced

__all__ = ["Tape", "Tracer", "unbroadcast"]


class Tracer(Traced):
    """A value recorded on a tape: ``_value`` (array or lower-level traced) and node id."""

    __slots__ = ("_id",)

    def __init__(self, value: Any, trace: Tape, node_id: int):
        self._value = value
        self._trace = trace
        self._id = node_id

    def __repr__(self) -> str:
        return f"Tracer({self._value!r})"


primitive._TRACER[0] = Tracer


class _Select:
    """Pseudo-primitive for one output of a multiple-result primitive."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


_SELECTS = [_Select(i) for i in range(64)]
_nd = np.ndarray
_TRACED_TYPES: tuple = (Traced,)


def unbroadcast(g: Any, shape: tuple, prim: Primitive | None = None, pos: int = 0) -> Any:
    """Sum cotangent ``g`` over the axes along which an input of ``shape`` was broadcast."""
    gshape = g.shape
    if gshape == shape:
        return g
    plan = _UNBROADCAST.get((gshape, shape))
    if plan is None:
        plan = _unbroadcast_plan(gshape, shape, prim, pos)
    axes, reshape = plan
    if type(g) is np.ndarray:  # plain: nothing to record, call the ufunc's reduce directly
        g = _add_reduce(g, axis=axes, keepdims=True)  # keepdims: an array even for shape ()
        return g.reshape(shape) if reshape else g
    g = OPS["sum"](g, axis=axes, keepdims=True)
    return OPS["reshape"](g, shape) if reshape else g


# (cotangent shape, input shape) -> (axes to sum, whether the kept-dims sum needs a reshape);
# the shapes of a model repeat every step, so each pair is worked out once
_UNBROADCAST: dict = {}
_add_reduce = np.add.reduce


def _unbroadcast_plan(gshape: tuple, shape: tuple, prim: Primitive | None, pos: int) -> tuple:
    ndiff = len(gshape) - len(shape)
    if ndiff < 0 or any(s != 1 and s != gs for s, gs in zip(shape, gshape[ndiff:], strict=False)):
        name = prim.name if isinstance(prim, Primitive) else "a primitive"
        raise ValueError(
            f"VJP of anp.{name} returned shape {gshape} for argument {pos} of shape {shape}."
        )
    axes = tuple(range(ndiff)) + tuple(
        i + ndiff for i, s in enumerate(shape) if s == 1 and gshape[i + ndiff] != 1
    )
    kept = tuple(1 if i in axes else s for i, s in enumerate(gshape))
    plan = (axes, kept != shape)
    if len(_UNBROADCAST) < 4096:
        _UNBROADCAST[(gshape, shape)] = plan
    return plan


class Tape(Trace):
    """One reverse-mode transformation: the recorded nodes and their leaves."""

    __slots__ = ("nodes",)

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list = []

    def leaves(self, values: list) -> list[Tracer]:
        """New input variables on this tape, with consecutive node ids."""
        nodes = self.nodes
        start = len(nodes)
        nodes.extend([None] * len(values))
        return [Tracer(v, self, i) for i, v in enumerate(values, start)]

    def apply(self, prim: Primitive, args: Any, kw: dict) -> Any:
        vals = list(args)
        parents = []
        lower = False
        i = 0
        for a in args:
            if isinstance(a, Traced):
                if a._trace is self:
                    v = a._value
                    vals[i] = v
                    parents.append((i, a._id))
                    if isinstance(v, Traced):
                        lower = True
                else:
                    lower = True
            i += 1
        ans = prim(*vals, **kw) if lower else prim.fun(*vals, **kw)
        if prim.kind == 2:
            return self.record(prim, vals, kw, ans, parents)
        nodes = self.nodes
        nodes.append((prim, vals, kw, ans, parents))
        return Tracer(ans, self, len(nodes) - 1)

    def record(self, prim: Primitive, vals: list, kw: dict, ans: Any, parents: list) -> Any:
        """Append a node whose output ``ans`` was computed from ``vals``; return its tracer(s)."""
        nodes = self.nodes
        nid = len(nodes)
        nodes.append((prim, vals, kw, ans, parents))
        if prim.multiple_results:
            outs = []
            for j, a in enumerate(ans):
                nodes.append((_SELECTS[j], None, None, a, nid))
                outs.append(Tracer(a, self, nid + 1 + j))
            return type(ans)(outs) if isinstance(ans, tuple) else outs
        return Tracer(ans, self, nid)

    def backward(self, seeds: list[tuple[int, Any]], free: bool) -> list:
        """Sweep the tape backwards from ``seeds`` ((node id, cotangent) pairs).

        Returns the list of cotangents indexed by node id; only leaves keep theirs.
        With ``free`` the nodes are released as the sweep passes them, so each saved
        intermediate is dropped as soon as it is no longer needed.
        """
        nodes = self.nodes
        grads: list = [None] * len(nodes)
        # ids whose cotangent is an array this sweep made by a sum (nothing else refers to
        # it), so further contributions are added in place instead of allocating again
        owned: set = set()
        weights = None  # _WeightProducts, made when a matmul first defers
        start = -1
        for nid, g in seeds:
            grads[nid] = g if grads[nid] is None else grads[nid] + g
            start = max(start, nid)
        for i in range(start, -1, -1):
            rec = nodes[i]
            if rec is None:  # a leaf keeps its cotangent
                continue
            if free:
                nodes[i] = None
            g = grads[i]
            if g is None:
                continue
            grads[i] = None
            prim, vals, kw, ans, parents = rec
            if type(prim) is _Select:
                # cotangent of one output of a multiple-result node
                gs = grads[parents]
                if gs is None:
                    gs = grads[parents] = [None] * len(nodes[parents][3])
                j = prim.index
                gs[j] = g if gs[j] is None else gs[j] + g
                continue
            kind = prim.kind
            if kind == KIND_MATMUL:
                kind = 0
                pos, pid = parents[-1]
                a = vals[0]
                if (
                    pos == 1
                    and nodes[pid] is None  # b is a leaf: its cotangent is read after the sweep
                    and type(g) is _nd
                    and type(a) is _nd
                    and a.ndim == 2
                    and g.ndim == 2
                    and a.shape[1] >= _DEFER_MIN_A
                    and g.shape[1] >= _DEFER_MIN_G
                    and a.dtype is g.dtype
                    and g.dtype is vals[1].dtype
                ):
                    if weights is None:
                        weights = _WeightProducts()
                    weights.add(pid, a, g, grads)
                    parents = parents[:-1]
            if kind == 0:
                vjps = prim.vjps
                for pos, pid in parents:
                    try:
                        rule = vjps[pos]
                    except IndexError:
                        rule = prim.vjp_rule(pos)
                    gi = rule(g, ans, *vals, **kw) if kw else rule(g, ans, *vals)
                    x = vals[pos]
                    if gi.dtype is not x.dtype:
                        gi = _real_for_real(gi, x)
                    shape = x.shape
                    if gi.shape != shape:
                        gi = unbroadcast(gi, shape, prim, pos)
                    prev = grads[pid]
                    if prev is None:
                        grads[pid] = gi
                    elif pid in owned and type(gi) is _nd and gi.dtype is prev.dtype:
                        np.add(prev, gi, out=prev)
                    else:
                        prev = grads[pid] = prev + gi
                        if type(prev) is _nd:
                            owned.add(pid)
                continue
            if kind == KIND_SCATTER and type(g) is _nd and len(parents) == 1:
                pos, pid = parents[0]
                x = vals[0]
                if pos == 0 and g.dtype is x.dtype:
                    # getitem: add g into x's cotangent at the index, in place
                    prev = grads[pid]
                    if prev is None:
                        prev = grads[pid] = np.zeros(x.shape, g.dtype)
                        owned.add(pid)
                        prim.scatter_into(prev, vals[1], g, True)
                        continue
                    if pid not in owned or type(prev) is not _nd or prev.dtype is not g.dtype:
                        prev = grads[pid] = np.array(prev, np.result_type(prev, g))
                        owned.add(pid)
                    prim.scatter_into(prev, vals[1], g)
                    continue
            if kind == 2:
                g = _fill_zeros(g, ans)
            if prim.vjp_all is not None:
                gall = prim.vjp_all(g, ans, *vals, **kw)
            else:
                gall = [prim.vjp_rule(pos)(g, ans, *vals, **kw) for pos, _ in parents]
                gall = dict(zip([p for p, _ in parents], gall, strict=True))
            for pos, pid in parents:
                gi = gall[pos]
                if gi is None:
                    continue
                x = vals[pos]
                if gi.dtype is not x.dtype:
                    gi = _real_for_real(gi, x)
                shape = x.shape
                if gi.shape != shape:
                    gi = unbroadcast(gi, shape, prim, pos)
                prev = grads[pid]
                if prev is None:
                    grads[pid] = gi
                elif pid in owned and type(gi) is _nd and gi.dtype is prev.dtype:
                    np.add(prev, gi, out=prev)
                else:
                    prev = grads[pid] = prev + gi
                    if type(prev) is _nd:
                        owned.add(pid)
        if weights is not None:
            weights.flush(grads)
        if free:
            self.nodes = []
        return grads


# bytes of (a, g) pairs a sweep may hold for deferred weight products before summing them
_DEFER_BYTES = 32 << 20
# a product is deferred only if a and g have at least these many columns: measured with
# OpenBLAS here, stacking 50 steps of batch 32 makes a^T g 20-25% faster for (128, 512)
# (an LSTM's Wh), but up to 2x slower for (128, 128) or (32, 512), where the long inner
# dimension of the one product and the copies cost more than T small products
_DEFER_MIN_A = 64
_DEFER_MIN_G = 256


class _WeightProducts:
    """Deferred cotangents ``a^T g`` of 2-D products ``a @ W`` with W a leaf (a weight).

    A weight used at every step of a recurrence (``h_{t-1} @ Wh``) gets one ``a_t^T g_t``
    per step. Summed at the end of the sweep as one product ``[a_1; ...; a_T]^T [g_1; ...;
    g_T]``, BLAS runs one large GEMM instead of T small ones and T additions (as a
    hand-written backward does). The held pairs are bounded by ``_DEFER_BYTES``; only
    products big enough to gain are deferred (``_DEFER_MIN_A``, ``_DEFER_MIN_G``).
    """

    __slots__ = ("pairs", "nbytes")

    def __init__(self) -> None:
        self.pairs: dict = {}
        self.nbytes = 0

    def add(self, pid: int, a: np.ndarray, g: np.ndarray, grads: list) -> None:
        pairs = self.pairs.get(pid)
        if pairs is None:
            pairs = self.pairs[pid] = []
        pairs.append((a, g))
        self.nbytes += a.nbytes + g.nbytes
        if self.nbytes > _DEFER_BYTES:
            self.flush(grads)

    def flush(self, grads: list) -> None:
        """Add every held weight's product into ``grads``."""
        stacked: dict = {}  # the same cotangents may reach two weights (x Wx + h Wh)
        for pid, pairs in self.pairs.items():
            if len(pairs) == 1:
                a, g = pairs[0]
                prod = a.T @ g
            else:
                key = tuple([id(g) for _, g in pairs])
                gs = stacked.get(key)
                if gs is None:
                    gs = stacked[key] = np.concatenate([g for _, g in pairs])
                prod = np.concatenate([a for a, _ in pairs]).T @ gs
            prev = grads[pid]
            grads[pid] = prod if prev is None else prev + prod
        self.pairs = {}
        self.nbytes = 0


def _real_for_real(g: Any, x: Any) -> Any:
    """The real part of a complex cotangent of a real value (autograd's convention)."""
    if np.issubdtype(g.dtype, np.complexfloating) and not np.issubdtype(
        x.dtype, np.complexfloating
    ):
        return OPS["real"](g)
    return g


def _fill_zeros(gs: list, ans: Any) -> tuple:
    """Cotangents of all outputs of a multiple-result node; zeros where none arrived."""
    return tuple(
        np.zeros(np.shape(_plain(a)), np.result_type(_plain(a))) if g is None else g
        for g, a in zip(gs, ans, strict=False)
    )


def _plain(x: Any) -> Any:
    while isinstance(x, Traced):
        x = x._value
    return x
