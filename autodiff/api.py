"""The transformations: grad, value_and_grad, vjp, jvp, jacobian, jacfwd, hessian, hvp."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .forward import Dual, DualTrace
from .primitive import OPS, Traced, _strip
from .tape import Tape, Tracer
from .tree import tree_flatten, tree_unflatten

_ndarray = np.ndarray

__all__ = [
    "grad",
    "value_and_grad",
    "vjp",
    "jvp",
    "jacobian",
    "jacrev",
    "jacfwd",
    "hessian",
    "hvp",
    "elementwise_grad",
    "stop_gradient",
]


# Inputs ------------------------------------------------------------------------------------
def _as_input(x: Any, what: str, argnum: int) -> Any:
    """A differentiable input leaf: float or complex arrays and scalars only."""
    if type(x) is np.ndarray and x.dtype.kind in "fc":  # the common case, checked cheaply
        return x
    if isinstance(x, Traced):
        dt = _strip(x)
        dt = np.result_type(dt)
        v = x
    else:
        v = np.asarray(x)
        dt = v.dtype
    if not np.issubdtype(dt, np.inexact):
        raise TypeError(
            f"{what} needs float inputs, but argument {argnum} has dtype {dt} (value {x!r}). "
            f"Pass floats: 3.0 instead of 3, or x.astype(float)."
        )
    return v


def _argnums_tuple(argnums: int | Sequence[int], nargs: int, what: str) -> tuple[int, ...]:
    single = isinstance(argnums, int | np.integer)
    nums = (int(argnums),) if single else tuple(int(a) for a in argnums)
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(
                f"{what}: argnums={argnums!r} but the function was called with {nargs} "
                "positional arguments."
            )
    return tuple(a % nargs for a in nums)


class _Inputs:
    """The differentiated arguments of one call, flattened and made leaves of ``tape``.

    ``new_args`` is the call's arguments with each differentiated leaf replaced by its
    tracer; the leaves of one argument get consecutive node ids from ``starts``.
    """

    __slots__ = ("new_args", "defs", "originals", "starts")

    def __init__(self, args: tuple, argnums: tuple[int, ...], what: str, tape: Tape):
        self.new_args = list(args)
        self.defs: list = []
        self.originals: list[list] = []  # the leaves as the user passed them
        self.starts: list[int] = []
        for a in argnums:
            leaves, td = tree_flatten(args[a])
            values = [_as_input(x, what, a) for x in leaves]  # Python scalars as arrays
            self.starts.append(len(tape.nodes))
            self.new_args[a] = tree_unflatten(td, tape.leaves(values))
            self.defs.append(td)
            self.originals.append(leaves)

    def results(self, grads: list, single: bool) -> Any:
        """The gradient trees from the sweep's cotangents ``grads`` (indexed by node id)."""
        trees = []
        for td, originals, start in zip(self.defs, self.originals, self.starts, strict=True):
            gs = grads[start : start + len(originals)]
            for i, g in enumerate(gs):
                o = originals[i]
                if (
                    type(g) is _ndarray
                    and type(o) is _ndarray
                    and g.dtype is o.dtype
                    and g.flags.writeable
                ):
                    continue  # the common case: nothing to convert
                gs[i] = _like_input(_zeros_like(o) if g is None else g, o)
            trees.append(tree_unflatten(td, gs))
        return trees[0] if single else tuple(trees)


def _like_input(g: Any, original: Any) -> Any:
    """A gradient with the shape and dtype of the input it belongs to.

    A real input whose cotangent became complex (it met complex values on the way) gets
    the real part: rules of real operations have real coefficients, so taking it at the
    leaf is the same as taking it at every real intermediate.
    """
    dt = np.result_type(_strip(original))
    real_input = not np.issubdtype(dt, np.complexfloating)
    if not isinstance(g, Traced):
        g = np.asarray(g)
        if real_input and np.iscomplexobj(g):
            g = g.real
        if g.dtype != dt:
            g = g.astype(dt)
        elif not g.flags.writeable:  # e.g. a broadcast view from a sum's VJP
            g = g.copy()
        if isinstance(original, float | complex | np.generic):
            return g[()]
        return g
    gdt = np.result_type(_strip(g))
    if real_input and np.issubdtype(gdt, np.complexfloating):
        g = OPS["real"](g)
        gdt = np.result_type(_strip(g))
    if gdt != dt:
        g = OPS["astype"](g, dt)
    return g


def _zeros_like(x: Any) -> np.ndarray:
    x = _strip(x)
    return np.zeros(np.shape(x), np.result_type(x))


# Reverse mode ------------------------------------------------------------------------------
def _split_aux(out: Any, what: str) -> tuple[Any, Any]:
    if not (isinstance(out, tuple | list) and len(out) == 2):
        raise TypeError(
            f"{what}(f, has_aux=True) needs f to return a pair (output, aux), got "
            f"{type(out).__name__}."
        )
    return out[0], out[1]


def _check_scalar(out: Any, what: str) -> None:
    if isinstance(out, tuple | list | dict):
        raise TypeError(
            f"{what}(f) needs a scalar output, got a {type(out).__name__}. Return one scalar "
            "(use has_aux=True to return more), or use jacobian(f)."
        )
    v = _strip(out)
    if isinstance(v, np.floating) or (
        type(v) is np.ndarray and v.shape == () and v.dtype.kind == "f"
    ):
        return  # the common case: a real scalar
    if v is None or np.asarray(v).dtype.kind not in "biufc":
        raise TypeError(
            f"{what}(f) needs a scalar output, got {type(v).__name__} {v!r}. Does f return "
            "its result?"
        )
    shape = np.shape(v)
    if shape != ():
        raise TypeError(
            f"{what}(f) needs a scalar output, got shape {shape}. Reduce it (anp.sum) or use "
            "elementwise_grad(f) or jacobian(f)."
        )
    if np.iscomplexobj(v):
        raise TypeError(
            f"{what}(f) needs a real output, got complex {v!r}. Take anp.real or anp.abs of it."
        )


def value_and_grad(
    fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable:
    """``f`` and its gradient in one pass, as ``(value, grad)``.

    >>> import autodiff.numpy as anp
    >>> value_and_grad(lambda x: anp.sum(x ** 2))(np.array([1.0, 2.0]))
    (np.float64(5.0), array([2., 4.]))
    """
    single = isinstance(argnums, int | np.integer)
    first = int(argnums) if single else -1  # the common case, checked cheaply per call

    @functools.wraps(fun)
    def value_and_grad_f(*args: Any, **kwargs: Any) -> Any:
        n = len(args)
        nums = (first,) if 0 <= first < n else _argnums_tuple(argnums, n, "grad")
        tape = Tape()
        inputs = _Inputs(args, nums, "grad(f)", tape)
        out = fun(*inputs.new_args, **kwargs)
        aux = None
        if has_aux:
            out, aux = _split_aux(out, "grad")
        _check_scalar(out, "grad")
        if isinstance(out, Tracer) and out._trace is tape:
            value = out._value
            seed = np.ones((), np.result_type(_strip(value)))
            grads = tape.backward([(out._id, seed)], free=True)
        else:
            value = out
            grads = [None] * len(tape.nodes)
        g = inputs.results(grads, single)
        if has_aux:
            return (value, aux), g
        return value, g

    return value_and_grad_f


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar function, with respect to argument(s) ``argnums``.

    Arguments may be pytrees (nested dicts, lists, tuples); the gradient has the same
    structure, shapes and dtypes.

    >>> import autodiff.numpy as anp
    >>> grad(lambda x: anp.sin(x) * x)(0.0)
    np.float64(0.0)
    """
    vg = value_and_grad(fun, argnums, has_aux)

    @functools.wraps(fun)
    def grad_f(*args: Any, **kwargs: Any) -> Any:
        (value, aux), g = vg(*args, **kwargs) if has_aux else ((None, None), vg(*args, **kwargs)[1])
        return (g, aux) if has_aux else g

    return grad_f


def vjp(fun: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(f(*primals), vjp_fn)``; ``vjp_fn(g)`` gives one cotangent per primal.

    ``vjp_fn`` may be called many times (the tape is kept until it is garbage).

    >>> import autodiff.numpy as anp
    >>> y, f_vjp = vjp(anp.sin, 0.0)
    >>> f_vjp(2.0)
    (np.float64(2.0),)
    """
    tape = Tape()
    inputs = _Inputs(primals, tuple(range(len(primals))), "vjp(f)", tape)
    out = fun(*inputs.new_args)
    aux = None
    if has_aux:
        out, aux = _split_aux(out, "vjp")
    out_flat, out_def = tree_flatten(out)
    out_vals = [o._value if isinstance(o, Tracer) and o._trace is tape else o for o in out_flat]

    def vjp_fn(g: Any) -> tuple:
        g_flat, g_def = tree_flatten(g)
        if g_def != out_def:
            raise ValueError(
                f"vjp_fn: the cotangent has structure {g_def}, but f's output has {out_def}."
            )
        seeds = []
        for o, gi in zip(out_flat, g_flat, strict=False):
            if isinstance(o, Tracer) and o._trace is tape:
                shape = np.shape(_strip(o))
                if np.shape(_strip(gi)) != shape:
                    raise ValueError(
                        f"vjp_fn: cotangent of shape {np.shape(_strip(gi))} for an output of "
                        f"shape {shape}."
                    )
                seeds.append((o._id, gi if isinstance(gi, Traced) else np.asarray(gi)))
        grads = tape.backward(seeds, free=False) if seeds else [None] * len(tape.nodes)
        return inputs.results(grads, single=False)

    out_tree = tree_unflatten(out_def, out_vals)
    return (out_tree, vjp_fn, aux) if has_aux else (out_tree, vjp_fn)


def elementwise_grad(fun: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The gradient of ``sum(f(x))``: for elementwise ``f``, its derivative at each element.

    >>> import autodiff.numpy as anp
    >>> elementwise_grad(anp.square)(np.array([1.0, 2.0]))
    array([2., 4.])
    """

    def summed(*args: Any, **kwargs: Any) -> Any:
        out = fun(*args, **kwargs)
        return OPS["sum"](out) if np.ndim(_strip(out)) else out

    return grad(summed, argnums)


def jacobian(fun: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Jacobian by reverse mode, shape ``out.shape + in.shape`` (one sweep per output).

    >>> import autodiff.numpy as anp
    >>> jacobian(lambda x: x * 2.0)(np.zeros(2))
    array([[2., 0.],
           [0., 2.]])
    """
    single = isinstance(argnums, int | np.integer)

    @functools.wraps(fun)
    def jac_f(*args: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args), "jacobian")

        def restricted(*xs):
            full = list(args)
            for a, x in zip(nums, xs, strict=False):
                full[a] = x
            return fun(*full)

        out, f_vjp = vjp(restricted, *[args[a] for a in nums])
        out_v = _strip(out)
        shape = np.shape(out_v)
        dt = np.result_type(out_v)
        n = int(np.prod(shape))
        rows = []
        for k in range(n):
            e = np.zeros(n, dt)
            e[k] = 1
            rows.append(f_vjp(e.reshape(shape)))
        jacs = []
        for i, a in enumerate(nums):
            leaves_rows = [tree_flatten(r[i]) for r in rows]
            td = tree_flatten(args[a])[1]
            per_leaf = []
            for j, x in enumerate(tree_flatten(args[a])[0]):
                col = [lr[0][j] for lr in leaves_rows]
                stacked = OPS["stack"](*col, axis=0) if n else np.zeros((0,) + np.shape(x))
                per_leaf.append(OPS["reshape"](stacked, shape + np.shape(_strip(x))))
            jacs.append(tree_unflatten(td, per_leaf))
        return jacs[0] if single else tuple(jacs)

    return jac_f


jacrev = jacobian


def stop_gradient(x: Any) -> Any:
    """``x`` as a constant: no gradient flows through it, at any order.

    >>> float(grad(lambda x: x * stop_gradient(x))(3.0))
    3.0
    """
    leaves, td = tree_flatten(x)
    return tree_unflatten(td, [_strip(v) for v in leaves])


# Forward mode ------------------------------------------------------------------------------
def jvp(fun: Callable, primals: Sequence, tangents: Sequence) -> tuple:
    """``(f(*primals), J·tangents)`` by forward mode (dual numbers).

    >>> import autodiff.numpy as anp
    >>> jvp(anp.sin, (0.0,), (3.0,))
    (np.float64(0.0), np.float64(3.0))
    """
    if not isinstance(primals, tuple | list) or not isinstance(tangents, tuple | list):
        raise TypeError("jvp(f, primals, tangents) takes primals and tangents as tuples.")
    if len(primals) != len(tangents):
        raise ValueError(
            f"jvp: {len(primals)} primals but {len(tangents)} tangents; give one tangent each."
        )
    trace = DualTrace()
    new_args = []
    for i, (p, t) in enumerate(zip(primals, tangents, strict=False)):
        p_leaves, p_def = tree_flatten(p)
        t_leaves, t_def = tree_flatten(t)
        if p_def != t_def:
            raise ValueError(f"jvp: tangent {i} has structure {t_def}, primal has {p_def}.")
        duals = []
        for pv, tv in zip(p_leaves, t_leaves, strict=False):
            pv = _as_input(pv, "jvp(f)", i)
            if np.shape(_strip(tv)) != np.shape(_strip(pv)):
                raise ValueError(
                    f"jvp: tangent of shape {np.shape(_strip(tv))} for a primal of shape "
                    f"{np.shape(_strip(pv))} (argument {i})."
                )
            if not isinstance(tv, Traced):
                tv = np.asarray(tv, dtype=np.result_type(_strip(pv)))
            duals.append(Dual(pv, trace, tv))
        new_args.append(tree_unflatten(p_def, duals))
    out = fun(*new_args)
    out_flat, out_def = tree_flatten(out)
    vals, tans = [], []
    for o in out_flat:
        if isinstance(o, Dual) and o._trace is trace:
            vals.append(o._value)
            tans.append(o._tangent if o._tangent is not None else _zeros_like(o))
        else:
            vals.append(o)
            tans.append(_zeros_like(o))
    return tree_unflatten(out_def, vals), tree_unflatten(out_def, tans)


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Jacobian by forward mode: every input direction pushed at once, as a batch.

    >>> import autodiff.numpy as anp
    >>> jacfwd(lambda x: x * 2.0)(np.zeros(2))
    array([[2., 0.],
           [0., 2.]])
    """
    single = isinstance(argnums, int | np.integer)

    @functools.wraps(fun)
    def jacfwd_f(*args: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args), "jacfwd")
        xs = [_as_input(args[a], "jacfwd(f)", a) for a in nums]
        sizes = [int(np.size(_strip(x))) for x in xs]
        total = sum(sizes)
        trace = DualTrace(batch=total)
        full = list(args)
        offset = 0
        for a, x, n in zip(nums, xs, sizes, strict=False):
            shape = np.shape(_strip(x))
            dt = np.result_type(_strip(x))
            t = np.zeros((total, n), dt)
            t[offset : offset + n] = np.eye(n, dtype=dt)
            full[a] = Dual(x, trace, t.reshape((total,) + shape))
            offset += n
        out = fun(*full)
        out_shape = np.shape(_strip(out))
        if isinstance(out, Dual) and out._trace is trace and out._tangent is not None:
            t_out = out._tangent
        else:
            t_out = np.zeros((total,) + out_shape, np.result_type(_strip(out)))
        nd = len(out_shape)
        # (B, *out) -> (*out, B)
        t_out = OPS["transpose"](t_out, tuple(range(1, nd + 1)) + (0,))
        jacs = []
        offset = 0
        for x, n in zip(xs, sizes, strict=False):
            part = OPS["getitem"](t_out, (Ellipsis, slice(offset, offset + n)))
            jacs.append(OPS["reshape"](part, out_shape + np.shape(_strip(x))))
            offset += n
        return jacs[0] if single else tuple(jacs)

    return jacfwd_f


def hessian(fun: Callable, argnums: int = 0) -> Callable:
    """The Hessian, forward-over-reverse: ``jacfwd(grad(f))``.

    >>> import autodiff.numpy as anp
    >>> hessian(lambda x: anp.sum(x ** 3))(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return jacfwd(grad(fun, argnums), argnums)


def hvp(fun: Callable, primals: Sequence, tangents: Sequence) -> Any:
    """Hessian-vector product ``H·v``, forward-over-reverse, without forming ``H``.

    >>> import autodiff.numpy as anp
    >>> hvp(lambda x: anp.sum(x ** 3), (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))
    array([6., 0.])
    """
    argnums = tuple(range(len(primals)))
    g = grad(fun, argnums if len(primals) > 1 else 0)
    return jvp(g, tuple(primals), tuple(tangents))[1]
