"""Public functions of autodiff.scipy.signal / .linalg that wrap or compose primitives, and
np.convolve/np.correlate: values equal NumPy's/SciPy's, derivatives pass check_grads to
second order in both modes. Also: 'same' windows with even and oversized kernels, Hessians
of convolutions, and the errors for what has no rule."""

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.signal as ss

import autodiff.numpy as anp
from autodiff import check_grads, grad, hessian, jvp
from autodiff.numpy import convolution as nconv
from autodiff.numpy import linalg as nla
from autodiff.scipy import linalg as la
from autodiff.scipy import signal as sig

MODES = ("fwd", "rev")


def _x(*shape, seed=0):
    return np.random.default_rng(seed + 7 * len(shape) + sum(shape)).standard_normal(shape)


def _spd(n, seed=0):
    b = np.random.default_rng(seed).uniform(-1, 1, (n, n))
    return 0.5 * b @ b.T + n * np.eye(n)


def _band(lower, upper, n):
    ab = 0.4 * _x(lower + upper + 1, n)
    ab[upper] += 3.0
    return ab


def _conv2d_cases():
    cases = []
    for sa, sv in [((4, 5), (2, 3)), ((3, 3), (3, 3)), ((2, 3), (4, 2))]:
        for mode in ("full", "same"):
            for boundary, fill in (("fill", 0), ("fill", 1.5), ("wrap", 0), ("symm", 0)):
                for name in ("convolve2d", "correlate2d"):
                    ours, ref = getattr(sig, name), getattr(ss, name)
                    cases.append((
                        f"{name}-{sa}-{sv}-{mode}-{boundary}{fill}",
                        lambda a, v, o=ours, m=mode, b=boundary, f=fill: o(a, v, m, b, f),
                        lambda a, v, r=ref, m=mode, b=boundary, f=fill: r(a, v, m, b, f),
                        [_x(*sa), _x(*sv, seed=1)],
                    ))  # fmt: skip
    return cases


# (id, ours, reference, args); derivatives in every argument
CASES = _conv2d_cases() + [
    (
        "convolve2d-valid-wrap",
        lambda a, v: sig.convolve2d(a, v, "valid", "wrap"),
        lambda a, v: ss.convolve2d(a, v, "valid", "wrap"),
        [_x(4, 3), _x(2, 2)],
    ),
    ("fftconvolve-full", sig.fftconvolve, ss.fftconvolve, [_x(6), _x(3)]),
    (
        "fftconvolve-same-3d",
        lambda a, v: sig.fftconvolve(a, v, "same"),
        lambda a, v: ss.fftconvolve(a, v, "same"),
        [_x(3, 2, 4), _x(2, 2, 2)],
    ),
    (
        "fftconvolve-valid",
        lambda a, v: sig.fftconvolve(a, v, mode="valid"),
        lambda a, v: ss.fftconvolve(a, v, mode="valid"),
        [_x(2, 3), _x(4, 5)],
    ),
    (
        "np-convolve-same-even",
        lambda a, v: nconv.convolve(a, v, "same"),
        lambda a, v: np.convolve(a, v, "same"),
        [_x(4), _x(6)],
    ),
    # the default modes differ: np.correlate's is "valid", np.convolve's "full"
    ("np-correlate-default", nconv.correlate, np.correlate, [_x(6), _x(3)]),
    ("np-correlate-default-long-v", nconv.correlate, np.correlate, [_x(3), _x(5)]),
    ("np-convolve-default", nconv.convolve, np.convolve, [_x(3), _x(5)]),
    (
        "np-correlate-same-long-v",
        lambda a, v: nconv.correlate(a, v, "same"),
        lambda a, v: np.correlate(a, v, "same"),
        [_x(3), _x(6)],
    ),
    # linalg wrappers and compositions
    (
        "cho_solve(cho_factor)",
        lambda a, b: la.cho_solve(la.cho_factor(a), b),
        lambda a, b: sl.cho_solve(sl.cho_factor(a), b),
        [_spd(3), _x(3, 2)],
    ),
    (
        "cho_solve(cho_factor, lower)",
        lambda a, b: la.cho_solve(la.cho_factor(a, True), b),
        lambda a, b: sl.cho_solve(sl.cho_factor(a, True), b),
        [_spd(4), _x(4)],
    ),
    ("cho_factor", lambda a: la.cho_factor(a)[0], lambda a: sl.cho_factor(a)[0], [_spd(3)]),
    (
        "solve_banded",
        lambda ab, b: la.solve_banded((1, 2), ab, b),
        lambda ab, b: sl.solve_banded((1, 2), ab, b),
        [_band(1, 2, 5), _x(5)],
    ),
    (
        "solve_banded-tridiagonal",
        lambda ab, b: la.solve_banded([1, 1], ab, b),
        lambda ab, b: sl.solve_banded([1, 1], ab, b),
        [_band(1, 1, 4), _x(4, 2)],
    ),
    (
        "solve_triangular-C",
        lambda a, b: la.solve_triangular(a, b, "C", True),
        lambda a, b: sl.solve_triangular(a, b, "C", True),
        [_x(3, 3) + 3 * np.eye(3), _x(3)],
    ),
    ("sqrtm-squared", lambda a: la.sqrtm(a) @ la.sqrtm(a), lambda a: a, [_spd(3)]),
    (
        "expm-of-sum",
        lambda a, b: la.expm(a + b),
        lambda a, b: sl.expm(a + b),
        [0.3 * _x(3, 3), 0.3 * _x(3, 3, seed=2)],
    ),
]


@pytest.mark.parametrize("ours, ref, args", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_composite_matches_scipy_and_check_grads(ours, ref, args):
    np.testing.assert_allclose(ours(*args), ref(*args), rtol=1e-12, atol=1e-12)
    check_grads(ours, *args, modes=MODES, order=2)


@pytest.mark.parametrize("name", ["cholesky", "inv", "det", "solve"])
def test_linalg_reexports(name):
    if name not in getattr(nla, "__all__", []):
        pytest.skip(f"autodiff.numpy.linalg.{name} is not written yet")
    a = _spd(3)
    args = {"cholesky": (a,), "inv": (a,), "det": (a,), "solve": (a, _x(3))}[name]
    ours, ref = getattr(la, name), getattr(sl, name)
    np.testing.assert_allclose(ours(*args), ref(*args), rtol=1e-12)
    check_grads(lambda *xs: ours(*xs), *args, modes=MODES, order=2)


def test_scipy_cholesky_lower_and_solve_transposed():
    if not {"cholesky", "solve"} <= set(getattr(nla, "__all__", [])):
        pytest.skip("autodiff.numpy.linalg is not written yet")
    a, b = _spd(3), _x(3)
    np.testing.assert_allclose(la.cholesky(a, lower=True), sl.cholesky(a, lower=True))
    m = a + _x(3, 3)
    np.testing.assert_allclose(la.solve(m, b, transposed=True), sl.solve(m, b, transposed=True))


def test_convolve_hessian_is_the_bilinear_form():
    """d^2 <w, conv(a, v)> / da dv is the constant matrix of the bilinear form."""
    a, v, w = _x(4), _x(3, seed=1), _x(6, seed=2)

    def f(z):
        return anp.sum(w * sig.convolve(z[:4], z[4:]))

    h = hessian(f)(np.concatenate([a, v]))
    cross = np.array([[w[i + j] for j in range(3)] for i in range(4)])
    np.testing.assert_allclose(h[:4, 4:], cross, atol=1e-12)
    np.testing.assert_allclose(h[4:, :4], cross.T, atol=1e-12)
    np.testing.assert_allclose(h[:4, :4], 0, atol=1e-12)


def test_convolve2d_same_gradient_even_kernel_matches_direct_sum():
    """The VJP of the centred 'same' window, against the definition written out."""
    a, v, g = _x(4, 5), _x(2, 4, seed=1), _x(4, 5, seed=2)
    full = np.zeros((5, 8))
    for i in range(4):
        for j in range(5):
            full[i : i + 2, j : j + 4] += a[i, j] * v
    np.testing.assert_allclose(full[0:4, 1:6], ss.convolve2d(a, v, "same"))
    ga = grad(lambda a: anp.sum(g * sig.convolve2d(a, v, "same")))(a)
    gpad = np.zeros((5, 8))
    gpad[0:4, 1:6] = g
    expected = np.array(
        [[np.sum(gpad[i : i + 2, j : j + 4] * v) for j in range(5)] for i in range(4)]
    )
    np.testing.assert_allclose(ga, expected, atol=1e-12)


def test_kernel_larger_than_input_in_same_mode_gets_zero_gradient_outside():
    a, v = _x(2, 2), _x(5, 5, seed=1)
    gv = grad(lambda v: anp.sum(sig.convolve(a, v, "same") ** 2))(v)
    assert gv.shape == (5, 5)
    assert not np.any(gv[0]) and not np.any(gv[:, -1])  # never meet the input
    check_grads(lambda v: sig.correlate(a, v, "same"), v, modes=MODES, order=2)


def test_float32_convolution_stays_float32():
    a, v = _x(8, 8).astype(np.float32), _x(3, 3).astype(np.float32)
    ga, gv = grad(lambda a, v: anp.sum(sig.convolve2d(a, v, "same", "wrap") ** 2), (0, 1))(a, v)
    assert ga.dtype == gv.dtype == np.float32
    _, t = jvp(lambda a: sig.correlate(a, v), (a,), (a,))
    assert t.dtype == np.float32


def test_complex_convolution_gradient_raises():
    a = _x(3) + 1j * _x(3, seed=1)
    with pytest.raises(NotImplementedError, match="real inputs only"):
        grad(lambda x: anp.real(anp.sum(sig.convolve(x, a))))(_x(3) + 0j)


def test_bad_boundary_and_fftconvolve_axes_raise():
    a = _x(3, 3)
    with pytest.raises(ValueError, match="boundary must be"):
        grad(lambda x: anp.sum(sig.convolve2d(x, a, boundary="reflect")))(a)
    with pytest.raises(NotImplementedError, match="axes=None"):
        grad(lambda x: anp.sum(sig.fftconvolve(x, a, axes=[0])))(a)
    np.testing.assert_allclose(sig.fftconvolve(a, a, axes=[0]), ss.fftconvolve(a, a, axes=[0]))


def test_plain_calls_fall_back_to_scipy():
    a = _x(3, 3)
    np.testing.assert_allclose(
        sig.convolve2d(a, a, boundary="wrap"), ss.convolve2d(a, a, boundary="wrap")
    )
    np.testing.assert_allclose(sig.medfilt(_x(5)), ss.medfilt(_x(5)))
    with pytest.raises(NotImplementedError, match="scipy.signal.medfilt"):
        grad(lambda x: anp.sum(sig.medfilt(x)))(_x(5))
