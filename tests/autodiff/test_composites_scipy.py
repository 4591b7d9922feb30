"""Composite functions of autodiff.scipy (special's softmax family, multigammaln, and the
stats distributions): values equal SciPy's, derivatives pass check_grads to second order
in both modes; stability of logsumexp/softmax/log_ndtr at extreme inputs."""

import warnings

import mpmath
import numpy as np
import pytest
import scipy.special as ss
import scipy.stats as st

import autodiff.numpy as anp
from autodiff import check_grads, grad, jvp
from autodiff.scipy import special as sps
from autodiff.scipy import stats

MODES = ("fwd", "rev")
RNG = np.random.default_rng(0)
X = RNG.uniform(-1.5, 1.5, (2, 3))
POS = RNG.uniform(0.5, 2.5, (2, 3))
UNIT = RNG.uniform(0.1, 0.9, (2, 3))


def _check(ours, ref, *args, rtol=1e-12):
    """Values equal SciPy's; gradients pass check_grads(order=2) in all arguments."""
    np.testing.assert_allclose(ours(*args), ref(*args), rtol=rtol, atol=1e-300)
    check_grads(ours, *args, modes=MODES, order=2)


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# special: composites ---------------------------------------------------------------------
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_matches_scipy(axis, keepdims):
    b = POS[:1]
    _check(lambda a: sps.logsumexp(a, axis=axis, keepdims=keepdims),
           lambda a: ss.logsumexp(a, axis=axis, keepdims=keepdims), X)  # fmt: skip
    _check(lambda a, b: sps.logsumexp(a, axis=axis, b=b, keepdims=keepdims),
           lambda a, b: ss.logsumexp(a, axis=axis, b=b, keepdims=keepdims), X, b)  # fmt: skip


def test_logsumexp_is_stable_at_large_inputs(no_warnings):
    a = np.array([1e4, 1e4 + 1.0, 1e4 - 2.0])
    val = sps.logsumexp(a)
    np.testing.assert_allclose(val, 1e4 + ss.logsumexp(a - 1e4), rtol=1e-15)
    np.testing.assert_allclose(grad(sps.logsumexp)(a), ss.softmax(a - 1e4), rtol=1e-14)
    check_grads(sps.logsumexp, a, modes=MODES, order=2)
    neg = -a
    np.testing.assert_allclose(grad(sps.logsumexp)(neg), ss.softmax(neg + 1e4), rtol=1e-14)


def test_logsumexp_handles_minus_inf_entries(no_warnings):
    a = np.array([[0.5, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf]])
    val = sps.logsumexp(a, axis=1)
    np.testing.assert_array_equal(val, ss.logsumexp(a, axis=1))
    assert val[1] == -np.inf
    g = grad(lambda a: anp.sum(sps.logsumexp(a, axis=1)[:1]))(a)
    np.testing.assert_allclose(g[0], ss.softmax(a[0]), rtol=1e-15)
    assert g[0, 1] == 0.0
    g = grad(lambda a: anp.sum(sps.logsumexp(a, axis=1)))(a)
    assert np.all(np.isfinite(g)) and np.all(g[1] == 0)
    # all -inf: the value is -inf and the gradient (every order, both modes) zero
    minf = np.full(3, -np.inf)
    assert sps.logsumexp(minf) == -np.inf
    np.testing.assert_array_equal(grad(sps.logsumexp)(minf), 0.0)
    np.testing.assert_array_equal(grad(lambda a: grad(sps.logsumexp)(a)[0])(minf), 0.0)
    assert jvp(sps.logsumexp, (minf,), (np.ones(3),))[1] == 0.0
    # the Hessian at a -inf entry is finite
    h = grad(lambda a: grad(sps.logsumexp)(a)[0])(a[0])
    assert np.all(np.isfinite(h)) and h[1] == 0.0


def test_logsumexp_keeps_float32():
    a = X.astype(np.float32)
    assert sps.logsumexp(a).dtype == np.float32
    assert grad(lambda a: sps.logsumexp(a, b=POS.astype(np.float32)))(a).dtype == np.float32


def test_logsumexp_and_log_softmax_of_integers_match_scipy():
    k = np.array([[1, 2, 3], [0, -4, 7]])
    np.testing.assert_allclose(sps.logsumexp(k, axis=1), ss.logsumexp(k, axis=1), rtol=1e-15)
    np.testing.assert_allclose(sps.log_softmax(k, axis=1), ss.log_softmax(k, axis=1), rtol=1e-15)


def test_log_softmax_of_complex_inputs_matches_scipy_and_the_composite(no_warnings):
    z = np.array([[1 + 1j, 2 + 0.5j, -1 - 2j], [30 - 1j, 31 + 2j, 0j]])
    for dtype, rtol in ((np.complex128, 1e-13), (np.complex64, 1e-5)):
        x = z.astype(dtype)
        out = sps.log_softmax(x, axis=1)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, ss.log_softmax(x, axis=1), rtol=rtol)
        lse = sps.logsumexp(x, axis=1)
        assert lse.dtype == ss.logsumexp(x, axis=1).dtype == dtype
        np.testing.assert_allclose(lse, ss.logsumexp(x, axis=1), rtol=rtol)
    # holomorphic: the primitive's rule against the composite x - logsumexp(x)
    w = np.array([0.5 - 1j, 2j, 1.0])
    prim = grad(lambda z: anp.real(anp.sum(sps.log_softmax(z, axis=1) * w)))(z)
    comp = grad(lambda z: anp.real(anp.sum((z - sps.logsumexp(z, axis=1, keepdims=True)) * w)))(z)
    np.testing.assert_allclose(prim, comp, rtol=1e-13)


def test_logsumexp_rejects_return_sign():
    with pytest.raises(NotImplementedError, match="return_sign"):
        sps.logsumexp(X, return_sign=True)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_softmax_matches_scipy(fn, axis):
    _check(lambda x: getattr(sps, fn)(x, axis=axis), lambda x: getattr(ss, fn)(x, axis=axis), X)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_gradients_are_right_at_large_inputs(fn, no_warnings):
    # shift invariance: the derivatives at x + 1e4 equal those at x
    w = RNG.standard_normal(X.shape)

    def f(x):
        return anp.sum(w * getattr(sps, fn)(x, axis=-1))

    np.testing.assert_allclose(getattr(sps, fn)(X + 1e4, axis=-1), getattr(ss, fn)(X, axis=-1),
                               rtol=1e-9, atol=1e-9)  # fmt: skip
    np.testing.assert_allclose(grad(f)(X + 1e4), grad(f)(X), rtol=1e-9, atol=1e-12)
    hvp = lambda x: grad(lambda x: anp.sum(grad(f)(x) * w))(x)  # noqa: E731
    np.testing.assert_allclose(hvp(X + 1e4), hvp(X), rtol=1e-8, atol=1e-10)
    check_grads(f, X + 1e4, modes=MODES, order=2)


def test_log_softmax_at_minus_inf_entries(no_warnings):
    x = np.array([0.3, -np.inf, 1.2])
    np.testing.assert_array_equal(sps.log_softmax(x), ss.log_softmax(x))
    g = grad(lambda x: sps.log_softmax(x)[0])(x)
    np.testing.assert_allclose(g, np.array([1.0, 0.0, 0.0]) - ss.softmax(x), rtol=1e-15)


def test_multigammaln_matches_scipy():
    _check(lambda a: sps.multigammaln(a, 3), lambda a: ss.multigammaln(a, 3), POS + 1.1)
    with pytest.raises(ValueError, match="multigammaln"):
        sps.multigammaln(np.array([0.5]), 3)


def test_log_ndtr_is_stable_for_very_negative_inputs(no_warnings):
    x = np.array([-40.0, -1e3, -1e8, 5.0, 40.0])
    np.testing.assert_allclose(sps.log_ndtr(x), ss.log_ndtr(x), rtol=1e-14)
    # d/dx log Phi = pdf / cdf, in 50-digit arithmetic
    with mpmath.workdps(50):
        ref = [float(mpmath.npdf(v) / mpmath.ncdf(v)) for v in x]
    g = grad(lambda x: anp.sum(sps.log_ndtr(x)))(x)
    np.testing.assert_allclose(g, ref, rtol=1e-13)
    assert np.all(np.isfinite(g)) and g[-1] == 0.0
    check_grads(sps.log_ndtr, x[:2], modes=MODES, order=2)


@pytest.mark.parametrize(
    "fn, args",
    [
        (lambda a: sps.gammainc(a, POS), (POS,)),
        (lambda a: sps.gammaincc(a, POS), (POS,)),
        (lambda a: sps.betainc(a, POS, UNIT), (POS,)),
        (lambda b: sps.betainc(POS, b, UNIT), (POS,)),
        (lambda n: sps.jv(n, POS), (POS,)),
        (lambda df: sps.stdtr(df, X), (POS,)),
    ],
)
def test_shape_parameters_are_not_differentiable(fn, args):
    with pytest.raises(NotImplementedError, match="not reverse-differentiable in argument"):
        grad(lambda a: anp.sum(fn(a)))(*args)
    with pytest.raises(NotImplementedError, match="not forward-differentiable in argument"):
        jvp(fn, args, args)


# stats -----------------------------------------------------------------------------------
LOC = RNG.uniform(-0.5, 0.5, (3,))
SCALE = RNG.uniform(0.7, 1.5, (3,))
DF = np.array([1.5, 3.0, 7.0])


def _dist_cases():
    n, t, b, g, c = st.norm, st.t, st.beta, st.gamma, st.chi2
    sn, stt, sb, sg, sc = stats.norm, stats.t, stats.beta, stats.gamma, stats.chi2
    a, bb = POS[0], POS[1] + 0.5
    y = UNIT * 0.8 + 0.1  # inside [loc, loc + scale] for beta with loc 0.05, scale 1.2
    return {
        **{f"norm.{m}": (getattr(sn, m), getattr(n, m), (X, LOC, SCALE))
           for m in ["pdf", "logpdf", "cdf", "logcdf", "sf", "logsf"]},
        "norm.ppf": (sn.ppf, n.ppf, (UNIT, LOC, SCALE)),
        "t.pdf": (stt.pdf, t.pdf, (X, DF, LOC, SCALE)),
        "t.logpdf": (stt.logpdf, t.logpdf, (X, DF, LOC, SCALE)),
        "t.cdf": (lambda x, loc, s: stt.cdf(x, DF, loc, s), lambda x, loc, s: t.cdf(x, DF, loc, s),
                  (X, LOC, SCALE)),
        "t.sf": (lambda x, loc, s: stt.sf(x, DF, loc, s), lambda x, loc, s: t.sf(x, DF, loc, s),
                 (X, LOC, SCALE)),
        "beta.pdf": (sb.pdf, b.pdf, (UNIT, a, bb)),
        "beta.logpdf": (sb.logpdf, b.logpdf, (y, a, bb, 0.05, 1.2)),
        "beta.cdf": (lambda x, loc, s: sb.cdf(x, a, bb, loc, s),
                     lambda x, loc, s: b.cdf(x, a, bb, loc, s), (y, 0.05, 1.2)),
        "gamma.pdf": (sg.pdf, g.pdf, (POS, a)),
        "gamma.logpdf": (sg.logpdf, g.logpdf, (POS, a, 0.1, SCALE)),
        "gamma.cdf": (lambda x, loc, s: sg.cdf(x, a, loc, s),
                      lambda x, loc, s: g.cdf(x, a, loc, s), (POS, 0.1, SCALE)),
        "chi2.pdf": (sc.pdf, c.pdf, (POS, DF)),
        "chi2.logpdf": (sc.logpdf, c.logpdf, (POS, DF, 0.1, SCALE)),
        "chi2.cdf": (lambda x, loc, s: sc.cdf(x, DF, loc, s),
                     lambda x, loc, s: c.cdf(x, DF, loc, s), (POS, 0.1, SCALE)),
    }  # fmt: skip


DISTS = _dist_cases()


@pytest.mark.parametrize("name", sorted(DISTS))
def test_distribution_matches_scipy(name):
    ours, ref, args = DISTS[name]
    _check(ours, ref, *(np.asarray(a, float) for a in args), rtol=1e-11)


@pytest.mark.parametrize("name", ["norm.logpdf", "norm.cdf", "t.logpdf", "gamma.logpdf"])
def test_distribution_keeps_float32(name):
    ours, _, args = DISTS[name]
    args32 = [np.asarray(a, np.float32) for a in args]
    assert ours(*args32).dtype == np.float32
    assert grad(lambda x: anp.sum(ours(x, *args32[1:])))(args32[0]).dtype == np.float32


def test_distributions_outside_support_match_scipy(no_warnings):
    x = np.array([-0.5, 0.3, 0.7, 1.5])
    a, b = 2.5, 1.5
    for ours, ref in [
        (lambda x: stats.beta.logpdf(x, a, b), lambda x: st.beta.logpdf(x, a, b)),
        (lambda x: stats.beta.cdf(x, a, b), lambda x: st.beta.cdf(x, a, b)),
        (lambda x: stats.gamma.logpdf(x, a), lambda x: st.gamma.logpdf(x, a)),
        (lambda x: stats.gamma.cdf(x, a), lambda x: st.gamma.cdf(x, a)),
        (lambda x: stats.chi2.pdf(x, 3.0), lambda x: st.chi2.pdf(x, 3.0)),
    ]:
        np.testing.assert_allclose(ours(x), ref(x), rtol=1e-12)
        g = grad(lambda x: anp.sum(ours(x)))(x)  # noqa: B023
        assert np.all(np.isfinite(g)) and g[0] == 0.0 and np.all(g[1:3] != 0)


@pytest.mark.parametrize("m", ["pmf", "logpmf", "cdf"])
def test_poisson_matches_scipy(m, no_warnings):
    k = np.array([0.0, 1.0, 3.0, 7.0, 2.5, -1.0])
    mu = np.array([0.5, 1.3, 2.0, 4.5, 2.0, 1.0])

    def ours(mu, k=k):
        return getattr(stats.poisson, m)(k, mu)

    np.testing.assert_allclose(ours(mu), getattr(st.poisson, m)(k, mu), rtol=1e-12)
    np.testing.assert_allclose(
        getattr(stats.poisson, m)(k, mu, loc=1), getattr(st.poisson, m)(k, mu, 1), rtol=1e-12
    )
    # logpmf is -inf at k = 2.5 and k = -1: finite differences are NaN there
    check_grads(lambda mu: ours(mu, k[:4]), mu[:4], modes=MODES, order=2)
    g = grad(lambda mu: anp.sum(ours(mu)))(mu)
    assert np.all(np.isfinite(g)) and g[5] == 0 and (m == "cdf" or g[4] == 0)


@pytest.mark.parametrize("shape", [(3,), (3, 4)])
def test_dirichlet_matches_scipy(shape):
    alpha = np.array([0.8, 2.0, 3.5])
    x = RNG.dirichlet(alpha, size=shape[1:]).T.reshape(shape)
    for m in ["pdf", "logpdf"]:
        _check(getattr(stats.dirichlet, m), getattr(st.dirichlet, m), x, alpha, rtol=1e-11)
    np.testing.assert_allclose(stats.dirichlet.logpdf(x[:2], alpha), st.dirichlet.logpdf(x, alpha))
    check_grads(lambda x2, a: stats.dirichlet.logpdf(x2, a), x[:2], alpha, modes=MODES)
    with pytest.raises(ValueError, match="lie in"):
        stats.dirichlet.logpdf(x - 0.9, alpha)
    with pytest.raises(ValueError, match="first axis"):
        stats.dirichlet.logpdf(np.ones((5,)) / 5, alpha)


def _spd(d):
    a = RNG.standard_normal((d, d))
    return a @ a.T + d * np.eye(d)


@pytest.mark.parametrize("xshape", [(3,), (4, 3), (2, 2, 3)])
@pytest.mark.parametrize("m", ["pdf", "logpdf"])
def test_multivariate_normal_matches_scipy(xshape, m):
    x = RNG.standard_normal(xshape)
    mean = RNG.standard_normal(3)
    cov = _spd(3)
    ours = getattr(stats.multivariate_normal, m)
    ref = getattr(st.multivariate_normal, m)
    np.testing.assert_allclose(ours(x, mean, cov), ref(x, mean, cov), rtol=1e-11)

    def f(x, mean, a):  # cov = a a^T + 3 I stays SPD under perturbation
        return ours(x, mean, a @ anp.swapaxes(a, 0, 1) + 3 * np.eye(3))

    check_grads(f, x, mean, RNG.standard_normal((3, 3)), modes=MODES, order=2)


@pytest.mark.parametrize("cov", [2.0, np.array([1.5, 0.5, 2.0])])
def test_multivariate_normal_scalar_and_diagonal_cov(cov):
    d = np.size(cov) if np.ndim(cov) else 1
    mean = np.zeros(d) + 0.3
    x = RNG.standard_normal((4, d)) if d > 1 else RNG.standard_normal(4)
    ours = stats.multivariate_normal.logpdf
    np.testing.assert_allclose(ours(x, mean, cov), st.multivariate_normal.logpdf(x, mean, cov))
    check_grads(lambda x, c: ours(x, mean, c), x, np.asarray(cov, float), modes=MODES, order=2)


def test_multivariate_normal_keeps_float32():
    x = RNG.standard_normal((4, 2)).astype(np.float32)
    cov = _spd(2).astype(np.float32)
    f = lambda c: anp.sum(stats.multivariate_normal.logpdf(x, np.zeros(2, np.float32), c))  # noqa: E731
    assert f(cov).dtype == np.float32 and grad(f)(cov).dtype == np.float32
