"""``autodiff.scipy.stats``: differentiable densities and distribution functions.

Objects with SciPy's names and method signatures (``norm.logpdf(x, loc=0, scale=1)``),
composed of ``autodiff.scipy.special`` and ``autodiff.numpy`` operations, so every
argument is differentiable except where a special function is not (shape parameters of
``cdf``s that go through ``gammainc``/``betainc``/``stdtr``; counts ``k``). Outside
the support the densities are 0 (log-densities -inf) with zero gradient, as in SciPy.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats as _sp
from numpy.typing import ArrayLike

from .. import numpy as anp
from ..numpy._fallback import numpy_fallback as _numpy_fallback
from ..primitive import Traced, _strip
from . import linalg as _spl
from . import special as sps

__all__ = ["norm", "t", "beta", "chi2", "gamma", "poisson", "dirichlet", "multivariate_normal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _floats(*args):
    """Constant arguments as arrays of the common float dtype, so that Python numbers and
    integer arrays neither promote float32 to float64 nor stay integer."""
    plain = [a if isinstance(a, int | float) else np.asarray(_strip(a)) for a in args]
    dt = np.result_type(*plain, 0.0)
    return [a if isinstance(a, Traced) else np.asarray(a, dt) for a in args]


def _masked(inside, value, fill):
    """``value`` where ``inside`` (a plain mask), ``fill`` elsewhere, with zero gradient there."""
    if np.all(inside):
        return value
    return anp.where(inside, value, fill)


def _safe(x, inside, default):
    """``x`` with ``default`` outside the support, so the unused branch makes no NaN."""
    return x if np.all(inside) else anp.where(inside, x, default)


class _Continuous:
    """``pdf = exp(logpdf)``; subclasses define ``logpdf``."""

    def pdf(self, x: ArrayLike, *args, **kw):
        return anp.exp(self.logpdf(x, *args, **kw))


class _Norm(_Continuous):
    """Normal distribution N(loc, scale^2), like ``scipy.stats.norm``.

    >>> round(float(norm.logpdf(1.0, loc=1.0, scale=2.0)), 6)
    -1.612086
    """

    def logpdf(self, x: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0):
        x, loc, scale = _floats(x, loc, scale)
        z = (x - loc) / scale
        return -0.5 * z * z - anp.log(scale) - _HALF_LOG_2PI

    def cdf(self, x: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0):
        x, loc, scale = _floats(x, loc, scale)
        return sps.ndtr((x - loc) / scale)

    def logcdf(self, x: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0):
        x, loc, scale = _floats(x, loc, scale)
        return sps.log_ndtr((x - loc) / scale)

    def sf(self, x: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0):
        x, loc, scale = _floats(x, loc, scale)
        return sps.ndtr((loc - x) / scale)

    def logsf(self, x: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0):
        x, loc, scale = _floats(x, loc, scale)
        return sps.log_ndtr((loc - x) / scale)

    def ppf(self, q: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0):
        q, loc, scale = _floats(q, loc, scale)
        return loc + scale * sps.ndtri(q)


class _T(_Continuous):
    """Student's t with ``df`` degrees of freedom; ``cdf``/``sf`` not differentiable in df.

    >>> float(t.cdf(0.0, 3.0))
    0.5
    """

    def logpdf(self, x: ArrayLike, df: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0):
        x, df, loc, scale = _floats(x, df, loc, scale)
        z = (x - loc) / scale
        half = 0.5 * (df + 1)
        logc = sps.gammaln(half) - sps.gammaln(0.5 * df) - 0.5 * anp.log(df * math.pi)
        return logc - half * anp.log1p(z * z / df) - anp.log(scale)

    def cdf(self, x: ArrayLike, df: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0):
        x, df, loc, scale = _floats(x, df, loc, scale)
        return sps.stdtr(df, (x - loc) / scale)

    def sf(self, x: ArrayLike, df: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0):
        x, df, loc, scale = _floats(x, df, loc, scale)
        return sps.stdtr(df, (loc - x) / scale)


class _Beta(_Continuous):
    """Beta(a, b) on [loc, loc + scale]; ``cdf`` differentiable in x, loc, scale only.

    >>> float(beta.pdf(0.5, 2.0, 2.0))
    1.5
    """

    def logpdf(
        self, x: ArrayLike, a: ArrayLike, b: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0
    ):
        x, a, b, loc, scale = _floats(x, a, b, loc, scale)
        y = (x - loc) / scale
        inside = (_strip(y) >= 0) & (_strip(y) <= 1)
        y = _safe(y, inside, 0.5)
        out = sps.xlogy(a - 1, y) + sps.xlog1py(b - 1, -y) - sps.betaln(a, b) - anp.log(scale)
        return _masked(inside, out, -np.inf)

    def cdf(
        self, x: ArrayLike, a: ArrayLike, b: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0
    ):
        x, a, b, loc, scale = _floats(x, a, b, loc, scale)
        y = (x - loc) / scale
        inside = (_strip(y) > 0) & (_strip(y) < 1)
        out = sps.betainc(a, b, _safe(y, inside, 0.5))
        return _masked(inside, out, (_strip(y) >= 1).astype(np.result_type(_strip(y))))


class _Gamma(_Continuous):
    """Gamma with shape ``a``; ``cdf`` differentiable in x, loc, scale only.

    >>> round(float(gamma.pdf(1.0, 1.0)), 6)
    0.367879
    """

    def logpdf(self, x: ArrayLike, a: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0):
        x, a, loc, scale = _floats(x, a, loc, scale)
        y = (x - loc) / scale
        inside = _strip(y) >= 0
        y = _safe(y, inside, 1.0)
        out = sps.xlogy(a - 1, y) - y - sps.gammaln(a) - anp.log(scale)
        return _masked(inside, out, -np.inf)

    def cdf(self, x: ArrayLike, a: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0):
        x, a, loc, scale = _floats(x, a, loc, scale)
        y = (x - loc) / scale
        inside = _strip(y) > 0
        return _masked(inside, sps.gammainc(a, _safe(y, inside, 1.0)), 0.0)


class _Chi2(_Continuous):
    """Chi-squared with ``df`` degrees of freedom: Gamma(df / 2, scale 2).

    >>> round(float(chi2.cdf(2.0, 2.0)), 6)
    0.632121
    """

    def logpdf(self, x: ArrayLike, df: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0):
        x, df, loc, scale = _floats(x, df, loc, scale)
        return gamma.logpdf(x, 0.5 * df, loc, 2 * scale)

    def cdf(self, x: ArrayLike, df: ArrayLike, loc: ArrayLike = 0.0, scale: ArrayLike = 1.0):
        x, df, loc, scale = _floats(x, df, loc, scale)
        return gamma.cdf(x, 0.5 * df, loc, 2 * scale)


class _Poisson:
    """Poisson with mean ``mu``; differentiable in mu (k is a count, constant).

    >>> round(float(poisson.pmf(0, 1.0)), 6)
    0.367879
    """

    def logpmf(self, k: ArrayLike, mu: ArrayLike, loc: ArrayLike = 0):
        k = np.asarray(_strip(k)) - np.asarray(_strip(loc))
        (mu,) = _floats(mu)
        inside = (k >= 0) & (k == np.floor(k))
        k = np.where(inside, k, 0).astype(np.result_type(_strip(mu)))
        return _masked(inside, sps.xlogy(k, mu) - sps.gammaln(k + 1) - mu, -np.inf)

    def pmf(self, k: ArrayLike, mu: ArrayLike, loc: ArrayLike = 0):
        return anp.exp(self.logpmf(k, mu, loc))

    def cdf(self, k: ArrayLike, mu: ArrayLike, loc: ArrayLike = 0):
        # P(K <= k) = Q(floor(k) + 1, mu), the regularized upper incomplete gamma
        k = np.floor(np.asarray(_strip(k)) - np.asarray(_strip(loc)))
        (mu,) = _floats(mu)
        inside = k >= 0
        k = np.where(inside, k, 0).astype(np.result_type(_strip(mu)))
        return _masked(inside, sps.gammaincc(k + 1, mu), 0.0)


class _Dirichlet:
    """Dirichlet(alpha); ``x``'s first axis holds the K components (as SciPy), or K - 1 of
    them (the last is then 1 - sum). Unlike SciPy, a sum other than 1 is not an error: the
    density formula extends off the simplex, so gradients in x exist in every direction.

    >>> float(dirichlet.pdf(np.array([0.5, 0.5]), np.array([1.0, 1.0])))
    1.0
    """

    def logpdf(self, x: ArrayLike, alpha: ArrayLike):
        x, alpha = _floats(x, alpha)
        k = np.shape(_strip(alpha))
        if len(k) != 1:
            raise ValueError(f"dirichlet: alpha must be 1-D, got shape {k}.")
        if np.shape(_strip(x))[:1] == (k[0] - 1,):
            x = anp.concatenate([x, 1 - anp.sum(x, axis=0, keepdims=True)], axis=0)
        xs = np.asarray(_strip(x))
        if xs.shape[:1] != k:
            raise ValueError(
                f"dirichlet: x's first axis must have {k[0]} (or {k[0] - 1}) entries like "
                f"alpha, got x of shape {xs.shape}."
            )
        if np.any(xs < 0) or np.any(xs > 1):
            raise ValueError(
                f"dirichlet: x must lie in [0, 1], got min {xs.min()}, max {xs.max()}."
            )
        a = anp.reshape(alpha, k + (1,) * (xs.ndim - 1))
        log_b = anp.sum(sps.gammaln(alpha)) - sps.gammaln(anp.sum(alpha))
        return anp.sum(sps.xlogy(a - 1, x), axis=0) - log_b

    def pdf(self, x: ArrayLike, alpha: ArrayLike):
        return anp.exp(self.logpdf(x, alpha))


class _MultivariateNormal:
    """N(mean, cov) over the last axis of ``x``; ``cov`` symmetric positive definite.

    >>> round(float(multivariate_normal.logpdf(np.zeros(2), cov=np.eye(2))), 6)
    -1.837877
    """

    def logpdf(self, x: ArrayLike, mean: ArrayLike | None = None, cov: ArrayLike = 1):
        x, cov = _floats(x, cov)
        cs = np.shape(_strip(cov))
        if len(cs) == 0:
            d = int(np.size(_strip(mean))) if mean is not None else 1
        else:
            d = cs[0]
        if len(cs) < 2:  # scalar or diagonal covariance
            cov = cov * np.eye(d, dtype=np.result_type(_strip(cov)))
        xs = np.shape(_strip(x))
        if len(xs) == 0 or (len(xs) == 1 and d == 1):  # scalars are points, as in SciPy
            x = anp.reshape(x, xs + (1,))
        if mean is not None:
            (mean,) = _floats(mean)
            x = x - mean
        xs = np.shape(_strip(x))
        if xs[-1] != d:
            raise ValueError(f"multivariate_normal: x has {xs[-1]} components, cov is {d}x{d}.")
        # log N = -(d log 2 pi + log det C + r^T C^{-1} r) / 2 with C = L L^T:
        # log det C = 2 sum log diag L, r^T C^{-1} r = |L^{-1} r|^2
        chol = anp.linalg.cholesky(cov)
        r = anp.swapaxes(anp.reshape(x, (-1, d)), 0, 1)
        z = _spl.solve_triangular(chol, r, lower=True)
        maha = anp.reshape(anp.sum(z * z, axis=0), xs[:-1])
        logdet = anp.sum(anp.log(anp.linalg.diagonal(chol)))
        # SciPy squeezes size-1 axes of the result
        out = -0.5 * maha - logdet - d * _HALF_LOG_2PI
        return anp.squeeze(out) if 1 in np.shape(_strip(out)) else out

    def pdf(self, x: ArrayLike, mean: ArrayLike | None = None, cov: ArrayLike = 1):
        return anp.exp(self.logpdf(x, mean, cov))


norm = _Norm()
t = _T()
beta = _Beta()
gamma = _Gamma()
chi2 = _Chi2()
poisson = _Poisson()
dirichlet = _Dirichlet()
multivariate_normal = _MultivariateNormal()


def __getattr__(name: str):
    return _numpy_fallback(name, _sp, "scipy.stats", globals())
