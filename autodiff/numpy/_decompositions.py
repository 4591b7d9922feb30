"""Matrix decompositions for ``anp.linalg``: cholesky, eigh, eigvalsh, svd, svdvals, qr, pinv.

All are batched over leading axes. NumPy's ``cholesky``, ``eigh``/``eigvalsh`` and the
``hermitian=True`` paths of ``svd``/``pinv`` read one triangle of the input; they are
differentiated as functions of that triangle (a perturbation of the other triangle has
no effect), so the rules are exact for any perturbation, not only symmetric ones.
Real matrices only (the complex Hermitian rules differ). Decompositions with a sign
freedom (eigenvectors, singular vectors, QR) are differentiated along LAPACK's choice,
which is locally constant while eigenvalues and singular values stay distinct.
"""

from __future__ import annotations

import functools
from collections import namedtuple

import numpy as np

from ..primitive import _strip, defop
from .products import _mT as _T  # swaps the last two axes, plain or traced
from .reductions import sum as _sum
from .shape import concatenate, reshape

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
QRResult = namedtuple("QRResult", ["Q", "R"])

__all__ = ["cholesky", "eigh", "eigvalsh", "svd", "svdvals", "qr", "pinv"]


# Helpers ---------------------------------------------------------------------------------
def _rdtype(x):
    dt = np.result_type(_strip(x))
    return np.finfo(dt).dtype if dt.kind in "fc" else np.dtype(np.float64)


def _row(v):
    """``v[..., None, :]``: scales the columns of a matrix."""
    return reshape(v, v.shape[:-1] + (1,) + v.shape[-1:])


def _col(v):
    """``v[..., :, None]``: scales the rows of a matrix."""
    return reshape(v, v.shape + (1,))


def _diag_embed(v):
    return _col(v) * np.eye(v.shape[-1], dtype=_rdtype(v))


@functools.cache
def _masks(n, lower):
    """The triangle NumPy reads (with diagonal) and its strict part (read-only, shared)."""
    tri, strict = np.tri(n, dtype=bool), np.tri(n, k=-1, dtype=bool)
    tri, strict = (tri, strict) if lower else (tri.T, strict.T)
    tri.flags.writeable = strict.flags.writeable = False
    return tri, strict


def _sym_from(t, lower):
    """The symmetric matrix NumPy sees when it reads one triangle of ``t``."""
    tri, strict = _masks(t.shape[-1], lower)
    return t * tri + _T(t * strict)


def _sym_vjp(g, lower):
    """Adjoint of ``_sym_from``: a cotangent on the symmetric matrix, back on the triangle."""
    tri, strict = _masks(g.shape[-1], lower)
    return g * tri + _T(g) * strict


def _fmat(w):
    """``F[i, j] = 1 / (w[j] - w[i])`` off the diagonal, 0 on it."""
    eye = np.eye(w.shape[-1], dtype=_rdtype(w))
    return 1 / (_row(w) - _col(w) + eye) - eye


def _is_zero(g):
    """A cotangent the tape filled in for an unused output."""
    return isinstance(g, np.ndarray) and not g.any()


def _real_only(a, name):
    if np.iscomplexobj(_strip(a)):
        raise NotImplementedError(
            f"anp.linalg.{name} has derivative rules for real matrices only, got "
            f"{np.result_type(_strip(a))}."
        )


def _lower(uplo):
    if uplo not in ("L", "U", "l", "u"):
        raise ValueError(f"UPLO argument must be 'L' or 'U', got {uplo!r}.")
    return uplo in ("L", "l")


def _inv(a):
    from .linalg import inv  # defined beside solve and det; imported late (cycle)

    return inv(a)


# Cholesky --------------------------------------------------------------------------------
def _phi(x):
    """Lower triangle with the diagonal halved: the Phi of Murray (2016)."""
    n = x.shape[-1]
    return x * (np.tri(n, dtype=_rdtype(x)) - 0.5 * np.eye(n, dtype=_rdtype(x)))


def _cholesky_jvp(t, ans, a, upper=False):
    # dL = L Phi(L^-1 dA L^-T), Murray (2016), "Differentiation of the Cholesky
    # decomposition", arXiv:1602.07527 (forward mode)
    _real_only(a, "cholesky")
    L = _T(ans) if upper else ans
    Li = _inv(L)
    dL = L @ _phi(Li @ _sym_from(t, not upper) @ _T(Li))
    return _T(dL) if upper else dL


def _cholesky_vjp(g, ans, a, upper=False):
    # dA = L^-T Phi(L^T dL) L^-1, Murray (2016) (reverse mode), on the triangle NumPy reads
    _real_only(a, "cholesky")
    L = _T(ans) if upper else ans
    gL = _T(g) if upper else g
    Li = _inv(L)
    return _sym_vjp(_T(Li) @ _phi(_T(L) @ gL) @ Li, not upper)


cholesky = defop(np.linalg.cholesky, name="cholesky", vjp=_cholesky_vjp, jvp=_cholesky_jvp)


# Symmetric eigendecomposition ------------------------------------------------------------
def _eigh_impl(a, UPLO="L"):
    return tuple(np.linalg.eigh(a, UPLO=UPLO))


def _eigh_jvp(t, ans, a, UPLO="L"):
    # dw = diag(V^T dA V), dV = V (F o V^T dA V): Giles (2008), "An extended collection of
    # matrix derivative results for forward and reverse mode AD" (eigenvalues)
    _real_only(a, "eigh")
    w, V = ans
    M = _T(V) @ _sym_from(t, _lower(UPLO)) @ V
    return _sum(M * np.eye(w.shape[-1], dtype=_rdtype(w)), axis=-1), V @ (_fmat(w) * M)


def _eigh_vjp(g, ans, a, UPLO="L"):
    # dA = V (diag(dw) + F o V^T dV) V^T, Giles (2008)
    _real_only(a, "eigh")
    (gw, gV), (w, V) = g, ans
    inner = _diag_embed(gw)
    if not _is_zero(gV):
        inner = inner + _fmat(w) * (_T(V) @ gV)
    return _sym_vjp(V @ inner @ _T(V), _lower(UPLO))


_eigh = defop(_eigh_impl, name="eigh", vjp=_eigh_vjp, jvp=_eigh_jvp, multiple_results=True)


def eigh(a, UPLO="L"):
    """``np.linalg.eigh`` (real symmetric): eigenvalues ascending, eigenvectors as columns."""
    return EighResult(*_eigh(a, UPLO=UPLO))


def _eigvalsh_vjp(g, ans, a, UPLO="L"):
    _real_only(a, "eigvalsh")
    w, V = _eigh(a, UPLO=UPLO)
    return _sym_vjp((V * _row(g)) @ _T(V), _lower(UPLO))


def _eigvalsh_jvp(t, ans, a, UPLO="L"):
    _real_only(a, "eigvalsh")
    w, V = _eigh(a, UPLO=UPLO)
    return _sum((_sym_from(t, _lower(UPLO)) @ V) * V, axis=-2)


eigvalsh = defop(np.linalg.eigvalsh, name="eigvalsh", vjp=_eigvalsh_vjp, jvp=_eigvalsh_jvp)


# Singular value decomposition ------------------------------------------------------------
def _svd_impl(a, full_matrices=True, hermitian=False):
    return tuple(np.linalg.svd(a, full_matrices=full_matrices, hermitian=hermitian))


def _svd_check(a, full_matrices):
    _real_only(a, "svd")
    m, n = a.shape[-2:]
    if full_matrices and m != n:
        raise NotImplementedError(
            f"anp.linalg.svd of a {m}x{n} matrix is differentiable only with "
            "full_matrices=False (the extra singular vectors are not unique)."
        )


def _svd_jvp(t, ans, a, full_matrices=True, hermitian=False):
    # dP = U^T dA V; ds = diag(dP); dU = U (F o (dP S + S dP^T)) + (I - U U^T) dA V S^-1,
    # dV likewise, F[i, j] = 1 / (s_j^2 - s_i^2): Townsend (2016), "Differentiating the
    # singular value decomposition"
    _svd_check(a, full_matrices)
    U, s, Vh = ans
    dA = _sym_from(t, True) if hermitian else t
    V = _T(Vh)
    dAV = dA @ V
    dP = _T(U) @ dAV
    F = _fmat(s * s)
    dPS = dP * _row(s)
    SdP = _col(s) * dP
    ds = _sum(dP * np.eye(s.shape[-1], dtype=_rdtype(s)), axis=-1)
    dU = U @ (F * (dPS + _T(dPS)))
    dV = V @ (F * (SdP + _T(SdP)))
    m, n = a.shape[-2:]
    if m > n:
        dU = dU + (dAV - U @ dP) / _row(s)
    if n > m:
        dAtU = _T(dA) @ U
        dV = dV + (dAtU - V @ (Vh @ dAtU)) / _row(s)
    return dU, ds, _T(dV)


def _svd_vjp(g, ans, a, full_matrices=True, hermitian=False):
    # Townsend (2016), the rectangular case:
    # dA = U[(F o (U^T gU - gU^T U)) S + diag(gs) + S (F o (V^T gV - gV^T V))] V^T
    #      + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T)
    _svd_check(a, full_matrices)
    (gU, gs, gVh), (U, s, Vh) = g, ans
    inner = _diag_embed(gs)
    F = _fmat(s * s)
    m, n = a.shape[-2:]
    out = 0
    if not _is_zero(gU):
        UgU = _T(U) @ gU
        inner = inner + (F * (UgU - _T(UgU))) * _row(s)
        if m > n:
            out = ((gU - U @ UgU) / _row(s)) @ Vh
    if not _is_zero(gVh):
        VgV = Vh @ _T(gVh)  # V^T gV
        inner = inner + _col(s) * (F * (VgV - _T(VgV)))
        if n > m:
            out = out + U @ ((gVh - (gVh @ _T(Vh)) @ Vh) / _col(s))
    ga = U @ inner @ Vh + out
    return _sym_vjp(ga, True) if hermitian else ga


_svd = defop(_svd_impl, name="svd", vjp=_svd_vjp, jvp=_svd_jvp, multiple_results=True)


def _svdvals_vjp(g, ans, x):
    _real_only(x, "svdvals")
    U, s, Vh = _svd(x, full_matrices=False)
    return (U * _row(g)) @ Vh


def _svdvals_jvp(t, ans, x):
    _real_only(x, "svdvals")
    U, s, Vh = _svd(x, full_matrices=False)
    return _sum((t @ _T(Vh)) * U, axis=-2)


svdvals = defop(np.linalg.svdvals, name="svdvals", vjp=_svdvals_vjp, jvp=_svdvals_jvp)


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """``np.linalg.svd``; differentiable with ``full_matrices=False`` (or square ``a``)."""
    if compute_uv:
        return SVDResult(*_svd(a, full_matrices=full_matrices, hermitian=hermitian))
    if not hermitian:
        return svdvals(a)
    # NumPy: |eigenvalues| in descending order
    from .elementwise import abs as _abs
    from .products import einsum

    s = _abs(eigvalsh(a))
    order = np.argsort(-np.abs(np.asarray(_strip(s))), axis=-1, kind="stable")
    perm = (np.arange(order.shape[-1])[:, None] == order[..., None, :]).astype(_rdtype(s))
    return einsum("...i,...ij->...j", s, perm)


# QR --------------------------------------------------------------------------------------
def _qr_impl(a, mode="reduced"):
    return tuple(np.linalg.qr(a, mode=mode))


def _qr_check(a, mode):
    m, n = a.shape[-2:]
    if mode == "complete" and m > n:
        raise NotImplementedError(
            f"anp.linalg.qr of a {m}x{n} matrix is differentiable only with mode='reduced' "
            "(the extra columns of Q are not unique)."
        )


def _qr_jvp_square_r(Q, R, dA):
    # A = QR with R square: C = Q^T dA R^-1 = Q^T dQ + dR R^-1 splits into its skew
    # (Q^T dQ) and upper-triangular (dR R^-1) parts; Walter & Lehmann (2018),
    # "Algorithmic differentiation of linear algebra functions with application in
    # optimum experimental design" (QR)
    dARi = dA @ _inv(R)
    C = _T(Q) @ dARi
    low = C * np.tri(C.shape[-1], k=-1, dtype=bool)
    CU = C - low + _T(low)  # C - Omega, upper triangular
    return dARi - Q @ CU, CU @ R


def _qr_jvp(t, ans, a, mode="reduced"):
    _real_only(a, "qr")
    _qr_check(a, mode)
    Q, R = ans
    m, n = a.shape[-2:]
    if m >= n:
        return _qr_jvp_square_r(Q, R, t)
    # wide: A = Q [U | V] with X = Q U square; V = Q^T Y (Liao et al. 2019, the wide case)
    dQ, dU = _qr_jvp_square_r(Q, R[..., :, :m], t[..., :, :m])
    dV = _T(dQ) @ a[..., :, m:] + _T(Q) @ t[..., :, m:]
    return dQ, concatenate([dU, dV], axis=-1)


def _qr_vjp_square_r(Q, R, gQ, gR):
    # dA = (gQ + Q copyltu(M)) R^-T, M = R gR^T - gQ^T Q: Liao, Liu, Wang & Xiang (2019),
    # "Differentiable programming tensor networks", Phys. Rev. X 9, 031041
    M = R @ _T(gR) - _T(gQ) @ Q
    tri, strict = _masks(M.shape[-1], True)
    M = M * tri + _T(M * strict)
    return (gQ + Q @ M) @ _T(_inv(R))


def _qr_vjp(g, ans, a, mode="reduced"):
    _real_only(a, "qr")
    _qr_check(a, mode)
    (gQ, gR), (Q, R) = g, ans
    m, n = a.shape[-2:]
    if m >= n:
        return _qr_vjp_square_r(Q, R, gQ, gR)
    gV = gR[..., :, m:]
    gX = _qr_vjp_square_r(Q, R[..., :, :m], gQ + a[..., :, m:] @ _T(gV), gR[..., :, :m])
    return concatenate([gX, Q @ gV], axis=-1)


_qr = defop(_qr_impl, name="qr", vjp=_qr_vjp, jvp=_qr_jvp, multiple_results=True)


def qr(a, mode="reduced"):
    """``np.linalg.qr``; differentiable in modes 'reduced', 'r' and (for m <= n) 'complete'."""
    if mode == "r":
        return _qr(a, mode="reduced")[1]
    if mode == "raw":
        if _strip(a) is not a:
            raise NotImplementedError("anp.linalg.qr(mode='raw') has no derivative rule.")
        return np.linalg.qr(a, mode="raw")
    return QRResult(*_qr(a, mode=mode))


# Pseudo-inverse --------------------------------------------------------------------------
def _pinv_jvp(t, ans, a, rcond=None, hermitian=False, **kw):
    # dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P for constant rank:
    # Golub & Pereyra (1973), SIAM J. Numer. Anal. 10(2)
    _real_only(a, "pinv")
    P = ans
    dA, a = (_sym_from(t, True), _sym_from(a, True)) if hermitian else (t, a)
    dAt = _T(dA)
    return -(P @ dA @ P) + P @ (_T(P) @ (dAt - (dAt @ a) @ P)) + (dAt - P @ (a @ dAt)) @ (_T(P) @ P)


def _pinv_vjp(g, ans, a, rcond=None, hermitian=False, **kw):
    # the adjoint of each term of _pinv_jvp
    _real_only(a, "pinv")
    P = ans
    a = _sym_from(a, True) if hermitian else a
    gt = _T(g)
    ga = (
        -(_T(P) @ g @ _T(P)) + (gt - a @ (P @ gt)) @ (P @ _T(P)) + (_T(P) @ P) @ (gt - (gt @ P) @ a)
    )
    return _sym_vjp(ga, True) if hermitian else ga


pinv = defop(np.linalg.pinv, name="pinv", vjp=_pinv_vjp, jvp=_pinv_jvp)
