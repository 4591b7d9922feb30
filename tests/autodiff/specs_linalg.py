"""Property-test cases of anp.linalg: well-conditioned matrices, separated spectra.

Square matrices for inv/solve/det are ``R + (n + 1) D`` with ``D`` a random +-1 diagonal
(so determinants of both signs); SPD ones are ``A A^T + n I``; eigh/svd/qr/pinv get
``Q diag(w) P^T`` with random orthogonal ``Q, P`` and values ``w`` at least 0.5 apart, so
their outputs (with LAPACK's locally constant signs) are smooth. Routines that read one
triangle get garbage in the other, which must not matter.
"""

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from opspec import rng_of, values

_BATCH = [(), (2,), (2, 1), (1, 2)]


def _square(rng, shape, dtype):
    n = shape[-1]
    signs = rng.choice([-1.0, 1.0], size=shape[:-1])
    r = rng.uniform(-1, 1, shape) + (n + 1) * signs[..., None] * np.eye(n)
    return r.astype(dtype)


def _orth(rng, batch, n):
    return np.linalg.qr(rng.standard_normal(batch + (n, n)))[0]


def _spectrum(rng, batch, k, lo=1.0, signed=False):
    """Values at least 0.5 apart (and of both signs with ``signed``)."""
    w = lo + 0.5 * np.arange(k) + 0.2 * rng.random(batch + (k,))
    if signed:
        w = w * rng.choice([-1.0, 1.0], size=batch + (k,))
    return rng.permuted(w, axis=-1)


def _with_spectrum(rng, batch, m, n, signed=False):
    """``Q diag(w) P^T``, ``(m, n)``, singular values ``|w|`` separated."""
    k = min(m, n)
    q, p = _orth(rng, batch, m)[..., :k], _orth(rng, batch, n)[..., :k]
    w = _spectrum(rng, batch, k, signed=signed)
    return (q * w[..., None, :]) @ np.swapaxes(p, -1, -2)


def _signed_symmetric(rng, n):
    """Symmetric, eigenvalues of both signs with distinct magnitudes; junk above."""
    q = _orth(rng, (), n)
    s = (q * _spectrum(rng, (), n, signed=True)) @ q.T
    return s + np.triu(rng.uniform(-5, 5, (n, n)), 1)


def _symmetric(rng, batch, n, uplo="L"):
    """Symmetric with separated eigenvalues; the triangle NumPy skips holds garbage."""
    q = _orth(rng, batch, n)
    s = (q * _spectrum(rng, batch, n, lo=-1.0)[..., None, :]) @ np.swapaxes(q, -1, -2)
    junk = np.triu(rng.uniform(-5, 5, s.shape), 1)
    return s + (junk if uplo == "L" else np.swapaxes(junk, -1, -2))


def _one_square(draw, dtype):
    n = draw(st.integers(1, 4))
    shape = draw(st.sampled_from(_BATCH)) + (n, n)
    return (_square(rng_of(draw), shape, dtype),), {}


def _solve(draw, dtype):
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    batch = draw(st.sampled_from(_BATCH))
    rng = rng_of(draw)
    a = _square(rng, batch + (n, n), dtype)
    b_shape = draw(st.sampled_from([(n,), (n, k), batch + (n, k), (1,) + (n, k)]))
    return (a, values(rng, b_shape, dtype)), {}


def _cholesky(draw, dtype):
    n = draw(st.integers(1, 4))
    batch = draw(st.sampled_from(_BATCH))
    rng = rng_of(draw)
    a = rng.uniform(-1, 1, batch + (n, n))
    spd = a @ np.swapaxes(a, -1, -2) + n * np.eye(n)
    upper = draw(st.booleans())
    junk = np.triu(rng.uniform(-5, 5, spd.shape), 1)
    spd = spd + (np.swapaxes(junk, -1, -2) if upper else junk)
    return (spd.astype(dtype),), {"upper": upper}


def _eigh(draw, dtype):
    n = draw(st.integers(1, 4))
    uplo = draw(st.sampled_from(["L", "U"]))
    a = _symmetric(rng_of(draw), draw(st.sampled_from(_BATCH)), n, uplo)
    return (a.astype(dtype),), {"UPLO": uplo}


def _rect(draw, dtype, square=False):
    m = draw(st.integers(1, 4))
    n = m if square else draw(st.integers(1, 4))
    a = _with_spectrum(rng_of(draw), draw(st.sampled_from(_BATCH)), m, n)
    return a.astype(dtype)


def _signs_are_stable(a, full_matrices):
    """Whether LAPACK's signs of U's columns stay put near ``a``: each (u_i, v_i) pair is
    defined up to a common sign, and where LAPACK flips it the outputs jump, so finite
    differences there are meaningless (the derivative of the continuous branch is right)."""
    u = np.linalg.svd(a, full_matrices=full_matrices)[0]
    rng = np.random.default_rng(0)
    for _ in range(3):
        d = 1e-3 * np.abs(a).max() * rng.standard_normal(a.shape)
        u2 = np.linalg.svd(a + d, full_matrices=full_matrices)[0]
        if np.any(np.sum(u * u2, axis=-2) < 0.5):
            return False
    return True


def _svd(draw, dtype):
    kind = draw(st.sampled_from(["reduced", "square", "hermitian"]))
    if kind in ("reduced", "square"):
        a = _rect(draw, dtype, square=kind == "square")
        full = kind == "square"
        assume(_signs_are_stable(a.astype(np.float64), full))
        return (a,), {"full_matrices": full}
    a = _signed_symmetric(rng_of(draw), draw(st.integers(1, 4)))
    return (a.astype(dtype),), {"full_matrices": False, "hermitian": True}


def _svdvals(draw, dtype):
    return (_rect(draw, dtype),), {}


def _qr(draw, dtype):
    a = _rect(draw, dtype)
    m, n = a.shape[-2:]
    return (a,), {"mode": draw(st.sampled_from(["reduced", "complete"])) if m <= n else "reduced"}


def _pinv(draw, dtype):
    if draw(st.booleans()):
        return (_rect(draw, dtype),), {}
    a = _signed_symmetric(rng_of(draw), draw(st.integers(1, 4)))
    return (a.astype(dtype),), {"hermitian": True}


def _vector_norm(draw, dtype):
    """Distinct nonzero magnitudes: no kinks, no ties for the inf norms."""
    shape = draw(st.sampled_from([(1,), (4,), (2, 3), (3, 1, 2), (1, 3)]))
    rng = rng_of(draw)
    size = int(np.prod(shape))
    mag = 0.4 + 0.3 * rng.permutation(size) + 0.05 * rng.random(size)
    x = (mag * rng.choice([-1.0, 1.0], size)).reshape(shape).astype(dtype)
    nd = len(shape)
    axis = draw(
        st.sampled_from([None, -1, 0, tuple(range(nd))] + ([(0, nd - 1)] if nd > 1 else []))
    )
    ord_ = draw(st.sampled_from([2, 1, np.inf, -np.inf, 0, 3, 0.5, -1, -2.5]))
    return (x,), {"axis": axis, "keepdims": draw(st.booleans()), "ord": ord_}


SPECS = {
    "inv": [_one_square],
    "det": [_one_square],
    "slogdet": [_one_square],
    "solve": [_solve],
    "cholesky": [_cholesky],
    "eigh": [_eigh],
    "eigvalsh": [_eigh],
    "svd": [_svd],
    "svdvals": [_svdvals],
    "qr": [_qr],
    "pinv": [_pinv],
    "vector_norm": [_vector_norm],
}
