"""``autodiff.scipy.linalg``: differentiable scipy.linalg (real matrices, not batched).

Triangular, Cholesky, banded and Sylvester solves, the matrix square root and exponential
are primitives whose rules call the same solvers again (so they have derivatives of any
order). ``cholesky``, ``inv``, ``det`` and ``solve`` are those of ``autodiff.numpy.linalg``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import scipy.linalg as _sp

from ..numpy import linalg as _nla
from ..numpy._fallback import numpy_fallback as _numpy_fallback
from ..numpy.indexing import getitem
from ..numpy.products import matmul
from ..numpy.reductions import sum as _sum
from ..numpy.shape import concatenate, reshape, swapaxes
from ..primitive import _strip, defop

__all__ = [
    "solve_triangular", "cho_factor", "cho_solve", "solve_banded", "solve_sylvester",
    "sqrtm", "expm", "cholesky", "inv", "det", "solve",
]  # fmt: skip


def _mT(x):
    return swapaxes(x, -1, -2)


def _outer(u, x):
    """``u x^T`` for vectors, ``u @ x^T`` for matrices (the right-hand sides of a solve)."""
    if np.ndim(_strip(u)) == 1:
        return reshape(u, (-1, 1)) * reshape(x, (1, -1))
    return matmul(u, _mT(x))


def _dtype(x) -> np.dtype:
    return np.result_type(_strip(x))


@functools.lru_cache(maxsize=64)
def _tri(n: int, lower: bool, k: int, dtype: np.dtype) -> np.ndarray:
    """The constant mask of a triangle: ``k`` as in np.tril (lower) or np.triu (upper)."""
    ones = np.ones((n, n), dtype)
    out = np.tril(ones, k) if lower else np.triu(ones, k)
    out.flags.writeable = False
    return out


# solve_triangular ---------------------------------------------------------------------------
def _trans(trans) -> int:
    """0 for ``a x = b``, 1 for ``a^T x = b`` (``'C'`` is ``'T'`` for real matrices)."""
    t = {"N": 0, "T": 1, "C": 1, 0: 0, 1: 1, 2: 1}.get(trans)
    if t is None:
        raise ValueError(f"trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}.")
    return t


def _solve_triangular(
    a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True
):
    return _sp.solve_triangular(
        a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal, check_finite=check_finite
    )


def _st_mask(a, lower, unit_diagonal):
    """The entries of ``a`` that the solve reads."""
    n = np.shape(_strip(a))[-1]
    return _tri(n, bool(lower), (-1 if lower else 1) if unit_diagonal else 0, _dtype(a))


def _solve_triangular_vjp(g, ans, a, b, trans=0, lower=False, unit_diagonal=False, *_, **__):
    t = _trans(trans)
    gb = solve_triangular(a, g, trans=1 - t, lower=lower, unit_diagonal=unit_diagonal)
    ga = -_outer(gb, ans) if t == 0 else -_outer(ans, gb)
    return ga * _st_mask(a, lower, unit_diagonal), gb


def _solve_triangular_jvp(ts, ans, a, b, trans=0, lower=False, unit_diagonal=False, *_, **__):
    ta, tb = ts[:2]
    t = _trans(trans)
    rhs = tb
    if ta is not None:  # d(op(a)) x, then x' = op(a)^{-1} (db - d(op(a)) x)
        da = ta * _st_mask(a, lower, unit_diagonal)
        dax = matmul(da if t == 0 else _mT(da), ans)
        rhs = -dax if rhs is None else rhs - dax
    return solve_triangular(a, rhs, trans=t, lower=lower, unit_diagonal=unit_diagonal)


solve_triangular = defop(
    _solve_triangular,
    name="solve_triangular",
    vjp_all=_solve_triangular_vjp,
    jvp_all=_solve_triangular_jvp,
)


# Cholesky: cho_factor, cho_solve ------------------------------------------------------------
def _other(n, lower, dtype):
    """The strict triangle of ``c`` that ``cho_factor`` copies from ``a``."""
    return _tri(n, not lower, 1 if lower else -1, dtype)


def _factor(c, lower):
    """The lower Cholesky factor ``L`` held in the ``lower`` (or upper) triangle of ``c``."""
    n = np.shape(_strip(c))[-1]
    tri = c * _tri(n, lower, 0, _dtype(c))
    return tri if lower else _mT(tri)


def _cho_factor(a, lower=False):
    return _sp.cho_factor(a, lower=lower)[0]


def _cho_factor_vjp(g, ans, a, lower=False):
    # Murray (2016), "Differentiation of the Cholesky decomposition", Eq. (10):
    # S = L^{-T} Phi(L^T Lbar) L^{-1}; the solver reads one triangle of a, which gets
    # S + S^T off the diagonal and S on it. c's other triangle holds a's entries unchanged.
    n = np.shape(_strip(a))[-1]
    dt = _dtype(ans)
    L = _factor(ans, lower)
    Lbar = _factor(g, lower)
    phi = _tri(n, True, 0, dt) - 0.5 * np.eye(n, dtype=dt)
    p = matmul(_mT(L), Lbar) * phi
    x = solve_triangular(L, p, trans=1, lower=True)
    s = _mT(solve_triangular(L, _mT(x), trans=1, lower=True))
    read = phi if lower else phi.T
    return (s + _mT(s)) * read + g * _other(n, lower, dt)


def _cho_factor_jvp(t, ans, a, lower=False):
    # dL = L Phi(L^{-1} dA L^{-T}), dA the symmetric matrix of the triangle that is read
    n = np.shape(_strip(a))[-1]
    dt = _dtype(ans)
    L = _factor(ans, lower)
    strict = t * _tri(n, lower, -1 if lower else 1, dt)
    da = strict + _mT(strict) + t * np.eye(n, dtype=dt)
    x = solve_triangular(L, da, lower=True)
    y = _mT(solve_triangular(L, _mT(x), lower=True))
    phi = _tri(n, True, 0, dt) - 0.5 * np.eye(n, dtype=dt)
    dL = matmul(L, y * phi)
    return (dL if lower else _mT(dL)) + t * _other(n, lower, dt)


_cho_factor_prim = defop(_cho_factor, name="cho_factor", vjp=_cho_factor_vjp, jvp=_cho_factor_jvp)


def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """``scipy.linalg.cho_factor``: ``(c, lower)``, differentiable in ``a``.

    Only the ``lower`` (or upper) triangle of ``a`` is read; ``c``'s other triangle is
    ``a``'s, as in SciPy.

    >>> c, low = cho_factor(np.array([[4.0, 2.0], [2.0, 5.0]]), lower=True)
    >>> c
    array([[2., 2.],
           [1., 2.]])
    """
    return _cho_factor_prim(a, lower=bool(lower)), bool(lower)


def _cho_solve(c, b, lower=False):
    return _sp.cho_solve((c, lower), b)


def _cho_solve_vjp(g, ans, c, b, lower=False):
    gb = _cho_solve_prim(c, g, lower=lower)
    ga = -_outer(gb, ans)  # cotangent of A = L L^T
    sym = ga + _mT(ga)
    n = np.shape(_strip(c))[-1]
    mask = _tri(n, lower, 0, _dtype(c))
    tri = c * mask
    gc = matmul(sym, tri) if lower else matmul(tri, sym)
    return gc * mask, gb


def _cho_solve_jvp(ts, ans, c, b, lower=False):
    tc, tb = ts[:2]
    rhs = tb
    if tc is not None:
        L = _factor(c, lower)
        dL = _factor(tc, lower)
        dl_lt = matmul(dL, _mT(L))
        dax = matmul(dl_lt + _mT(dl_lt), ans)
        rhs = -dax if rhs is None else rhs - dax
    return _cho_solve_prim(c, rhs, lower=lower)


_cho_solve_prim = defop(
    _cho_solve, name="cho_solve", vjp_all=_cho_solve_vjp, jvp_all=_cho_solve_jvp
)


def cho_solve(c_and_lower: tuple, b: Any, overwrite_b: bool = False, check_finite: bool = True):
    """``scipy.linalg.cho_solve``: ``A^{-1} b`` from ``cho_factor``; differentiable in c and b.

    >>> c = cho_factor(np.array([[4.0, 2.0], [2.0, 5.0]]))
    >>> cho_solve(c, np.array([6.0, 7.0]))
    array([1., 1.])
    """
    c, lower = c_and_lower
    return _cho_solve_prim(c, b, lower=bool(lower))


# solve_banded -------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _band_index(lower: int, upper: int, n: int) -> dict:
    """Constant gathers for the band form ``ab[u + i - j, j] = A[i, j]``.

    Each is an index into a ``(l + u + 1, n)`` array with a 0/1 mask of the entries inside
    the matrix: ``rows[k, j] = k + j - u`` (the row ``i`` of band entry ``(k, j)``),
    ``cols[k, i] = i + u - k`` (the column ``j`` of row ``i``'s entry on diagonal ``k``),
    and ``(trows, tcols)``: where ``ab`` holds entry ``(k, j)`` of the band form of ``A^T``.
    """
    k = np.arange(lower + upper + 1)[:, None]
    j = np.arange(n)[None, :]
    shape = (lower + upper + 1, n)

    def inside(x):
        return np.clip(x, 0, n - 1), ((x >= 0) & (x < n)).astype(float)

    return {
        "k": np.broadcast_to(k, shape),
        "rows": inside(k + j - upper),
        "cols": inside(j + upper - k),
        "trows": np.broadcast_to(lower + upper - k, shape),
        "tcols": inside(j + k - lower),
    }


def _band_transpose(ab, lower, upper):
    idx = _band_index(lower, upper, np.shape(_strip(ab))[-1])
    tcols, mask = idx["tcols"]
    return getitem(ab, (idx["trows"], tcols)) * mask.astype(_dtype(ab))


def _solve_banded(ab, b, l_and_u=(0, 0)):
    return _sp.solve_banded(l_and_u, ab, b)


def _solve_banded_vjp(g, ans, ab, b, l_and_u=(0, 0)):
    lower, upper = l_and_u
    n = np.shape(_strip(ab))[-1]
    gb = _solve_banded_prim(_band_transpose(ab, lower, upper), g, l_and_u=(upper, lower))
    rows, mask = _band_index(lower, upper, n)["rows"]
    # the cotangent of A is -gb x^T; keep its band entries A[k + j - u, j]
    gx = getitem(gb, rows) * ans
    if np.ndim(_strip(ans)) == 2:
        gx = _sum(gx, axis=-1)
    return -gx * mask.astype(_dtype(gx)), gb


def _solve_banded_jvp(ts, ans, ab, b, l_and_u=(0, 0)):
    tab, tb = ts[:2]
    rhs = tb
    if tab is not None:
        lower, upper = l_and_u
        n = np.shape(_strip(ab))[-1]
        idx = _band_index(lower, upper, n)
        cols, mask = idx["cols"]
        band = getitem(tab, (idx["k"], cols)) * mask.astype(_dtype(tab))  # dA[i, i + u - k]
        xs = getitem(ans, cols)
        if np.ndim(_strip(ans)) == 2:
            band = reshape(band, band.shape + (1,))
        dax = _sum(band * xs, axis=0)
        rhs = -dax if rhs is None else rhs - dax
    return _solve_banded_prim(ab, rhs, l_and_u=l_and_u)


_solve_banded_prim = defop(
    _solve_banded, name="solve_banded", vjp_all=_solve_banded_vjp, jvp_all=_solve_banded_jvp
)


def solve_banded(
    l_and_u: tuple,
    ab: Any,
    b: Any,
    overwrite_ab: bool = False,
    overwrite_b: bool = False,
    check_finite: bool = True,
):
    """``scipy.linalg.solve_banded``, differentiable in ``ab`` and ``b``.

    >>> ab = np.array([[0.0, 1.0], [2.0, 2.0]])  # upper diagonal, then the diagonal
    >>> solve_banded((0, 1), ab, np.array([3.0, 2.0]))
    array([1., 1.])
    """
    lower, upper = (int(x) for x in l_and_u)
    return _solve_banded_prim(ab, b, l_and_u=(lower, upper))


# Sylvester equation, square root and exponential ---------------------------------------------
def _sylvester_vjp(g, ans, a, b, q):
    # <G, L^{-1}(R)> = <L^{-T}(G), R> with L(X) = a X + X b and L^T(Y) = a^T Y + Y b^T
    y = solve_sylvester(_mT(a), _mT(b), g)
    return -matmul(y, _mT(ans)), -matmul(_mT(ans), y), y


def _sylvester_jvp(ts, ans, a, b, q):
    ta, tb, tq = ts
    rhs = tq
    for part in (None if ta is None else matmul(ta, ans), None if tb is None else matmul(ans, tb)):
        if part is not None:
            rhs = -part if rhs is None else rhs - part
    return solve_sylvester(a, b, rhs)


solve_sylvester = defop(
    _sp.solve_sylvester,
    name="solve_sylvester",
    vjp_all=_sylvester_vjp,
    jvp_all=_sylvester_jvp,
)


def _sqrtm(A):
    return _sp.sqrtm(A)


# X X = A gives X dX + dX X = dA: a Sylvester equation in dX (and its transpose for the VJP)
sqrtm = defop(
    _sqrtm,
    name="sqrtm",
    vjp=lambda g, ans, A: solve_sylvester(_mT(ans), _mT(ans), g),
    jvp=lambda t, ans, A: solve_sylvester(ans, ans, t),
)


def _expm_frechet(A, E):
    """``D expm(A)[E]``: the upper right block of ``expm([[A, E], [0, A]])`` (Van Loan, 1978)."""
    n = np.shape(_strip(A))[-1]
    zeros = np.zeros(np.shape(_strip(A)), _dtype(A))
    top = concatenate([A, E], axis=-1)
    bottom = concatenate([zeros, A], axis=-1)
    return getitem(
        expm(concatenate([top, bottom], axis=-2)), (Ellipsis, slice(0, n), slice(n, None))
    )


expm = defop(
    _sp.expm,
    name="expm",
    vjp=lambda g, ans, A: _expm_frechet(_mT(A), g),
    jvp=lambda t, ans, A: _expm_frechet(A, t),
)


# Re-exports of autodiff.numpy.linalg, looked up when called ---------------------------------
def cholesky(a: Any, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """``scipy.linalg.cholesky``: the upper factor unless ``lower`` (a must be symmetric).

    >>> cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 1.],
           [0., 2.]])
    """
    L = _nla.cholesky(a)
    return L if lower else _mT(L)


def inv(a: Any, overwrite_a: bool = False, check_finite: bool = True):
    """``scipy.linalg.inv``.

    >>> inv(np.array([[2.0, 0.0], [0.0, 4.0]]))
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """
    return _nla.inv(a)


def det(a: Any, overwrite_a: bool = False, check_finite: bool = True):
    """``scipy.linalg.det``.

    >>> round(float(det(np.array([[2.0, 1.0], [1.0, 3.0]]))), 12)
    5.0
    """
    return _nla.det(a)


def solve(a: Any, b: Any, lower: bool = False, overwrite_a: bool = False,
          overwrite_b: bool = False, check_finite: bool = True, assume_a: str | None = None,
          transposed: bool = False):  # fmt: skip
    """``scipy.linalg.solve`` (``assume_a`` other than general needs a symmetric ``a``).

    >>> solve(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([2.0, 2.0]))
    array([1. , 0.5])
    """
    return _nla.solve(_mT(a) if transposed else a, b)


def __getattr__(name: str):
    return _numpy_fallback(name, _sp, "scipy.linalg", globals())
