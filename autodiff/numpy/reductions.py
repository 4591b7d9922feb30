"""Reductions over axes (sum, prod, max, var, ...) and cumulative scans, with ``axis``/``keepdims``.

``axis`` is None, an int (negative allowed) or a tuple, as in NumPy. Choices at
non-differentiable points: ``max``/``min`` share the cotangent equally among
ties (``g * mask / count``). ``prod`` and ``cumprod`` never divide by zero: with
zeros in the input they use products of the other entries (exclusive
left/right products, and for ``cumprod`` a linear recurrence solved by
doubling), which stay exact to any order.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from ..primitive import _strip, defop
from .elementwise import conj, real, sqrt, where
from .shape import broadcast_to, flip, reshape, transpose

__all__ = ["sum", "mean", "prod", "max", "min", "amax", "amin", "ptp", "var", "std",
           "cumsum", "cumprod", "nansum", "nanmean", "average", "diff", "trapezoid",
           "trapz"]  # fmt: skip


def _normalize_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int | np.integer):
        axis = (axis,)
    return tuple(int(a) % ndim if ndim else 0 for a in axis)


def _kept_shape(shape, axis):
    axes = _normalize_axis(axis, len(shape))
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _keepdims(g, shape, axis, keepdims):
    """A reduced ``g`` with the reduced axes put back as size 1 (broadcasts against the input)."""
    if keepdims or not len(shape):
        return g
    return g.reshape(_kept_shape(shape, axis))  # the method: anp.reshape when traced


def _expand_reduced(g, shape, axis, keepdims):
    """Broadcast a reduced cotangent ``g`` back to the input ``shape``."""
    if axis is not None:  # (a full reduction's scalar broadcasts as it is)
        g = _keepdims(g, shape, axis, keepdims)
    if type(g) is np.ndarray or isinstance(g, np.generic):  # plain: nothing to record
        if math.prod(shape) <= _SMALL:  # a copy is cheaper than np.broadcast_to's view
            out = np.empty(shape, g.dtype)
            out[...] = g
            return out
        return np.broadcast_to(g, shape)
    return broadcast_to(g, shape)


_SMALL = 4096


def _count(shape, axis):
    if axis is None:
        return math.prod(shape)
    return math.prod([shape[a] for a in _normalize_axis(axis, len(shape))])


def _fast(a, dtype, out) -> bool:
    """Whether the ufunc's reduce gives exactly np.sum/np.mean (skips their Python layers)."""
    return (
        type(a) is np.ndarray
        and dtype is None
        and out is None
        and a.dtype.kind in "fc"
        and (a.dtype.itemsize >= 4)
    )


def _sum(a, axis=None, dtype=None, out=None, keepdims=False):
    if _fast(a, dtype, out):
        return np.add.reduce(a, axis=axis, keepdims=keepdims)
    return np.sum(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims)


sum = defop(  # noqa: A001
    _sum,
    name="sum",
    vjp=lambda g, ans, a, axis=None, dtype=None, out=None, keepdims=False: _expand_reduced(
        g, a.shape, axis, keepdims
    ),
    jvp="linear",
)


def _mean(a, axis=None, dtype=None, out=None, keepdims=False):
    if _fast(a, dtype, out) and a.size:
        total = np.add.reduce(a, axis=axis, keepdims=keepdims)
        return total / (a.size // total.size if type(total) is np.ndarray else a.size)
    return np.mean(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims)


mean = defop(
    _mean,
    name="mean",
    vjp=lambda g, ans, a, axis=None, dtype=None, out=None, keepdims=False: _expand_reduced(
        g / _count(a.shape, axis), a.shape, axis, keepdims
    ),
    jvp="linear",
)


# Products -----------------------------------------------------------------------------------
def _shift(x, k, axis):
    """``x`` shifted by ``k`` places along ``axis`` (right if k > 0), zero-filled."""
    out = np.zeros_like(x)
    axis %= x.ndim
    n = x.shape[axis]
    pre = (slice(None),) * axis
    if abs(k) < n:
        if k >= 0:
            out[pre + (slice(k, n),)] = x[pre + (slice(0, n - k),)]
        else:
            out[pre + (slice(0, n + k),)] = x[pre + (slice(-k, n),)]
    return out


_shift_prim = defop(
    _shift,
    name="_scan_shift",
    vjp=lambda g, ans, x, k, axis: _shift_prim(g, -k, axis),
    jvp="linear",
)


def _first_one(x, axis):
    """A constant one-hot (1 at index 0 along ``axis``) that broadcasts against ``x``."""
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    e = np.zeros(shape, np.result_type(_strip(x)))
    e[(0,) * x.ndim] = 1
    return e


def _exclusive_cumprod(x, axis):
    """``[1, x0, x0 x1, ...]``: the product of the entries before each one, along ``axis``."""
    return cumprod(_shift_prim(x, 1, axis) + _first_one(x, axis), axis=axis)


def _linear_scan(b, a, axis):
    """``u`` with ``u_i = b_i + a_i u_{i-1}`` (``u_{-1} = 0``) along ``axis``.

    Hillis-Steele doubling: log2(n) vectorized steps, each composing the recurrence
    with itself shifted by ``span``; written with primitives, so it differentiates.
    """
    n = b.shape[axis]
    span = 1
    while span < n:
        b = b + a * _shift_prim(b, span, axis)
        if 2 * span < n:
            a = a * _shift_prim(a, span, axis)
        span *= 2
    return b


def _revcumsum(g, axis):
    return flip(cumsum(flip(g, axis), axis=axis), axis)


def _has_zero(x):
    return not np.all(_strip(x) != 0)


def _prod_others(a, ans, axis, keepdims, initial, where_):
    """For each entry, ``initial`` times the product of the others it is reduced with."""
    x = a if where_ is True else where(where_, a, 1)
    if not _has_zero(x):
        return _keepdims(ans, a.shape, axis, keepdims) / x
    axes = _normalize_axis(axis, a.ndim)
    rest = [i for i in range(a.ndim) if i not in axes]
    perm = tuple(rest + list(axes))
    xt = transpose(x, perm)
    lead = xt.shape[: len(rest)]
    xf = reshape(xt, lead + (_count(a.shape, axes),))
    left = _exclusive_cumprod(xf, len(lead))
    right = flip(_exclusive_cumprod(flip(xf, -1), len(lead)), -1)
    others = transpose(reshape(left * right, xt.shape), tuple(np.argsort(perm)))
    return others if initial is np._NoValue else others * initial


def _prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue, where=True):
    return np.prod(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial,
                   where=where)  # fmt: skip


def _prod_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue,
              where=True):  # fmt: skip
    grad = _keepdims(g, a.shape, axis, keepdims) * _prod_others(a, ans, axis, keepdims, initial,
                                                                 where)  # fmt: skip
    return grad if where is True else grad * where


def _prod_jvp(t, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue,
              where=True):  # fmt: skip
    w = _prod_others(a, ans, axis, keepdims, initial, where)
    return sum(t * w if where is True else t * w * where, axis=axis, keepdims=keepdims)


prod = defop(_prod, name="prod", vjp=_prod_vjp, jvp=_prod_jvp)


def _cumprod(a, axis=None, dtype=None, out=None):
    return np.cumprod(a, axis=axis, dtype=dtype, out=out)


def _cumprod_vjp(g, ans, a, axis=None, dtype=None, out=None):
    if axis is None:
        return reshape(_cumprod_vjp(g, ans, reshape(a, (-1,)), 0), a.shape)
    ax = axis % a.ndim
    if not _has_zero(a):
        return _revcumsum(g * ans, ax) / a
    # d ans_i / d a_j = (prod_{k<j} a_k)(prod_{j<k<=i} a_k): the second factor, summed
    # against g, is s_j = g_j + a_{j+1} s_{j+1}, a recurrence run backwards along the axis
    s = flip(_linear_scan(flip(g, ax), _shift_prim(flip(a, ax), 1, ax), ax), ax)
    return _exclusive_cumprod(a, ax) * s


def _cumprod_jvp(t, ans, a, axis=None, dtype=None, out=None):
    if axis is None:
        return _cumprod_jvp(reshape(t, (-1,)), ans, reshape(a, (-1,)), 0)
    ax = axis % a.ndim
    if not _has_zero(a):
        return ans * cumsum(t / a, axis=ax)
    # d ans_i = a_i d ans_{i-1} + ans_{i-1} t_i
    return _linear_scan(_exclusive_cumprod(a, ax) * t, a, ax)


cumprod = defop(_cumprod, name="cumprod", vjp=_cumprod_vjp, jvp=_cumprod_jvp)


def _cumsum(a, axis=None, dtype=None, out=None):
    return np.cumsum(a, axis=axis, dtype=dtype, out=out)


def _cumsum_vjp(g, ans, a, axis=None, dtype=None, out=None):
    if axis is None:
        return reshape(_revcumsum(g, 0), a.shape)
    return _revcumsum(g, axis % a.ndim)


cumsum = defop(_cumsum, name="cumsum", vjp=_cumsum_vjp, jvp="linear")


# Extrema ------------------------------------------------------------------------------------
def _tie_weights(a, ans, axis, keepdims, where_):
    """``mask / count``: 1/k at each of the k entries attaining the extremum, 0 elsewhere."""
    x = _strip(a)
    mask = x == _keepdims(_strip(ans), x.shape, axis, keepdims)
    if where_ is not True:
        mask = mask & _strip(where_)
    count = np.sum(mask, axis=_normalize_axis(axis, x.ndim), keepdims=True)
    return (mask / np.maximum(count, 1)).astype(x.dtype)


def _extremum(np_fun, name):
    def fun(a, axis=None, out=None, keepdims=False, initial=np._NoValue, where=True):
        return np_fun(a, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)

    def vjp(g, ans, a, axis=None, out=None, keepdims=False, initial=np._NoValue, where=True):
        w = _tie_weights(a, ans, axis, keepdims, where)
        return _keepdims(g, a.shape, axis, keepdims) * w

    def jvp(t, ans, a, axis=None, out=None, keepdims=False, initial=np._NoValue, where=True):
        return sum(t * _tie_weights(a, ans, axis, keepdims, where), axis=axis, keepdims=keepdims)

    return defop(fun, name=name, vjp=vjp, jvp=jvp)


max = _extremum(np.max, "max")  # noqa: A001
min = _extremum(np.min, "min")  # noqa: A001
amax = max
amin = min


def ptp(a, axis=None, out=None, keepdims=False):
    """``np.ptp``: ``max - min``."""
    return max(a, axis, keepdims=keepdims) - min(a, axis, keepdims=keepdims)


# Moments ------------------------------------------------------------------------------------
def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    return np.var(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims)


def _centered(a, axis):
    """``a - mean(a)``, conjugated for complex ``a`` (d|z|^2 = 2 Re(conj(z) dz))."""
    d = a - mean(a, axis=axis, keepdims=True)
    return conj(d) if np.iscomplexobj(_strip(a)) else d


def _var_vjp(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    scale = 2.0 / (_count(a.shape, axis) - ddof)
    return _keepdims(g, a.shape, axis, keepdims) * _centered(a, axis) * scale


def _var_jvp(t, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    scale = 2.0 / (_count(a.shape, axis) - ddof)
    dt = _centered(a, axis) * t
    if np.iscomplexobj(_strip(a)):
        dt = real(dt)
    return sum(dt, axis=axis, keepdims=keepdims) * scale


var = defop(_var, name="var", vjp=_var_vjp, jvp=_var_jvp)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """``np.std`` as ``sqrt(var)`` (NumPy computes it the same way)."""
    return sqrt(var(a, axis, dtype, None, ddof, keepdims))


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """``np.average``, differentiable in ``a`` and ``weights``."""
    a = _asarray(a)
    if weights is None:
        avg = mean(a, axis, keepdims=keepdims)
        scl = np.asarray(a.size / builtins.max(avg.size, 1), dtype=np.result_type(_strip(avg)))
    else:
        w = _asarray(weights)
        if a.shape != w.shape:
            if axis is None:
                raise TypeError(
                    f"average: weights of shape {w.shape} differ from a of shape {a.shape}; "
                    "pass axis to say which axis they weight."
                )
            axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
            axes = tuple(int(ax) % a.ndim for ax in axes)
            if w.shape != tuple(a.shape[ax] for ax in axes):
                raise ValueError(
                    f"average: weights of shape {w.shape} do not match a.shape {a.shape} along "
                    f"axis {axis}."
                )
            w = transpose(w, tuple(np.argsort(axes)))
            w = reshape(w, tuple(s if i in axes else 1 for i, s in enumerate(a.shape)))
        scl = sum(broadcast_to(w, a.shape), axis, keepdims=keepdims)
        avg = sum(a * w, axis, keepdims=keepdims) / scl
    if returned:
        return avg, broadcast_to(scl, avg.shape)
    return avg


def nansum(a, axis=None, dtype=None, out=None, keepdims=False):
    """``np.nansum``: NaNs count as 0 (and get a zero gradient)."""
    a = _asarray(a)
    return sum(where(np.isnan(_strip(a)), 0, a), axis, dtype, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False):
    """``np.nanmean``: the mean of the non-NaN entries."""
    a = _asarray(a)
    n = np.sum(~np.isnan(_strip(a)), axis=axis, keepdims=keepdims)
    return nansum(a, axis, dtype, keepdims=keepdims) / n.astype(np.result_type(_strip(a)))


# Differences and integrals ------------------------------------------------------------------
def diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    """``np.diff`` as differences of shifted slices."""
    from .shape import concatenate

    if n < 0:
        raise ValueError(f"diff: order n must be non-negative, got {n}.")
    if n == 0:
        return a
    a = _asarray(a)
    if a.ndim == 0:
        raise ValueError("diff requires an input of at least one dimension, got a 0-d array.")
    axis = axis % a.ndim
    parts = []
    for extra in (prepend, a, append):
        if extra is np._NoValue:
            continue
        if isinstance(extra, int | float) and np.issubdtype(np.result_type(_strip(a)), np.inexact):
            extra = np.asarray(extra, dtype=np.result_type(_strip(a)))  # keep float32 float32
        extra = _asarray(extra)
        if extra is not a and extra.ndim == 0:
            extra = broadcast_to(extra, a.shape[:axis] + (1,) + a.shape[axis + 1 :])
        parts.append(extra)
    if len(parts) > 1:
        a = concatenate(parts, axis=axis)
    pre = (slice(None),) * axis
    for _ in range(n):
        a = a[pre + (slice(1, None),)] - a[pre + (slice(None, -1),)]
    return a


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """``np.trapezoid``, differentiable in ``y`` and the sample points ``x``."""
    y = _asarray(y)
    axis = axis % y.ndim
    if x is None:
        d = dx
    else:
        x = _asarray(x)
        d = diff(x, axis=-1 if x.ndim == 1 else axis)
        if x.ndim == 1:
            d = reshape(d, tuple(d.shape[0] if i == axis else 1 for i in range(y.ndim)))
    pre = (slice(None),) * axis
    mid = (y[pre + (slice(1, None),)] + y[pre + (slice(None, -1),)]) / 2.0
    return sum(d * mid, axis)


trapz = trapezoid  # NumPy < 2.0's name


def _asarray(a):
    return a if hasattr(a, "ndim") else np.asarray(a)
