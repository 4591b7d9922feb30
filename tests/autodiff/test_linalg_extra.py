"""Products, linear algebra and FFT beyond the generic property test.

Complex inputs (the generic test draws real ones): FFTs against the engine's derivative
of an explicit DFT-matrix product, and complex matrices for the holomorphic inv/solve/det.
A complex input ``z`` is also written as ``xr + 1j * xi`` so that ``check_grads`` sees a
real function of real arrays. Also: one-triangle semantics of cholesky/eigh, degenerate
eigenvalues, second derivatives against closed forms, and the error messages.
"""

import numpy as np
import pytest

import autodiff.numpy as anp
from autodiff import check_grads, grad, hessian, jacfwd, jvp, vjp
from autodiff.primitive import _strip

L, F = anp.linalg, anp.fft
RNG = np.random.default_rng(0)


def _z(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def _parts(f):
    """``f`` of a complex input as a real function of its real and imaginary parts."""

    def g(xr, xi):
        out = f(xr + 1j * xi)
        return anp.real(out), anp.imag(out)

    return g


def _dft(n_out, n_in, inverse=False, norm=None):
    """The matrix of ``fft(x, n_out)`` on inputs of length ``n_in`` (cut or zero-padded)."""
    k = np.arange(n_out)
    sign = 1 if inverse else -1
    m = np.exp(sign * 2j * np.pi * np.outer(k, k) / n_out)
    scale = {None: (1 / n_out if inverse else 1.0), "ortho": 1 / np.sqrt(n_out),
             "forward": (1.0 if inverse else 1 / n_out)}[norm]  # fmt: skip
    full = np.zeros((n_out, n_in), complex)
    c = min(n_in, n_out)
    full[:, :c] = m[:, :c] * scale
    return full


# FFT: complex inputs --------------------------------------------------------------------
@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("n", [None, 3, 8])
@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
def test_fft_complex_matches_dft_matrix(inverse, n, norm):
    x, g = _z(2, 5), _z(2, n or 5)
    mat = _dft(n or 5, 5, inverse, norm)
    ours = F.ifft if inverse else F.fft
    f = lambda x: ours(x, n, norm=norm)  # noqa: E731
    manual = lambda x: anp.matmul(x, mat.T)  # noqa: E731
    out, f_vjp = vjp(f, x)
    out_m, m_vjp = vjp(manual, x)
    np.testing.assert_allclose(out, out_m, atol=1e-12)
    np.testing.assert_allclose(f_vjp(g)[0], m_vjp(g)[0], atol=1e-12)
    t = _z(2, 5)
    np.testing.assert_allclose(jvp(f, (x,), (t,))[1], jvp(manual, (x,), (t,))[1], atol=1e-12)


def test_fftn_complex_matches_dft_matrices():
    x, g = _z(3, 4), _z(3, 6)
    f = lambda x: F.fftn(x, s=(3, 6), axes=(0, 1), norm="ortho")  # noqa: E731
    a, b = _dft(3, 3, norm="ortho"), _dft(6, 4, norm="ortho")
    manual = lambda x: anp.matmul(anp.matmul(a, x), b.T)  # noqa: E731
    np.testing.assert_allclose(vjp(f, x)[1](g)[0], vjp(manual, x)[1](g)[0], atol=1e-12)


@pytest.mark.parametrize(
    "f",
    [
        lambda z: F.fft(z),
        lambda z: F.ifft(z, 7, axis=0, norm="ortho"),
        lambda z: F.fftn(z, s=(2, 5), axes=(1, 0)),
        lambda z: F.ifft2(z, norm="forward"),
        lambda z: F.irfft(z),
        lambda z: F.irfft(z, 5, axis=0),
        lambda z: F.irfft(z, 8, norm="ortho"),
        lambda z: F.irfftn(z, s=(4, 7), axes=(0, 1)),
        lambda z: F.hfft(z, 6),
        lambda z: F.fftshift(z, axes=0),
    ],
    ids=[
        "fft",
        "ifft_n_axis",
        "fftn",
        "ifft2",
        "irfft",
        "irfft_odd",
        "irfft_even",
        "irfftn",
        "hfft",
        "fftshift",
    ],  # fmt: skip
)
def test_fft_complex_input_check_grads(f):
    z = _z(4, 3)
    check_grads(_parts(f), z.real, z.imag, modes=("fwd", "rev"), order=2)


def test_fft_filter_compositions_check_grads():
    x, h = RNG.standard_normal(6), _z(6)
    check_grads(lambda x: anp.real(F.ifft(F.fft(x) * h)), x, order=2)
    check_grads(lambda x, hr: anp.real(F.ifft(F.fft(x) * (hr + 1j))), x, h.real, order=2)
    for n in (6, 7):  # even and odd lengths of the real signal
        y = RNG.standard_normal(n)
        check_grads(lambda y, n=n: F.irfft(F.rfft(y) * h[: n // 2 + 1], n), y, order=2)
    img = RNG.standard_normal((4, 5))
    check_grads(lambda x: F.irfft2(F.rfft2(x) ** 2, s=(4, 5)), img, order=2)
    check_grads(lambda x: anp.abs(F.fftshift(F.fft2(x))) ** 2, img, order=2)


def test_rfft_irfft_round_trip_gradient_is_identity():
    x = RNG.standard_normal(7)
    g = RNG.standard_normal(7)
    _, f_vjp = vjp(lambda x: F.irfft(F.rfft(x), 7), x)
    np.testing.assert_allclose(f_vjp(g)[0], g, atol=1e-12)


# Linear algebra: complex matrices (holomorphic rules) -------------------------------------
@pytest.mark.parametrize(
    "f",
    [
        L.inv,
        L.det,
        lambda a: L.solve(a, np.arange(3.0)),
        lambda a: L.solve(a, np.eye(3)[:, :2]),
        lambda a: anp.einsum("ij,jk->ik", a, a),
        lambda a: anp.tensordot(a, a, 1),
    ],
    ids=["inv", "det", "solve_vec", "solve_mat", "einsum", "tensordot"],
)
def test_holomorphic_complex_matrices(f):
    a = _z(3, 3) + 4 * np.eye(3)
    check_grads(_parts(f), a.real, a.imag, modes=("fwd", "rev"), order=2)
    # the VJP of f at a complex point is g * f'(a) without conjugation: compare with JVPs
    g, t = _z(*np.shape(f(a))), _z(3, 3)
    _, f_vjp = vjp(f, a)
    np.testing.assert_allclose(np.sum(f_vjp(g)[0] * t), np.sum(g * jvp(f, (a,), (t,))[1]))


def test_solve_complex_right_hand_side():
    a, b = _z(3, 3) + 4 * np.eye(3), _z(3)
    check_grads(_parts(lambda b: L.solve(a, b)), b.real, b.imag, order=2)


# One triangle, degenerate spectra ----------------------------------------------------------
def test_cholesky_and_eigh_ignore_the_other_triangle():
    a = RNG.standard_normal((3, 3))
    spd = a @ a.T + 3 * np.eye(3)
    upper, lower = np.triu(np.ones((3, 3)), 1), np.tril(np.ones((3, 3)), -1)
    g = grad(lambda x: anp.sum(L.cholesky(x) ** 3))(spd)
    assert np.all(g[upper > 0] == 0)
    g = grad(lambda x: anp.sum(L.cholesky(x, upper=True) ** 3))(spd)
    assert np.all(g[lower > 0] == 0)
    g = grad(lambda x: anp.sum(L.eigh(x, UPLO="U").eigenvectors ** 4))(spd)
    assert np.all(g[lower > 0] == 0)
    g = grad(lambda x: anp.sum(L.eigvalsh(x) ** 2))(spd)
    np.testing.assert_allclose(g, 2 * spd * np.tri(3) + 2 * spd * lower, atol=1e-12)


def test_eigenvalues_of_degenerate_matrix_have_finite_gradients():
    a = 2.0 * np.eye(3)  # a triple eigenvalue: the eigenvectors are not differentiable
    for f in (lambda x: anp.sum(L.eigvalsh(x) ** 2), lambda x: anp.sum(L.eigh(x)[0] ** 2),
              lambda x: anp.sum(L.svd(x, compute_uv=False) ** 2)):  # fmt: skip
        np.testing.assert_allclose(grad(f)(a), 4 * np.eye(3), atol=1e-12)


# Second derivatives against closed forms ----------------------------------------------------
def test_logdet_hessian_closed_form():
    a = RNG.standard_normal((3, 3)) + 4 * np.eye(3)
    ai = np.linalg.inv(a)
    # d2 log|det A| [dA, dB] = -tr(A^-1 dA A^-1 dB)
    expected = -np.einsum("li,jk->ijkl", ai, ai)
    np.testing.assert_allclose(hessian(lambda a: L.slogdet(a)[1])(a), expected, atol=1e-10)
    np.testing.assert_allclose(
        jacfwd(grad(lambda a: L.slogdet(a).logabsdet))(a), expected, atol=1e-10
    )


def test_svd_reconstruction_and_invariants():
    a = RNG.standard_normal((2, 5, 3))
    u, s, vh = L.svd(a, full_matrices=False)
    np.testing.assert_allclose((u * s[..., None, :]) @ vh, a, atol=1e-12)
    # the reconstruction is the identity map, so its Jacobian must be too
    g = RNG.standard_normal(a.shape)
    _, f_vjp = vjp(lambda a: anp.matmul(*(lambda u, s, vh: (u * s[..., None, :], vh))(
        *L.svd(a, full_matrices=False))), a)  # fmt: skip
    np.testing.assert_allclose(f_vjp(g)[0], g, atol=1e-10)
    q, r = L.qr(a)
    _, f_vjp = vjp(lambda a: anp.matmul(*L.qr(a)), a)
    np.testing.assert_allclose(f_vjp(g)[0], g, atol=1e-10)


def test_results_are_named_like_numpy():
    a = np.diag([1.0, 2.0, 3.0])
    assert L.slogdet(a)._fields == np.linalg.slogdet(a)._fields
    assert L.eigh(a)._fields == np.linalg.eigh(a)._fields
    assert L.svd(a)._fields == np.linalg.svd(a)._fields
    assert L.qr(a)._fields == np.linalg.qr(a)._fields
    sign, logdet = vjp(lambda a: L.slogdet(-a), a)[0]
    assert _strip(sign) == -1.0


def test_nondifferentiable_helpers_give_plain_values():
    a = np.diag([1.0, 2.0, 0.0])
    rank = []
    grad(lambda x: rank.append(L.matrix_rank(x)) or anp.sum(x))(a)
    assert rank == [2] and not hasattr(rank[0], "_trace")
    r, raw = L.qr(a, mode="raw"), np.linalg.qr(a, mode="raw")
    np.testing.assert_array_equal(r[0], raw[0])


def test_einsum_implicit_output_orders_labels_like_numpy():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    c = RNG.standard_normal((4, 2))
    cases = [("Ba,aC", a, b), ("aB,Ca", a, c), ("b...a,a", a, b[:, 0]), ("ij,jk", a, b),
             ("ji", a), ("...a,ab", a, b)]  # fmt: skip
    for subs, *ops in cases:
        np.testing.assert_allclose(anp.einsum(subs, *ops), np.einsum(subs, *ops), atol=1e-12)
        check_grads(lambda *xs, subs=subs: anp.einsum(subs, *xs), *ops, order=1)


# Errors -----------------------------------------------------------------------------------
def test_svd_full_matrices_of_rectangular_raises():
    a = RNG.standard_normal((4, 3))
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        grad(lambda a: anp.sum(L.svd(a)[0]))(a)
    with pytest.raises(NotImplementedError, match="mode='reduced'"):
        grad(lambda a: anp.sum(L.qr(a, mode="complete")[0]))(a)


def test_bad_arguments_raise():
    x = RNG.standard_normal((3, 3))
    with pytest.raises(TypeError, match="out="):
        anp.einsum("ij->i", x, out=np.zeros(3))
    with pytest.raises(ValueError, match="operands"):
        grad(lambda x: anp.sum(anp.einsum("ij,jk->ik", x)))(x)
    with pytest.raises(ValueError, match="Invalid norm order 'fro' for vectors"):
        L.norm(x[0], "fro")
    with pytest.raises(ValueError, match="Invalid norm order"):
        L.norm(x, 3)
    with pytest.raises(NotImplementedError, match="repeated axes"):
        grad(lambda x: anp.sum(anp.real(F.fftn(x, axes=(0, 0)))))(x)
    with pytest.raises(ValueError, match="2 or 3 components"):
        anp.cross(x[:, :1], x[:, :1])


def test_decompositions_of_complex_matrices_raise():
    a = _z(3, 3) + 4 * np.eye(3)
    for f in (L.cholesky, L.eigvalsh, L.svdvals, lambda a: L.qr(a)[1], L.pinv):
        with pytest.raises(NotImplementedError, match="real matrices only"):
            grad(lambda a, f=f: anp.sum(anp.abs(f(a))))(a)
