"""The table of primitives: each NumPy operation with its VJP and JVP rules.

A primitive is called like the NumPy function it wraps. With plain arrays it
calls NumPy directly; when an argument is traced it hands the call to the trace
(a reverse-mode ``Tape`` or a forward-mode ``DualTrace``) of the highest level
among the arguments. Levels order nested transformations, so a gradient of a
gradient never confuses the two perturbations.

Rules take ``(g, ans, *args, **kw)`` (VJP) or ``(t, ans, *args, **kw)`` (JVP)
and are written with ``autodiff.numpy`` so that they can be differentiated in
turn. Rules never unbroadcast: the tape sums each cotangent to its input's shape.
"""

from __future__ import annotations

import dis
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["Primitive", "defop", "OPS", "Traced", "Trace", "NotDifferentiable", "plain_alike"]

OPS: dict[str, Primitive] = {}

# The reverse-mode tracer class, set by autodiff.tape (which imports this module).
_TRACER: list = [None]

# Levels of traces; a later (inner) transformation always gets a higher level.
_levels = itertools.count(1)


class Trace:
    """A transformation in progress: a tape (reverse) or a dual trace (forward)."""

    __slots__ = ("level",)

    def __init__(self) -> None:
        self.level = next(_levels)

    def apply(self, prim: Primitive, args: Sequence, kw: dict) -> Any:  # pragma: no cover
        raise NotImplementedError


class Traced:
    """Base class of traced values; ``autodiff.numpy`` installs ndarray methods on it."""

    __slots__ = ("_value", "_trace")
    # Make ``ndarray <op> traced`` defer to our reflected operators.
    __array_priority__ = 1000.0


def _is_traced(x: Any) -> bool:
    return isinstance(x, Traced)


class NotDifferentiable:
    """Marker: the primitive has no derivative in this argument (e.g. an index)."""


def _nondiff_message(prim_name: str, pos: int, mode: str) -> str:
    return (
        f"anp.{prim_name} is not {mode}-differentiable in argument {pos}. "
        "Pass that argument as a constant (wrap it in autodiff.stop_gradient)."
    )


class Primitive:
    """One operation of the table. Call it like the function it wraps."""

    __slots__ = (
        "name",
        "fun",
        "vjps",
        "jvps",
        "vjp_all",
        "jvp_all",
        "nondiff",
        "multiple_results",
        "domain",
        "batch_jvp",
        "kind",
        "fast",
        "lean1",
        "lean_a",
        "lean_b",
        "lean_ab",
        "__wrapped__",
        "__name__",
        "__dict__",
    )

    def __init__(
        self,
        fun: Callable,
        name: str,
        vjps: tuple | None = None,
        jvps: tuple | None = None,
        nondiff: bool = False,
        multiple_results: bool = False,
        domain: Any = None,
        batch_jvp: bool = False,
        vjp_all: Callable | None = None,
        jvp_all: Callable | None = None,
    ):
        self.fun = fun
        self.name = name
        # missing rules raise a clear error when (and only when) they are needed
        self.vjps = tuple(
            _missing(name, i, "reverse") if r is None else r for i, r in enumerate(vjps or ())
        )
        self.jvps = tuple(
            _missing(name, i, "forward") if r is None else r for i, r in enumerate(jvps or ())
        )
        self.vjp_all = vjp_all
        self.jvp_all = jvp_all
        self.nondiff = nondiff
        self.multiple_results = multiple_results
        self.domain = domain
        self.batch_jvp = batch_jvp
        # how the backward sweep treats the node: 0 one rule per argument, 1 vjp_all,
        # 2 multiple results (cotangent tuple, zeros filled in), KIND_SCATTER (set on
        # getitem): the sweep adds g into the input's cotangent at the index in place
        self.kind = 2 if multiple_results else (1 if vjp_all is not None else 0)
        self.fast = not nondiff and not multiple_results
        # what a node must keep for the rules of its traced arguments (see _save_plan)
        self.lean1 = _save_plan(self, (0,), 1)
        self.lean_a = _save_plan(self, (0,), 2)
        self.lean_b = _save_plan(self, (1,), 2)
        self.lean_ab = _save_plan(self, (0, 1), 2)
        self.__wrapped__ = fun
        self.__doc__ = getattr(fun, "__doc__", None)
        self.__name__ = name

    def __repr__(self) -> str:
        return f"<primitive anp.{self.name}>"

    def __call__(self, *args: Any, **kw: Any) -> Any:
        # Fast path: one or two arguments traced on a single tape (the common case in
        # first-order reverse mode) are recorded here directly, without Tape.apply.
        n = len(args)
        if self.fast and n <= 2:
            tracer = _TRACER[0]
            if n == 1:
                a = args[0]
                if not isinstance(a, Traced):
                    return self.fun(a, **kw)
                if type(a) is tracer:
                    va = a._value
                    if not isinstance(va, Traced):
                        tape = a._trace
                        ans = self.fun(va, **kw)
                        nodes = tape.nodes
                        plan = self.lean1
                        if plan is None:
                            nodes.append((self, (va,), kw, ans, ((0, a._id),)))
                        else:
                            sa = va if plan[1] else _lean(va)
                            keep = ans if plan[0] else _lean(ans)
                            nodes.append((self, (sa,), kw, keep, ((0, a._id),)))
                        return tracer(ans, tape, len(nodes) - 1)
            elif n == 2:
                a, b = args
                ta = type(a) is tracer
                tb = type(b) is tracer
                if not ta and not tb and not isinstance(a, Traced) and not isinstance(b, Traced):
                    return self.fun(a, b, **kw)
                # which of a, b is traced on which tape; the node's record is then the same
                tape = None
                if ta and not tb and not isinstance(b, Traced):
                    va, vb, tape = a._value, b, a._trace
                    plan, parents = self.lean_a, ((0, a._id),)
                elif tb and not ta and not isinstance(a, Traced):
                    va, vb, tape = a, b._value, b._trace
                    plan, parents = self.lean_b, ((1, b._id),)
                elif ta and tb and a._trace is b._trace:
                    va, vb, tape = a._value, b._value, a._trace
                    plan, parents = self.lean_ab, ((0, a._id), (1, b._id))
                if tape is not None and not isinstance(va, Traced) and not isinstance(vb, Traced):
                    ans = self.fun(va, vb, **kw)
                    nodes = tape.nodes
                    if plan is None:
                        nodes.append((self, (va, vb), kw, ans, parents))
                    else:
                        sa = va if plan[1] else _lean(va)
                        sb = vb if plan[2] else _lean(vb)
                        keep = ans if plan[0] else _lean(ans)
                        nodes.append((self, (sa, sb), kw, keep, parents))
                    return tracer(ans, tape, len(nodes) - 1)
        top = None
        level = 0
        for a in args:
            if isinstance(a, Traced):
                t = a._trace
                if t.level > level:
                    top = t
                    level = t.level
        if top is None:
            return self.fun(*args, **kw)
        if self.nondiff:
            return self.fun(*[_strip(a) for a in args], **kw)
        return top.apply(self, args, kw)

    # Helpers used by the traces -------------------------------------------------
    def vjp_rule(self, pos: int) -> Callable:
        return self.vjps[pos] if pos < len(self.vjps) else _missing(self.name, pos, "reverse")

    def jvp_rule(self, pos: int) -> Callable:
        return self.jvps[pos] if pos < len(self.jvps) else _missing(self.name, pos, "forward")

    def has_vjp(self, pos: int) -> bool:
        """Whether argument ``pos`` has a reverse-mode rule."""
        if self.vjp_all is not None:
            return True
        return pos < len(self.vjps) and not getattr(self.vjps[pos], "missing", False)


# Node kind of getitem: its VJP scatters g into zeros at the index, which the sweep does in
# place on the input's cotangent instead (no zeros of the full shape per slice), with the
# primitive's ``scatter_into(out, idx, g)``.
KIND_SCATTER = 3
# Node kind of matmul: a 2-D product whose b is a leaf (a weight matrix) may have its b
# cotangent a^T g deferred to the end of the sweep, where all of them are one product
KIND_MATMUL = 4


def _missing(name: str, pos: int, mode: str) -> Callable:
    def rule(*args, **kw):
        raise NotImplementedError(_nondiff_message(name, pos, mode))

    rule.missing = True
    return rule


# Lean tape ---------------------------------------------------------------------------------
# A node keeps only what its rules read. Each rule's use of its parameters is read once
# from its bytecode: "unused", "meta" (only .shape/.ndim/.dtype/.size) or "value". For
# arrays of at least _LEAN_MIN elements, values that no rule reads are replaced by a
# _Meta stub (shape and dtype), so the array can be freed as soon as nothing else needs
# it. Small arrays are kept: dropping them would cost more time than it saves memory.
_LEAN_MIN = 4096
_META_ATTRS = frozenset(("shape", "ndim", "dtype", "size"))
_ndarray = np.ndarray


class _Meta:
    """What a rule may read of a value it does not need: shape, ndim, dtype, size."""

    __slots__ = ("shape", "ndim", "dtype", "size")

    def __init__(self, x: Any):
        self.shape = x.shape
        self.ndim = x.ndim
        self.dtype = x.dtype
        self.size = x.size


def _param_usage(fn: Callable) -> tuple[str, ...] | None:
    """How ``fn`` uses each positional parameter, or None when it cannot tell."""
    uses = getattr(fn, "_uses", None)
    if uses is not None:
        return uses
    code = getattr(fn, "__code__", None)
    if code is None or code.co_flags & 0x04:  # *args: every value may be read
        return None
    names = code.co_varnames[: code.co_argcount]
    usage = {n: ("value" if n in code.co_cellvars else "unused") for n in names}
    instrs = list(dis.get_instructions(code))
    for k, ins in enumerate(instrs):
        if not ins.opname.startswith("LOAD_FAST"):
            continue
        loaded = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
        nxt = instrs[k + 1] if k + 1 < len(instrs) else None
        meta_only = (
            len(loaded) == 1
            and nxt is not None
            and nxt.opname == "LOAD_ATTR"
            and nxt.argval in _META_ATTRS
        )
        for n in loaded:
            if n in usage and usage[n] != "value":
                usage[n] = "meta" if meta_only else "value"
    return tuple(usage[n] for n in names)


_RANK = {"unused": 0, "meta": 1, "value": 2}


def _save_plan(prim: Primitive, parents: tuple[int, ...], nargs: int) -> tuple | None:
    """(ans mode, arg modes) for a node with traced ``parents``; None if all is kept."""
    if prim.kind != 0 or any(p >= len(prim.vjps) for p in parents):
        return None
    modes = ["unused"] * (nargs + 1)  # ans, then the arguments
    for p in parents:
        if modes[1 + p] == "unused":
            modes[1 + p] = "meta"  # the sweep reads each parent's shape
        uses = _param_usage(prim.vjps[p])
        if uses is None or len(uses) < nargs + 2:
            return None
        for i in range(nargs + 1):
            if _RANK[uses[1 + i]] > _RANK[modes[i]]:
                modes[i] = uses[1 + i]
    if all(m == "value" for m in modes):
        return None
    return tuple(m == "value" for m in modes)


def _lean(x: Any) -> Any:
    """``x`` as a node keeps a value its rules do not read: a _Meta stub if it is big."""
    if type(x) is _ndarray and x.size >= _LEAN_MIN:
        return _Meta(x)
    return x


def plain_alike(g: Any, ans: Any) -> bool:
    """Whether a rule may finish in place on a fresh temporary the shape of ``ans``: ``g``
    and ``ans`` are plain arrays (not 0-d, where NumPy returns scalars) of one dtype and shape.
    """
    return (
        type(g) is type(ans) is _ndarray
        and g.dtype is ans.dtype
        and g.shape == ans.shape
        and ans.ndim > 0
    )


def _strip(x: Any) -> Any:
    """The plain value under every level of tracing."""
    while isinstance(x, Traced):
        x = x._value
    return x


def _deriv_rules(deriv: Callable | Sequence[Callable | None]) -> tuple[tuple, tuple]:
    """VJP and JVP rules of an elementwise op from its partial derivatives."""
    derivs = (deriv,) if callable(deriv) else tuple(deriv)
    vjps = []
    jvps = []
    for d in derivs:
        if d is None:
            vjps.append(None)
            jvps.append(None)
            continue
        vjp = _elementwise_vjp(d)
        d_uses = _param_usage(d)
        vjp._uses = None if d_uses is None else ("value",) + d_uses
        vjps.append(vjp)
        jvps.append(lambda t, ans, *args, _d=d, **kw: t * _d(ans, *args, **kw))
    return tuple(vjps), tuple(jvps)


def _elementwise_vjp(d: Callable) -> Callable:
    """``g * d(ans, *args)``; without argument packing when ``d`` takes one or two inputs."""
    code = getattr(d, "__code__", None)
    plain = (
        code is not None
        and not code.co_flags & 0x0C  # no *args, **kw
        and not code.co_kwonlyargcount
        and not getattr(d, "__defaults__", None)
    )
    if plain and code.co_argcount == 2:
        return lambda g, ans, x, _d=d: g * _d(ans, x)
    if plain and code.co_argcount == 3:
        return lambda g, ans, x, y, _d=d: g * _d(ans, x, y)
    return lambda g, ans, *args, _d=d, **kw: g * _d(ans, *args, **kw)


def _make_linear_jvp(prim_ref: list, pos: int) -> Callable:
    def rule(t, ans, *args, **kw):
        args = list(args)
        args[pos] = t
        return prim_ref[0](*args, **kw)

    return rule


def _make_joint_linear(prim_ref: list) -> Callable:
    def rule(tangents, ans, *args, **kw):
        filled = [
            np.zeros(np.shape(_strip(a)), np.result_type(_strip(a))) if t is None else t
            for t, a in zip(tangents, args, strict=False)
        ]
        return prim_ref[0](*filled, **kw)

    return rule


def defop(
    fun: Callable,
    *,
    name: str | None = None,
    deriv: Callable | Sequence[Callable | None] | None = None,
    vjp: Callable | Sequence[Callable | None] | None = None,
    jvp: Callable | Sequence[Callable | None] | str | None = None,
    vjp_all: Callable | None = None,
    jvp_all: Callable | None = None,
    nondiff: bool = False,
    multiple_results: bool = False,
    domain: Any = None,
    batch_jvp: bool | None = None,
    register: bool = True,
) -> Primitive:
    """Make ``fun`` a primitive with derivative rules and put it in ``OPS``.

    - ``deriv``: elementwise partial derivatives ``d(ans, *args)``; VJP and JVP follow.
    - ``vjp``: one rule per positional argument (``None``: not differentiable there).
    - ``jvp``: one rule per argument, ``"linear"`` (linear in each argument with the
      others fixed) or ``"joint"`` (linear in all arguments together; the rule gets the
      full list of tangents, zeros where an argument has none).
    - ``vjp_all``/``jvp_all``: a rule for all arguments at once, for ops whose rules share
      work (``vjp_all(g, ans, *args) -> tuple`` of cotangents,
      ``jvp_all(tangents, ans, *args) -> tangent`` with ``None`` for missing tangents).
    - ``nondiff``: the op passes no gradient; traced inputs give plain outputs.
    - ``domain``: where the op is differentiable, read by the generic property test.

    >>> import numpy as np
    >>> sq = defop(np.square, deriv=lambda ans, x: 2 * x, register=False)
    >>> float(sq(3.0))
    9.0
    """
    name = name or fun.__name__
    prim_ref: list = [None]
    vjps: tuple = ()
    jvps: tuple = ()
    elementwise = False
    if deriv is not None:
        vjps, jvps = _deriv_rules(deriv)
        elementwise = True
    if vjp is not None:
        vjps = (vjp,) if callable(vjp) else tuple(vjp)
    if jvp == "linear":
        jvps = tuple(_make_linear_jvp(prim_ref, i) for i in range(max(len(vjps), 1)))
    elif jvp == "joint":
        jvp_all = _make_joint_linear(prim_ref)
        jvps = tuple(None for _ in vjps)
    elif jvp is not None:
        jvps = (jvp,) if callable(jvp) else tuple(jvp)
    prim = Primitive(
        fun,
        name,
        vjps,
        jvps,
        nondiff=nondiff,
        multiple_results=multiple_results,
        domain=domain,
        batch_jvp=elementwise if batch_jvp is None else batch_jvp,
        vjp_all=vjp_all,
        jvp_all=jvp_all,
    )
    prim_ref[0] = prim
    if register:
        if name in OPS:
            raise ValueError(f"defop: a primitive named {name!r} is already registered.")
        OPS[name] = prim
    return prim
