"""User-defined derivative rules (``custom_vjp``) and rematerialisation (``checkpoint``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .primitive import Primitive, Traced
from .tape import Tape, Tracer
from .tree import tree_flatten, tree_unflatten

__all__ = ["custom_vjp", "checkpoint"]


def _top_tape(leaves: list) -> Tape | None:
    """The innermost trace among ``leaves`` if it is a tape (forward traces return None)."""
    top = None
    for x in leaves:
        if isinstance(x, Traced) and (top is None or x._trace.level > top.level):
            top = x._trace
    return top if isinstance(top, Tape) else None


def _record(tape: Tape, name: str, in_flat: list, vals: list, out: Any, bwd: Callable) -> Any:
    """Put one node on ``tape`` for outputs ``out`` computed from ``vals``.

    ``bwd(list of output cotangents) -> list of input cotangents`` (one per flat input).
    """
    out_flat, out_def = tree_flatten(out)
    parents = [
        (i, x._id) for i, x in enumerate(in_flat) if isinstance(x, Tracer) and x._trace is tape
    ]
    prim = Primitive(
        lambda *a: None,
        name,
        multiple_results=True,
        vjp_all=lambda g, ans, *v: bwd(list(g)),
    )
    outs = tape.record(prim, vals, {}, tuple(out_flat), parents)
    return tree_unflatten(out_def, list(outs))


def _unwrap(leaves: list, tape: Tape) -> list:
    return [x._value if isinstance(x, Tracer) and x._trace is tape else x for x in leaves]


class custom_vjp:  # noqa: N801  (JAX's name)
    """A function with a user-supplied VJP, as in JAX.

    >>> import autodiff.numpy as anp
    >>> from autodiff import grad
    >>> @custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> clip_gradient.defvjp(lambda x: (x, None), lambda res, g: (anp.clip(g, -1.0, 1.0),))
    >>> float(grad(lambda x: clip_gradient(3.0 * x))(2.0))
    3.0

    ``fwd(*args) -> (out, residuals)``; ``bwd(residuals, g) -> tuple`` with one
    cotangent (pytree) per positional argument (``None`` for none). Under forward
    mode the function itself is differentiated.
    """

    def __init__(self, fun: Callable):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        self.fwd = fwd
        self.bwd = bwd

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None:
            raise TypeError(
                f"custom_vjp function {self.fun.__name__} has no rule: call .defvjp(fwd, bwd)."
            )
        in_flat, in_def = tree_flatten(args)
        tape = _top_tape(in_flat)
        if tape is None:
            return self.fun(*args)
        vals = _unwrap(in_flat, tape)
        out, res = self.fwd(*tree_unflatten(in_def, vals))
        out_def = tree_flatten(out)[1]
        name = getattr(self.fun, "__name__", "custom_vjp")

        def bwd(gs: list) -> list:
            cts = self.bwd(res, tree_unflatten(out_def, gs))
            if not isinstance(cts, tuple | list) or len(cts) != len(args):
                raise ValueError(
                    f"custom_vjp {name}: bwd must return a tuple of {len(args)} cotangents "
                    f"(one per argument), got {type(cts).__name__}."
                )
            flat = []
            for a, ct in zip(args, cts, strict=False):
                n = len(tree_flatten(a)[0])
                flat.extend([None] * n if ct is None else tree_flatten(ct)[0])
            return flat

        return _record(tape, name, in_flat, vals, out, bwd)


def checkpoint(fun: Callable) -> Callable:
    """``fun`` whose intermediates are recomputed in the backward sweep instead of stored.

    The tape keeps only ``fun``'s inputs and outputs; memory for a chain of checkpointed
    segments grows with the number of segments, not with the operations inside them.

    >>> import autodiff.numpy as anp
    >>> from autodiff import grad
    >>> f = checkpoint(lambda x: anp.sin(anp.sin(x)))
    >>> round(float(grad(f)(1.0)), 6)
    0.360164
    """

    @functools.wraps(fun)
    def checkpointed(*args: Any) -> Any:
        in_flat, in_def = tree_flatten(args)
        tape = _top_tape(in_flat)
        if tape is None:
            return fun(*args)
        vals = _unwrap(in_flat, tape)
        out = fun(*tree_unflatten(in_def, vals))

        def bwd(gs: list) -> list:
            from .api import vjp

            def flat_fun(*flat):
                return tree_flatten(fun(*tree_unflatten(in_def, list(flat))))[0]

            diff = [i for i, x in enumerate(in_flat) if isinstance(x, Tracer) and x._trace is tape]

            def on_diff(*xs):
                full = list(vals)
                for i, x in zip(diff, xs, strict=False):
                    full[i] = x
                return flat_fun(*full)

            _, f_vjp = vjp(on_diff, *[vals[i] for i in diff])
            cts = f_vjp([g for g in gs])
            flat: list = [None] * len(in_flat)
            for i, c in zip(diff, cts, strict=False):
                flat[i] = c
            return flat

        return _record(tape, getattr(fun, "__name__", "checkpoint"), in_flat, vals, out, bwd)

    return checkpointed
