"""``autodiff.numpy.linalg``: differentiable linear algebra, batched over leading axes.

Primitives: inv, solve, det, slogdet, vector_norm, and the decompositions of
``_decompositions.py`` (cholesky, eigh, eigvalsh, svd, svdvals, qr, pinv). Composed:
norm, matrix_norm, cond, lstsq, matrix_power, multi_dot, tensorinv, tensorsolve and the
NumPy 2 array-API names. ``inv``, ``solve`` and ``det`` are holomorphic, so their rules
(transposes, no conjugates) also hold for complex matrices; the rest are for real ones.
Names without a rule (eig, eigvals...) fall back to NumPy on plain arrays.
"""

from __future__ import annotations

from collections import namedtuple as _namedtuple

import numpy as _np

from ..primitive import _strip, defop
from ._decompositions import (
    EighResult,  # noqa: F401  result types, as NumPy's
    QRResult,  # noqa: F401
    SVDResult,  # noqa: F401
    cholesky,
    eigh,
    eigvalsh,
    pinv,
    qr,
    svd,
    svdvals,
)
from ._fallback import numpy_fallback as _numpy_fallback
from .elementwise import abs as _abs
from .elementwise import conj as _conj
from .elementwise import real as _real
from .elementwise import where as _where
from .products import cross as _cross
from .products import dot as _dot
from .products import einsum as _einsum
from .products import matmul, tensordot, vecdot
from .products import outer as _outer
from .reductions import sum as _sum
from .shape import moveaxis as _moveaxis
from .shape import reshape as _reshape
from .shape import swapaxes as _swapaxes

__all__ = [
    "inv", "solve", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "svd", "svdvals", "qr",
    "pinv", "norm", "vector_norm", "matrix_norm", "cond", "matrix_rank", "lstsq",
    "matrix_power", "multi_dot", "tensorinv", "tensorsolve", "matmul", "tensordot", "outer",
    "cross", "vecdot", "matrix_transpose", "diagonal", "trace",
]  # fmt: skip

SlogdetResult = _namedtuple("SlogdetResult", ["sign", "logabsdet"])


def _T(x):
    return _swapaxes(x, -1, -2)


def _col(v):
    return _reshape(v, v.shape + (1,))


def _uncol(v):
    return _reshape(v, v.shape[:-1])


def _trace(x):
    return _einsum("...ii->...", x)


def _ndim(x):
    return _np.ndim(_strip(x))


def _shape(x):
    return _np.shape(_strip(x))


# inv, solve, det -------------------------------------------------------------------------
inv = defop(
    _np.linalg.inv,
    name="inv",
    vjp=lambda g, ans, a: -(_T(ans) @ g @ _T(ans)),  # d(A^-1) = -A^-1 dA A^-1
    jvp=lambda t, ans, a: -(ans @ t @ ans),
)


def _solve_vjp(g, ans, a, b):
    # x = A^-1 b: gb = A^-T g, gA = -gb x^T. A 1-D b is one vector for every matrix.
    if b.ndim == 1:
        gb = _uncol(solve(_T(a), _col(g)))
        return -(_col(gb) * _reshape(ans, ans.shape[:-1] + (1, ans.shape[-1]))), gb
    gb = solve(_T(a), g)
    return -(gb @ _T(ans)), gb


def _solve_jvp(tangents, ans, a, b):
    # dx = A^-1 (db - dA x)
    ta, tb = tangents
    vec = b.ndim == 1
    x = _col(ans) if vec else ans
    rhs = None if tb is None else (_col(tb) if vec else tb)
    if ta is not None:
        rhs = -(ta @ x) if rhs is None else rhs - ta @ x
    dx = solve(a, rhs)
    return _uncol(dx) if vec else dx


solve = defop(_np.linalg.solve, name="solve", vjp_all=_solve_vjp, jvp_all=_solve_jvp)

# Jacobi's formula: d det A = det A tr(A^-1 dA)
det = defop(
    _np.linalg.det,
    name="det",
    vjp=lambda g, ans, a: _col(_col(g * ans)) * _T(inv(a)),
    jvp=lambda t, ans, a: ans * _trace(solve(a, t)),
)


def _slogdet_impl(a):
    return tuple(_np.linalg.slogdet(a))


def _slogdet_jvp(t, ans, a):
    sign, logdet = ans
    d = _trace(solve(a, t))
    return _np.zeros(_shape(sign), _np.result_type(_strip(sign))), _real(d)


_slogdet = defop(
    _slogdet_impl,
    name="slogdet",
    vjp=lambda g, ans, a: _col(_col(g[1])) * _T(inv(a)),  # the sign gets no gradient
    jvp=_slogdet_jvp,
    multiple_results=True,
)


def slogdet(a):
    """``np.linalg.slogdet``: ``(sign, logabsdet)``; only ``logabsdet`` has a gradient."""
    return SlogdetResult(*_slogdet(a))


# Norms -----------------------------------------------------------------------------------
def _reduced_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if isinstance(axis, int | _np.integer) else axis
    return tuple(int(a) % ndim for a in axis)


def _vector_norm_weight(ans, x, axis=None, keepdims=False, ord=2):
    """``w`` with d norm = sum(w * dx) (real part for complex x); None for ord 0."""
    axes = _reduced_axes(axis, x.ndim)
    n = (
        ans
        if keepdims
        else _reshape(ans, tuple(1 if i in axes else s for i, s in enumerate(x.shape)))
    )
    cplx = _np.iscomplexobj(_strip(x))
    if ord == 0:
        return None
    if ord == 2 or ord is None:
        return (_conj(x) if cplx else x) / _where(n == 0, 1, n)
    ax = _abs(x)
    unit = _conj(x) / _where(ax == 0, 1, ax) if cplx else _np.sign(_strip(x))
    if ord in (_np.inf, -_np.inf):  # ties share the gradient equally
        hit = _np.asarray(_strip(ax) == _strip(n))
        return unit * (hit / _np.sum(hit, axis=axes, keepdims=True)).astype(_rdt(x))
    if ord == 1:
        return unit
    return unit * (ax / n) ** (ord - 1)


def _rdt(x):
    dt = _np.result_type(_strip(x))
    return _np.finfo(dt).dtype if dt.kind in "fc" else _np.dtype(_np.float64)


def _vector_norm_vjp(g, ans, x, axis=None, keepdims=False, ord=2):
    w = _vector_norm_weight(ans, x, axis, keepdims, ord)
    if w is None:
        return _np.zeros(x.shape, _np.result_type(_strip(x)))
    if not keepdims:
        axes = _reduced_axes(axis, x.ndim)
        g = _reshape(g, tuple(1 if i in axes else s for i, s in enumerate(x.shape)))
    return g * w


def _vector_norm_jvp(t, ans, x, axis=None, keepdims=False, ord=2):
    w = _vector_norm_weight(ans, x, axis, keepdims, ord)
    if w is None:
        return _np.zeros(_shape(ans), _np.result_type(_strip(ans)))
    d = _sum(w * t, axis=_reduced_axes(axis, x.ndim), keepdims=keepdims)
    return _real(d) if _np.iscomplexobj(_strip(d)) else d


vector_norm = defop(
    _np.linalg.vector_norm, name="vector_norm", vjp=_vector_norm_vjp, jvp=_vector_norm_jvp
)


def norm(x, ord=None, axis=None, keepdims=False):
    """``np.linalg.norm``: every vector and matrix ``ord`` of NumPy, with axis and keepdims."""
    nd = _ndim(x)
    if axis is None and ord is None:
        return vector_norm(x, axis=None, keepdims=keepdims)
    axes = _reduced_axes(axis, nd)
    if len(axes) == 1:
        if isinstance(ord, str):
            raise ValueError(f"Invalid norm order {ord!r} for vectors")
        return vector_norm(x, axis=axes[0], keepdims=keepdims, ord=2 if ord is None else ord)
    if len(axes) != 2:
        raise ValueError("Improper number of dimensions to norm.")
    r, c = axes
    if r == c:
        raise ValueError("Duplicate axes given.")
    shape = _shape(x)
    kept = tuple(1 if i in axes else s for i, s in enumerate(shape))
    if ord in (None, "fro", "f"):
        return vector_norm(x, axis=axes, keepdims=keepdims)
    if ord in (2, -2, "nuc"):
        s = svdvals(_moveaxis(x, (r, c), (-2, -1)))
        out = _sum(s, axis=-1) if ord == "nuc" else s[..., 0] if ord == 2 else s[..., -1]
    elif ord in (1, -1, _np.inf, -_np.inf):
        # max/min over one axis of the absolute sums over the other
        across, along = (r, c) if ord in (1, -1) else (c, r)
        sums = _sum(_abs(x), axis=across, keepdims=True)
        out = vector_norm(sums, axis=along, keepdims=True, ord=_np.inf if ord > 0 else -_np.inf)
    else:
        raise ValueError(f"Invalid norm order {ord!r} for matrices.")
    if keepdims:
        return _reshape(out, kept)
    return _reshape(out, tuple(s for i, s in enumerate(shape) if i not in axes))


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """``np.linalg.matrix_norm``: ``norm`` over the last two axes."""
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def cond(x, p=None):
    """``np.linalg.cond``: ratio of extreme singular values, or ``norm(x) norm(inv(x))``."""
    if p in (None, 2, -2):
        s = svdvals(x)
        return s[..., 0] / s[..., -1] if p != -2 else s[..., -1] / s[..., 0]
    return norm(x, p, axis=(-2, -1)) * norm(inv(x), p, axis=(-2, -1))


matrix_rank = defop(_np.linalg.matrix_rank, name="matrix_rank", nondiff=True)


# Compositions ----------------------------------------------------------------------------
def lstsq(a, b, rcond=None):
    """``np.linalg.lstsq`` as ``pinv(a) @ b``: ``(x, residuals, rank, s)``."""
    _, _, rank, _ = _np.linalg.lstsq(_strip(a), _strip(b), rcond=rcond)
    x = matmul(pinv(a) if rcond is None else pinv(a, rcond), b)
    m, n = _shape(a)
    if rank == n and m > n:
        r = b - matmul(a, x)
        res = _sum(_real(r * _conj(r)) if _np.iscomplexobj(_strip(r)) else r * r, axis=0)
        res = _reshape(res, (1,)) if _ndim(b) == 1 else res
    else:
        res = _np.empty((0,), _rdt(a))
    return x, res, rank, svdvals(a)


def matrix_power(a, n):
    """``np.linalg.matrix_power`` by repeated squaring (``inv`` first for ``n < 0``)."""
    if _strip(a) is a:
        return _np.linalg.matrix_power(a, n)
    if n == 0:
        shape = _shape(a)
        return _np.broadcast_to(_np.eye(shape[-1], dtype=_np.result_type(_strip(a))), shape).copy()
    if n < 0:
        a, n = inv(a), -n
    result = None
    while n:
        if n & 1:
            result = a if result is None else matmul(result, a)
        n >>= 1
        if n:
            a = matmul(a, a)
    return result


def _chain_order(dims):
    """Optimal parenthesisation of a matrix chain (Cormen et al., Sec. 15.2), as NumPy."""
    n = len(dims) - 1
    cost = _np.zeros((n, n))
    split = _np.zeros((n, n), dtype=int)
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i, j] = _np.inf
            for k in range(i, j):
                q = cost[i, k] + cost[k + 1, j] + dims[i] * dims[k + 1] * dims[j + 1]
                if q < cost[i, j]:
                    cost[i, j], split[i, j] = q, k
    return split


def multi_dot(arrays, *, out=None):
    """``np.linalg.multi_dot``: a chain of ``dot`` in the cheapest order."""
    if out is not None:
        raise TypeError("anp.linalg.multi_dot cannot write into out=; use the returned array.")
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    if len(arrays) == 2:
        return _dot(arrays[0], arrays[1])
    first, last = _ndim(arrays[0]) == 1, _ndim(arrays[-1]) == 1
    if first:
        arrays[0] = _reshape(arrays[0], (1, -1))
    if last:
        arrays[-1] = _reshape(arrays[-1], (-1, 1))
    dims = [_shape(x)[0] for x in arrays] + [_shape(arrays[-1])[1]]
    split = _chain_order(dims)

    def chain(i, j):
        if i == j:
            return arrays[i]
        return matmul(chain(i, split[i, j]), chain(split[i, j] + 1, j))

    res = chain(0, len(arrays) - 1)
    if first and last:
        return res[0, 0]
    return res[0] if first else res[:, 0] if last else res


def tensorinv(a, ind=2):
    """``np.linalg.tensorinv`` as ``inv`` of a reshaped ``a``."""
    shape = _shape(a)
    rows = int(_np.prod(shape[:ind]))
    return _reshape(inv(_reshape(a, (rows, -1))), shape[ind:] + shape[:ind])


def tensorsolve(a, b, axes=None):
    """``np.linalg.tensorsolve`` as ``solve`` of reshaped arrays."""
    an = _ndim(a)
    if axes is not None:
        order = [k for k in range(an) if k not in [ax % an for ax in axes]]
        a = _moveaxis(a, tuple(axes), tuple(range(len(order), an)))
    old = _shape(a)[-(an - _ndim(b)) :]
    size = int(_np.prod(old))
    return _reshape(solve(_reshape(a, (size, size)), _reshape(b, (-1,))), old)


# NumPy 2 array-API names ------------------------------------------------------------------
def outer(x1, x2, /):
    """``np.linalg.outer`` (1-D inputs only)."""
    if _ndim(x1) != 1 or _ndim(x2) != 1:
        raise ValueError(f"outer: inputs must be 1-D, got {_ndim(x1)}-D and {_ndim(x2)}-D.")
    return _outer(x1, x2)


def cross(x1, x2, /, *, axis=-1):
    """``np.linalg.cross`` (3-vectors only)."""
    if _shape(x1)[axis] != 3 or _shape(x2)[axis] != 3:
        raise ValueError("cross: both inputs must be 3-vectors along `axis`.")
    return _cross(x1, x2, axis=axis)


def matrix_transpose(x, /):
    """``np.linalg.matrix_transpose``: swap the last two axes."""
    return _T(x)


def diagonal(x, /, *, offset=0):
    """``np.linalg.diagonal`` of the last two axes."""
    x = x[..., :, offset:] if offset >= 0 else x[..., -offset:, :]
    k = min(_shape(x)[-2:])
    return _einsum("...ii->...i", x[..., :k, :k])


def trace(x, /, *, offset=0, dtype=None):
    """``np.linalg.trace`` of the last two axes."""
    out = _sum(diagonal(x, offset=offset), axis=-1)
    return out if dtype is None else out.astype(dtype)


def __getattr__(name: str):
    return _numpy_fallback(name, _np.linalg, "numpy.linalg", globals())
