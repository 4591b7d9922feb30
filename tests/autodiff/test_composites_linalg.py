"""Composite products, linear algebra and FFTs: equal to NumPy, derivatives to second order.

Complex outputs are compared through their real and imaginary parts, and decompositions
with a sign freedom through sign-invariant functions (squared eigenvectors, ``Q_ij R_jk``).
"""

import numpy as np
import pytest

import autodiff.numpy as anp
from autodiff import check_grads, vjp
from autodiff.primitive import _strip

L, F = anp.linalg, anp.fft


def _x(*shape, seed=0):
    return np.random.default_rng(seed + 7 * len(shape) + sum(shape)).standard_normal(shape)


def _square(n, seed=0):
    return _x(n, n, seed=seed) + (n + 1) * np.eye(n)


def _spd(n, seed=0):
    a = _x(n, n, seed=seed)
    return a @ a.T + n * np.eye(n)


def _spectral(m, n, seed=0):
    """``(m, n)`` with singular values 1, 1.6, 2.2, ... (distinct)."""
    rng = np.random.default_rng(seed)
    k = min(m, n)
    q = np.linalg.qr(rng.standard_normal((m, m)))[0][:, :k]
    p = np.linalg.qr(rng.standard_normal((n, n)))[0][:, :k]
    return (q * (1 + 0.6 * np.arange(k))) @ p.T


def _distinct(*shape):
    size = int(np.prod(shape))
    perm = np.random.default_rng(size).permutation(size)
    return ((perm - size / 2 + 0.25) * 0.37).reshape(shape)  # no zeros, no ties


# row sums of |x| 3.8, 5.5, 2.0; column sums 2.0, 3.0, 2.4, 3.9: no ties for the 1/inf norms
_M = np.array([[1.0, -2.0, 0.5, 0.3], [-0.4, 0.9, -1.7, 2.5], [0.6, -0.1, 0.2, -1.1]])


def _parts(f):
    """A complex-valued function as the pair of its real and imaginary parts."""

    def g(*args):
        out = f(*args)
        return anp.real(out), anp.imag(out)

    return g


def _c(f):
    return lambda *a: np.real(f(*a)), lambda *a: np.imag(f(*a))


# (id, our composite, NumPy's function, args); derivatives are taken in every float arg
CASES = [
    # products
    ("dot_1d", anp.dot, np.dot, [_x(3), _x(3, seed=1)]),
    ("dot_2d", anp.dot, np.dot, [_x(2, 3), _x(3, 4)]),
    ("dot_nd_1d", anp.dot, np.dot, [_x(2, 2, 3), _x(3)]),
    ("dot_nd_nd", anp.dot, np.dot, [_x(2, 3), _x(2, 3, 2)]),
    ("dot_3d_3d", anp.dot, np.dot, [_x(2, 1, 3), _x(2, 3, 2)]),
    ("dot_scalar", anp.dot, np.dot, [np.array(1.5), _x(2, 3)]),
    ("inner", anp.inner, np.inner, [_x(2, 3), _x(4, 3)]),
    ("inner_1d", anp.inner, np.inner, [_x(3), _x(3, seed=2)]),
    ("inner_0d", anp.inner, np.inner, [np.array(0.7), _x(2)]),
    ("outer", anp.outer, np.outer, [_x(3), _x(2, 2)]),
    ("vdot", anp.vdot, np.vdot, [_x(2, 3), _x(3, 2)]),
    ("kron_1d", anp.kron, np.kron, [_x(2), _x(3)]),
    ("kron_2d", anp.kron, np.kron, [_x(2, 3), _x(2, 2)]),
    ("kron_mixed", anp.kron, np.kron, [_x(3), _x(2, 2, 1)]),
    ("vecdot", lambda a, b: anp.vecdot(a, b, axis=0), lambda a, b: np.vecdot(a, b, axis=0),
     [_x(3, 2), _x(3, 1)]),
    ("matvec", anp.matvec, np.matvec, [_x(2, 3, 4), _x(4)]),
    ("vecmat", anp.vecmat, np.vecmat, [_x(3), _x(2, 3, 4)]),
    ("einsum_sublist", lambda a, b: anp.einsum(a, [0, 1], b, [1, 2], [0, 2]),
     lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]), [_x(2, 3), _x(3, 4)]),
    ("einsum_sublist_implicit", lambda a: anp.einsum(a, [Ellipsis, 0, 0]),
     lambda a: np.einsum(a, [Ellipsis, 0, 0]), [_x(2, 3, 3)]),
    ("einsum_optimize", lambda a, b, c: anp.einsum("ij,jk,kl->il", a, b, c, optimize=True),
     lambda a, b, c: np.einsum("ij,jk,kl->il", a, b, c, optimize=True),
     [_x(2, 3), _x(3, 4), _x(4, 2)]),
    # decompositions through their wrappers, sign-invariant
    ("eigh_vectors_squared", lambda a: L.eigh(a).eigenvectors ** 2,
     lambda a: np.linalg.eigh(a).eigenvectors ** 2, [_spd(3)]),
    ("eigh_values", lambda a: L.eigh(a, UPLO="U")[0], lambda a: np.linalg.eigh(a, UPLO="U")[0],
     [_spd(3)]),
    ("svd_rank_one_terms", lambda a: anp.einsum("ik,k,kj->kij", *L.svd(a, full_matrices=False)),
     lambda a: np.einsum("ik,k,kj->kij", *np.linalg.svd(a, full_matrices=False)),
     [_spectral(4, 3)]),
    ("svd_values", lambda a: L.svd(a, compute_uv=False),
     lambda a: np.linalg.svd(a, compute_uv=False), [_spectral(2, 4)]),
    ("svd_hermitian_values", lambda a: L.svd(a, compute_uv=False, hermitian=True),
     lambda a: np.linalg.svd(a, compute_uv=False, hermitian=True),
     [np.diag([2.0, -3.0, 0.5]) + 0.1 * _x(3, 3)]),
    ("qr_terms", lambda a: anp.einsum("ij,jk->jik", *L.qr(a)),
     lambda a: np.einsum("ij,jk->jik", *np.linalg.qr(a)), [_spectral(4, 3)]),
    ("qr_r", lambda a: L.qr(a, mode="r") ** 2, lambda a: np.linalg.qr(a, mode="r") ** 2,
     [_spectral(3, 4)]),
    ("slogdet", lambda a: L.slogdet(a).logabsdet, lambda a: np.linalg.slogdet(a).logabsdet,
     [_square(3) - 8 * np.eye(3)]),
    # norms
    ("norm", L.norm, np.linalg.norm, [_x(2, 3, 2)]),
    ("norm_keepdims", lambda x: L.norm(x, keepdims=True),
     lambda x: np.linalg.norm(x, keepdims=True), [_x(2, 3)]),
    ("norm_vec_1", lambda x: L.norm(x, 1), lambda x: np.linalg.norm(x, 1), [_distinct(5)]),
    ("norm_vec_inf", lambda x: L.norm(x, np.inf, axis=0),
     lambda x: np.linalg.norm(x, np.inf, axis=0), [_distinct(4, 2)]),
    ("norm_vec_-inf", lambda x: L.norm(x, -np.inf), lambda x: np.linalg.norm(x, -np.inf),
     [_distinct(5)]),
    ("norm_vec_p", lambda x: L.norm(x, 3.5, axis=-1, keepdims=True),
     lambda x: np.linalg.norm(x, 3.5, axis=-1, keepdims=True), [_distinct(2, 3)]),
    ("norm_vec_0", lambda x: L.norm(x, 0), lambda x: np.linalg.norm(x, 0), [_distinct(4)]),
    ("norm_fro", lambda x: L.norm(x, "fro"), lambda x: np.linalg.norm(x, "fro"), [_x(2, 3)]),
    ("norm_nuc", lambda x: L.norm(x, "nuc"), lambda x: np.linalg.norm(x, "nuc"),
     [_spectral(3, 2)]),
    ("norm_2", lambda x: L.norm(x, 2), lambda x: np.linalg.norm(x, 2), [_spectral(2, 3)]),
    ("norm_-2", lambda x: L.norm(x, -2, axis=(1, 0), keepdims=True),
     lambda x: np.linalg.norm(x, -2, axis=(1, 0), keepdims=True), [_spectral(3, 3)]),
    ("norm_1", lambda x: L.norm(x, 1), lambda x: np.linalg.norm(x, 1), [_M]),
    ("norm_-1", lambda x: L.norm(x, -1, axis=(2, 0)),
     lambda x: np.linalg.norm(x, -1, axis=(2, 0)), [_distinct(3, 2, 4)]),
    ("norm_inf", lambda x: L.norm(x, np.inf, keepdims=True),
     lambda x: np.linalg.norm(x, np.inf, keepdims=True), [_M]),
    ("norm_-inf", lambda x: L.norm(x, -np.inf, axis=(-1, -2)),
     lambda x: np.linalg.norm(x, -np.inf, axis=(-1, -2)), [_distinct(2, 3, 4)]),
    ("matrix_norm", lambda x: L.matrix_norm(x, ord="nuc"),
     lambda x: np.linalg.matrix_norm(x, ord="nuc"),
     [np.stack([_spectral(3, 2, s) for s in (0, 1)])]),
    ("matrix_norm_fro", L.matrix_norm, np.linalg.matrix_norm, [_x(2, 3, 3)]),
    ("cond", L.cond, np.linalg.cond, [_spectral(3, 3)]),
    ("cond_-2", lambda x: L.cond(x, -2), lambda x: np.linalg.cond(x, -2), [_spectral(2, 3)]),
    ("cond_fro", lambda x: L.cond(x, "fro"), lambda x: np.linalg.cond(x, "fro"), [_square(3)]),
    ("cond_1", lambda x: L.cond(x, 1), lambda x: np.linalg.cond(x, 1), [_square(3, seed=4)]),
    # solvers and compositions
    ("lstsq_vec", lambda a, b: L.lstsq(a, b)[:2], lambda a, b: np.linalg.lstsq(a, b)[:2],
     [_spectral(4, 2), _x(4)]),
    ("lstsq_mat", lambda a, b: L.lstsq(a, b)[0], lambda a, b: np.linalg.lstsq(a, b)[0],
     [_spectral(2, 3), _x(2, 2)]),
    ("lstsq_s", lambda a, b: L.lstsq(a, b)[3], lambda a, b: np.linalg.lstsq(a, b)[3],
     [_spectral(3, 2), _x(3, 2)]),
    ("matrix_power_3", lambda a: L.matrix_power(a, 3), lambda a: np.linalg.matrix_power(a, 3),
     [_x(2, 2, 2)]),
    ("matrix_power_-2", lambda a: L.matrix_power(a, -2),
     lambda a: np.linalg.matrix_power(a, -2), [_square(3)]),
    ("matrix_power_1", lambda a: L.matrix_power(a, 1), lambda a: np.linalg.matrix_power(a, 1),
     [_x(3, 3)]),
    ("multi_dot", lambda a, b, c: L.multi_dot([a, b, c]),
     lambda a, b, c: np.linalg.multi_dot([a, b, c]), [_x(2, 5), _x(5, 3), _x(3, 4)]),
    ("multi_dot_vectors", lambda a, b, c, d: L.multi_dot([a, b, c, d]),
     lambda a, b, c, d: np.linalg.multi_dot([a, b, c, d]), [_x(3), _x(3, 4), _x(4, 2), _x(2)]),
    ("multi_dot_two", lambda a, b: L.multi_dot([a, b]),
     lambda a, b: np.linalg.multi_dot([a, b]), [_x(3, 2), _x(2)]),
    ("tensorinv", lambda a: L.tensorinv(a, ind=1), lambda a: np.linalg.tensorinv(a, ind=1),
     [_square(4).reshape(4, 2, 2)]),
    ("tensorsolve", L.tensorsolve, np.linalg.tensorsolve,
     [_square(6).reshape(2, 3, 6), _x(2, 3)]),
    ("tensorsolve_axes", lambda a, b: L.tensorsolve(a, b, axes=(0,)),
     lambda a, b: np.linalg.tensorsolve(a, b, axes=(0,)),
     [np.moveaxis(_square(4).reshape(4, 2, 2), -1, 0), _x(4)]),
    ("linalg_outer", L.outer, np.linalg.outer, [_x(3), _x(2)]),
    ("linalg_cross", L.cross, np.linalg.cross, [_x(2, 3), _x(3)]),
    ("linalg_vecdot", L.vecdot, np.linalg.vecdot, [_x(2, 3), _x(3)]),
    ("linalg_tensordot", lambda a, b: L.tensordot(a, b, axes=1),
     lambda a, b: np.linalg.tensordot(a, b, axes=1), [_x(2, 3), _x(3, 2)]),
    ("matrix_transpose", L.matrix_transpose, np.linalg.matrix_transpose, [_x(2, 3, 4)]),
    ("diagonal", L.diagonal, np.linalg.diagonal, [_x(2, 3, 4)]),
    ("diagonal_offset", lambda x: L.diagonal(x, offset=1),
     lambda x: np.linalg.diagonal(x, offset=1), [_x(3, 4)]),
    ("diagonal_-offset", lambda x: L.diagonal(x, offset=-2),
     lambda x: np.linalg.diagonal(x, offset=-2), [_x(2, 4, 3)]),
    ("trace", lambda x: L.trace(x, offset=-1), lambda x: np.linalg.trace(x, offset=-1),
     [_x(2, 3, 3)]),
    # fft
    ("fft2", _parts(F.fft2), _c(np.fft.fft2), [_x(2, 3, 4)]),
    ("ifft2", _parts(lambda x: F.ifft2(x, s=(3, 5), norm="ortho")),
     _c(lambda x: np.fft.ifft2(x, s=(3, 5), norm="ortho")), [_x(2, 4)]),
    ("rfft2", _parts(lambda x: F.rfft2(x, axes=(0, 2))),
     _c(lambda x: np.fft.rfft2(x, axes=(0, 2))), [_x(4, 2, 5)]),
    ("irfft2", lambda x: F.irfft2(x, s=(3, 5), norm="forward"),
     lambda x: np.fft.irfft2(x, s=(3, 5), norm="forward"), [_x(3, 4)]),
    ("hfft", lambda x: F.hfft(x, 7), lambda x: np.fft.hfft(x, 7), [_x(2, 4)]),
    ("hfft_ortho", lambda x: F.hfft(x, axis=0, norm="ortho"),
     lambda x: np.fft.hfft(x, axis=0, norm="ortho"), [_x(3, 2)]),
    ("ihfft", _parts(lambda x: F.ihfft(x, norm="forward")),
     _c(lambda x: np.fft.ihfft(x, norm="forward")), [_x(2, 6)]),
]  # fmt: skip


def _leaves(x):
    if isinstance(x, tuple | list):
        return [y for item in x for y in _leaves(item)]
    return [x]


def _ref(ref, args):
    out = ref if not isinstance(ref, tuple) else None
    if out is not None:
        return out(*args)
    return tuple(r(*args) for r in ref)


@pytest.mark.parametrize("name, f, ref, args", CASES, ids=[c[0] for c in CASES])
def test_composite(name, f, ref, args):
    out, expected = f(*args), _ref(ref, args)
    assert len(_leaves(out)) == len(_leaves(expected))
    for o, e in zip(_leaves(out), _leaves(expected), strict=True):
        assert np.shape(o) == np.shape(e)
        np.testing.assert_allclose(_strip(o), e, rtol=1e-10, atol=1e-12)
    check_grads(f, *args, modes=("fwd", "rev"), order=2, rng=np.random.default_rng(1))


@pytest.mark.parametrize("name, f, ref, args", CASES, ids=[c[0] for c in CASES])
def test_composite_keeps_float32(name, f, ref, args):
    args32 = [a.astype(np.float32) for a in args]
    out, f_vjp = vjp(f, *args32)
    for o in _leaves(out):
        dt = np.asarray(_strip(o)).dtype
        assert dt == np.float32, f"{name}: float32 in gave {dt} out"
    cot = (
        type(out)(np.ones_like(_strip(o)) for o in out)
        if isinstance(out, tuple | list)
        else np.ones_like(_strip(out))
    )
    for g in f_vjp(cot):
        assert g.dtype == np.float32
