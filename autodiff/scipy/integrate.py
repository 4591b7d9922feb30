"""``autodiff.scipy.integrate``: ``odeint`` differentiable by the adjoint method."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.integrate as _sp

from ..custom import custom_vjp
from ..numpy._fallback import numpy_fallback as _numpy_fallback
from ..numpy.creation import array
from ..primitive import Traced, _strip
from ..tape import Tape
from ..tree import tree_flatten, tree_unflatten

__all__ = ["odeint"]

# step-size controls that also make sense for the backward (augmented) system
_BACKWARD_KW = ("rtol", "atol", "mxstep", "hmax", "hmin", "mxordn", "mxords")


def _is_float(x: Any) -> bool:
    return np.issubdtype(np.result_type(_strip(x)), np.inexact)


def _check_reverse_only(leaves: list) -> None:
    traces = {x._trace for x in leaves if isinstance(x, Traced)}
    nested = any(isinstance(x._value, Traced) for x in leaves if isinstance(x, Traced))
    if any(not isinstance(tr, Tape) for tr in traces):
        raise NotImplementedError(
            "autodiff.scipy.integrate.odeint has no forward-mode rule (jvp, jacfwd, hessian). "
            "Use reverse mode (grad, vjp, jacobian)."
        )
    if len(traces) > 1 or nested:
        raise NotImplementedError(
            "autodiff.scipy.integrate.odeint is differentiable once (reverse mode): its "
            "gradient by the adjoint method cannot be differentiated again."
        )


def odeint(func: Callable, y0: Any, t: Any, args: Any = (), **kwargs: Any) -> Any:
    """``scipy.integrate.odeint``, differentiable in ``y0``, ``t`` and ``args`` (reverse mode).

    ``func(y, t, *args)`` must be written with ``autodiff.numpy``; ``args`` may hold pytrees
    of arrays. The gradient integrates the adjoint system backwards between the time points
    (Chen et al. 2018, "Neural Ordinary Differential Equations", Algorithm 1) with the
    same ``rtol``/``atol``; it needs no storage of the forward steps.

    >>> import autodiff.numpy as anp
    >>> from autodiff import grad
    >>> decay = lambda y, t, k: -k * y
    >>> t = np.array([0.0, 1.0])
    >>> g = grad(lambda k: odeint(decay, np.ones(1), t, (k,), rtol=1e-10, atol=1e-10)[1, 0])
    >>> round(float(g(0.5)), 6)  # d/dk exp(-k) = -exp(-k)
    -0.606531
    """
    args = args if isinstance(args, tuple) else (args,)
    y0, t = (array(x) if isinstance(x, list | tuple) else x for x in (y0, t))
    leaves = tree_flatten((y0, t, args))[0]
    if not any(isinstance(x, Traced) for x in leaves):
        return _sp.odeint(func, y0, t, args=args, **kwargs)
    _check_reverse_only(leaves)
    if kwargs.pop("full_output", False):
        raise NotImplementedError(
            "autodiff.scipy.integrate.odeint has no full_output on traced inputs; call it "
            "without full_output (and with plain arrays for the solver's diagnostics)."
        )
    if kwargs.pop("tfirst", False):
        user_func = func

        def func(y, t, *args):
            return user_func(t, y, *args)

    def solve(y0, t, args):
        return _sp.odeint(func, y0, t, args=args, **kwargs)

    def fwd(y0, t, args):
        ys = solve(y0, t, args)
        return ys, (ys, y0, t, args)

    def bwd(res, g):
        ys, y0, t, args = res
        if isinstance(g, Traced):
            raise NotImplementedError(
                "autodiff.scipy.integrate.odeint is differentiable once (reverse mode) only."
            )
        gy0, gt, gargs = _adjoint(func, ys, np.asarray(t), args, np.asarray(g), kwargs)
        return np.reshape(gy0, np.shape(y0)).astype(np.result_type(y0, float)), gt, gargs

    solve.__name__ = "odeint"
    op = custom_vjp(solve)
    op.defvjp(fwd, bwd)
    return op(y0, t, args)


def _adjoint(func: Callable, ys, t, args: tuple, g, kwargs: dict) -> tuple:
    """Cotangents of ``y0``, ``t`` and ``args`` (Algorithm 1 of Chen et al., 2018).

    Between ``t[i]`` and ``t[i-1]`` the state ``[y, a, a_args]`` runs backwards with
    ``y' = f``, ``a' = -a^T df/dy`` and ``a_args' = -a^T df/dargs``; ``a`` jumps by ``g[i-1]``
    at each time point. A time point's own cotangent is ``g[i] . f(y_i, t_i)``; that of
    ``t[0]`` is ``-a(t0) . f(y0, t0)`` with ``a(t0)`` before the jump of ``g[0]`` (``ys[0]``
    is ``y0`` whatever ``t[0]``).
    """
    from ..api import vjp

    n_t, dim = ys.shape
    g = np.reshape(g, ys.shape)
    arg_leaves, arg_def = tree_flatten(args)
    diff = [i for i, x in enumerate(arg_leaves) if _is_float(x)]
    shapes = [np.shape(arg_leaves[i]) for i in diff]
    sizes = [int(np.prod(s)) for s in shapes]

    def call(y, ti, diff_leaves):
        full = list(arg_leaves)
        for i, x in zip(diff, diff_leaves, strict=True):
            full[i] = x
        return func(y, ti, *tree_unflatten(arg_def, full))

    def f(y, ti):
        return np.reshape(np.asarray(call(y, ti, [arg_leaves[i] for i in diff])), -1)

    def augmented(state, ti):
        y, a = state[:dim], state[dim : 2 * dim]
        out, f_vjp = vjp(lambda y, *d: call(y, ti, d), y, *[arg_leaves[i] for i in diff])
        cts = f_vjp(np.reshape(-a, np.shape(out)))
        flat = [np.reshape(np.asarray(out), -1), np.reshape(np.asarray(cts[0]), -1)]
        flat += [np.reshape(np.asarray(c, dtype=float), -1) for c in cts[1:]]
        return np.concatenate(flat)

    back_kw = {k: v for k, v in kwargs.items() if k in _BACKWARD_KW}
    if np.ndim(back_kw.get("atol", 0)):
        back_kw["atol"] = float(np.min(back_kw["atol"]))
    a = g[-1].astype(float)
    a_args = np.zeros(sum(sizes))
    gt = np.zeros(n_t)
    for i in range(n_t - 1, 0, -1):
        gt[i] = f(ys[i], t[i]) @ g[i]
        state = np.concatenate([ys[i], a, a_args])
        state = _sp.odeint(augmented, state, np.array([t[i], t[i - 1]], float), **back_kw)[1]
        a, a_args = state[dim : 2 * dim], state[2 * dim :]
        if i == 1:
            gt[0] = -(f(ys[0], t[0]) @ a)
        a = a + g[i - 1]
    pieces = np.split(a_args, np.cumsum(sizes)[:-1]) if sizes else []
    cts: list = [np.zeros(np.shape(x)) for x in arg_leaves]
    for i, p, s in zip(diff, pieces, shapes, strict=True):
        cts[i] = np.reshape(p, s).astype(np.result_type(arg_leaves[i], float))
    return a, np.reshape(gt, np.shape(t)), tree_unflatten(arg_def, cts)


def __getattr__(name: str):
    return _numpy_fallback(name, _sp, "scipy.integrate", globals())
