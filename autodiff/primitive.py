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

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["Primitive", "defop", "OPS", "Traced", "Trace", "NotDifferentiable"]

OPS: dict[str, Primitive] = {}

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
        self.vjps = vjps or ()
        self.jvps = jvps or ()
        self.vjp_all = vjp_all
        self.jvp_all = jvp_all
        self.nondiff = nondiff
        self.multiple_results = multiple_results
        self.domain = domain
        self.batch_jvp = batch_jvp
        self.__wrapped__ = fun
        self.__doc__ = getattr(fun, "__doc__", None)
        self.__name__ = name

    def __repr__(self) -> str:
        return f"<primitive anp.{self.name}>"

    def __call__(self, *args: Any, **kw: Any) -> Any:
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
        rule = self.vjps[pos] if pos < len(self.vjps) else None
        if rule is None:
            raise NotImplementedError(_nondiff_message(self.name, pos, "reverse"))
        return rule

    def jvp_rule(self, pos: int) -> Callable:
        rule = self.jvps[pos] if pos < len(self.jvps) else None
        if rule is None:
            raise NotImplementedError(_nondiff_message(self.name, pos, "forward"))
        return rule


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
        vjps.append(lambda g, ans, *args, _d=d, **kw: g * _d(ans, *args, **kw))
        jvps.append(lambda t, ans, *args, _d=d, **kw: t * _d(ans, *args, **kw))
    return tuple(vjps), tuple(jvps)


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
