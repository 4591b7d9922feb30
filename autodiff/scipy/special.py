"""``autodiff.scipy.special``: differentiable scipy.special.

Each function keeps SciPy's name and signature, broadcasts, and is a primitive whose
derivative is written with other primitives, so derivatives of any order work
(``digamma' = polygamma(1, .)``, ``j0' = -j1``, ...). Orders and shape parameters
(``n`` of ``polygamma``, ``v`` of ``jv``, ``a`` of ``gammainc``) are constants: the
derivative in them raises ``NotImplementedError``. Identities cite the DLMF
(https://dlmf.nist.gov). ``logsumexp`` and ``log_softmax`` are primitives for stability and
speed; ``softmax`` and ``multigammaln`` are composites.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.special as _sp
from numpy.typing import ArrayLike

from .. import numpy as anp
from ..numpy._fallback import numpy_fallback as _numpy_fallback
from ..primitive import Traced, _strip, defop

__all__ = [
    "expit", "log_expit", "logit", "logsumexp", "softmax", "log_softmax", "xlogy", "xlog1py",
    "entr", "erf", "erfc", "erfinv", "erfcinv", "erfcx", "ndtr", "ndtri", "log_ndtr", "gamma",
    "gammaln", "loggamma", "digamma", "psi", "polygamma", "multigammaln", "beta", "betaln",
    "betainc", "gammainc", "gammaincc", "stdtr", "j0", "j1", "jn", "jv", "y0", "y1", "yn", "yv",
    "i0", "i1", "iv", "ive", "i0e", "i1e", "k0", "k1", "kv", "kve", "k0e", "k1e",
]  # fmt: skip

# Python floats (not np.float64) so that float32 inputs stay float32
_2_SQRTPI = 2 / math.sqrt(math.pi)
_SQRTPI_2 = math.sqrt(math.pi) / 2
_SQRT2PI = math.sqrt(2 * math.pi)
_SQRT_2_PI = math.sqrt(2 / math.pi)
_SQRT1_2 = math.sqrt(0.5)
_LOG_PI = math.log(math.pi)


def _float_dtype(x):
    dt = np.result_type(_strip(x))
    return dt if dt.kind in "fc" else np.dtype(np.float64)


def _as_float(a, x):
    """Constant ``a`` (an order, a shape parameter) as an array of ``x``'s float dtype when it
    is a Python number or integer array, so that rule arithmetic keeps float32 float32."""
    if isinstance(a, Traced):
        return a
    arr = np.asarray(a)
    if not isinstance(a, np.ndarray | np.generic) or arr.dtype.kind in "biu":
        return arr.astype(_float_dtype(x))
    return arr


def _keep_dtype(fun):
    """``fun`` with its result in the dtype of its float array arguments: SciPy computes
    integer-order calls such as ``yn(n, x32)`` in float64."""

    @functools.wraps(fun)
    def f(*args):
        out = np.asarray(fun(*args))
        floats = [a for a in args if isinstance(a, np.ndarray | np.generic) and a.dtype.kind == "f"]
        if floats and out.dtype.kind == "f":
            target = np.result_type(*floats)
            if out.dtype != target:
                out = out.astype(target)
        return out[()] if out.ndim == 0 else out

    return f


def _op(fun, deriv, domain=None, name=None, keep=False):
    return defop(_keep_dtype(fun) if keep else fun, name=name or fun.__name__, deriv=deriv,
                 domain=domain)  # fmt: skip


def _sign(x):
    return np.sign(_strip(x))


# Logistic and softmax ------------------------------------------------------------------------
expit = _op(_sp.expit, lambda ans, x: ans * (1 - ans))
log_expit = _op(_sp.log_expit, lambda ans, x: expit(-x))  # d log s(x) = 1 - s(x) = s(-x)
logit = _op(_sp.logit, lambda ans, x: 1 / (x * (1 - x)))


def _max_shift(a, axis, dtype) -> tuple[np.ndarray, bool]:
    """The max of plain ``a`` over ``axis`` (keepdims) as ``dtype``, 0 where it is not finite:
    the constant shift that keeps ``exp`` from overflowing; and whether every max was finite.
    For complex ``a`` it is the max of the real parts, which set ``|exp(a)|``."""
    real = a.real if a.dtype.kind == "c" else a
    m = np.maximum.reduce(real, axis=axis, keepdims=True, initial=-np.inf)
    finite = bool(np.isfinite(m).all())
    if not finite:
        m = np.where(np.isfinite(m), m, 0)
    return m.astype(dtype, copy=False), finite


def _lse(a, b=None, axis=None, keepdims=False):
    a = np.asarray(a)
    if a.dtype.kind not in "fc":  # integers: SciPy's float64 (no -inf for the max shift)
        a = a.astype(float)
    if b is not None:
        a, b = np.broadcast_arrays(a, b)
    m, _ = _max_shift(a, axis, a.real.dtype)  # (complex64 stays complex64, as in SciPy)
    e = np.exp(a - m)
    with np.errstate(divide="ignore"):  # log(0) = -inf: all entries -inf (or weight 0)
        out = np.log(np.sum(e if b is None else b * e, axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _softmax_parts(a, b, axis, keepdims):
    """``exp(a - lse)`` (0 at -inf entries) and a reshaper of reduced values to keepdims.

    The softmax is ``exp((a - m) - logsumexp(a - m))`` with ``m`` the (constant) max, not
    ``exp(a - ans)``: ``ans`` is rounded to its own magnitude (1e-12 at 1e4)."""
    shp = np.shape(_strip(a))
    if b is not None:
        shp = np.broadcast_shapes(shp, np.shape(_strip(b)))
    m, _ = _max_shift(np.broadcast_to(_strip(a), shp), axis, _float_dtype(a))
    shifted = a - m
    lse = _logsumexp(shifted, b, axis=axis, keepdims=True)
    # where every entry is -inf the result is -inf and the gradient 0, never NaN
    lse = anp.where(np.isfinite(_strip(lse)), lse, 0.0)

    def expand(v):
        return v if keepdims else anp.reshape(v, m.shape)

    return anp.exp(shifted - lse), expand


def _lse_vjp_all(g, ans, a, b=None, axis=None, keepdims=False):
    p, expand = _softmax_parts(a, b, axis, keepdims)
    gp = expand(g) * p
    if b is None:
        return gp, None
    shp = np.broadcast_shapes(np.shape(_strip(a)), np.shape(_strip(b)))
    return gp * b, (gp if gp.shape == shp else anp.broadcast_to(gp, shp))


def _lse_jvp_all(tangents, ans, a, b=None, axis=None, keepdims=False):
    p, _ = _softmax_parts(a, b, axis, keepdims)
    ta, tb = tangents
    dot = 0
    if ta is not None:
        dot = ta * p if b is None else ta * p * b
    if tb is not None:
        dot = dot + tb * p
    return anp.sum(dot, axis=axis, keepdims=keepdims)


# a primitive for stability: max-shifted forward, softmax-weighted rules
_logsumexp = defop(_lse, name="logsumexp", vjp_all=_lse_vjp_all, jvp_all=_lse_jvp_all)


def logsumexp(
    a: ArrayLike,
    axis: int | tuple[int, ...] | None = None,
    b: ArrayLike | None = None,
    keepdims: bool = False,
    return_sign: bool = False,
):
    """``log(sum(b * exp(a)))`` over ``axis``, stable for large and -inf entries.

    >>> float(logsumexp(np.array([1000.0, 1000.0])))
    1000.6931471805599
    """
    if return_sign:
        raise NotImplementedError(
            "autodiff.scipy.special.logsumexp: return_sign=True is not supported. Keep the "
            "weights b non-negative, or use scipy.special.logsumexp on plain arrays."
        )
    return _logsumexp(a, b, axis=axis, keepdims=keepdims)


def _log_softmax(x, axis=None):
    x = np.asarray(x)
    if x.dtype.kind not in "fc":  # integers: float64, as SciPy
        x = x.astype(float)
    m, finite = _max_shift(x, axis, x.real.dtype)
    shifted = x - m
    s = np.add.reduce(np.exp(shifted), axis=axis, keepdims=True)
    if finite:  # the max contributes exp(0) = 1: s >= 1
        lse = np.log(s)
    else:
        with np.errstate(divide="ignore"):  # every entry -inf: log 0
            lse = np.log(s)
    if type(shifted) is not np.ndarray:  # 0-d: NumPy scalars
        return shifted - lse
    shifted -= lse
    return shifted


# a primitive: one node instead of five, with the exact rules through softmax = exp(ans)
_log_softmax_op = defop(
    _log_softmax,
    name="log_softmax",
    vjp=lambda g, ans, x, axis=None: g - anp.exp(ans) * anp.sum(g, axis=axis, keepdims=True),
    jvp=lambda t, ans, x, axis=None: t - anp.sum(anp.exp(ans) * t, axis=axis, keepdims=True),
)


def log_softmax(x: ArrayLike, axis: int | tuple[int, ...] | None = None):
    """``x - logsumexp(x)`` over ``axis`` (stable); a primitive whose rules use softmax.

    >>> log_softmax(np.array([0.0, 0.0])).tolist()
    [-0.6931471805599453, -0.6931471805599453]
    """
    return _log_softmax_op(x, axis=axis)


def softmax(x: ArrayLike, axis: int | tuple[int, ...] | None = None):
    """``exp(x) / sum(exp(x))`` over ``axis``, as ``exp(log_softmax(x))`` (stable).

    >>> softmax(np.array([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    return anp.exp(log_softmax(x, axis=axis))


# Logarithms and entropy ---------------------------------------------------------------------
xlogy = _op(_sp.xlogy, (lambda ans, x, y: anp.log(y), lambda ans, x, y: x / y),
            domain=(None, "positive"))  # fmt: skip
xlog1py = _op(_sp.xlog1py, (lambda ans, x, y: anp.log1p(y), lambda ans, x, y: x / (1 + y)),
              domain=(None, "gt-1"))  # fmt: skip
entr = _op(_sp.entr, lambda ans, x: -anp.log(x) - 1, "positive")

# Error function and normal distribution (DLMF 7.2, 7.10) -------------------------------------
erf = _op(_sp.erf, lambda ans, x: _2_SQRTPI * anp.exp(-x * x))
erfc = _op(_sp.erfc, lambda ans, x: -_2_SQRTPI * anp.exp(-x * x))
erfinv = _op(_sp.erfinv, lambda ans, x: _SQRTPI_2 * anp.exp(ans * ans), "unit")
erfcinv = _op(_sp.erfcinv, lambda ans, x: -_SQRTPI_2 * anp.exp(ans * ans))
# erfcx = exp(x^2) erfc(x): erfcx' = 2 x erfcx - 2 / sqrt(pi)
erfcx = _op(_sp.erfcx, lambda ans, x: 2 * x * ans - _2_SQRTPI)
ndtr = _op(_sp.ndtr, lambda ans, x: anp.exp(-0.5 * x * x) / _SQRT2PI)
ndtri = _op(_sp.ndtri, lambda ans, x: _SQRT2PI * anp.exp(0.5 * ans * ans))
# pdf / cdf = sqrt(2/pi) / erfcx(-x / sqrt 2): no underflow for very negative x
log_ndtr = _op(_sp.log_ndtr, lambda ans, x: _SQRT_2_PI / erfcx(-_SQRT1_2 * x))

# Gamma and beta functions (DLMF 5.2, 5.12, 5.15) --------------------------------------------
gamma = _op(_sp.gamma, lambda ans, x: ans * digamma(x), "positive")
gammaln = _op(_sp.gammaln, lambda ans, x: digamma(x), "positive")
loggamma = _op(_sp.loggamma, lambda ans, x: digamma(x), "positive")
digamma = _op(_sp.digamma, lambda ans, x: polygamma(1, x), "positive")
psi = digamma
polygamma = _op(_sp.polygamma, (None, lambda ans, n, x: polygamma(n + 1, x)), keep=True)
beta = _op(_sp.beta, (lambda ans, a, b: ans * (digamma(a) - digamma(a + b)),
                      lambda ans, a, b: ans * (digamma(b) - digamma(a + b))),
           "positive")  # fmt: skip
betaln = _op(_sp.betaln, (lambda ans, a, b: digamma(a) - digamma(a + b),
                          lambda ans, a, b: digamma(b) - digamma(a + b)), "positive")  # fmt: skip


def multigammaln(a: ArrayLike, d: int):
    """Log of the multivariate gamma function, ``d(d-1)/4 log(pi) + sum_j gammaln(a - j/2)``.

    >>> round(float(multigammaln(3.0, 2)), 12) == round(float(_sp.multigammaln(3.0, 2)), 12)
    True
    """
    d = int(d)
    if np.any(np.asarray(_strip(a)) <= 0.5 * (d - 1)):
        raise ValueError(f"multigammaln: a must be > (d - 1) / 2 = {0.5 * (d - 1)}, got {a!r}.")
    out = gammaln(a)
    for j in range(1, d):
        out = out + gammaln(a - 0.5 * j)
    return out + 0.25 * d * (d - 1) * _LOG_PI


# Incomplete gamma and beta, Student's t cdf: derivatives in x only ---------------------------
def _gammainc_dx(ans, a, x):
    # d/dx P(a, x) = x^(a-1) e^(-x) / Gamma(a)   (DLMF 8.8.13)
    a = _as_float(a, x)
    return anp.exp(xlogy(a - 1, x) - x - gammaln(a))


def _betainc_dx(ans, a, b, x):
    # d/dx I_x(a, b) = x^(a-1) (1 - x)^(b-1) / B(a, b)   (DLMF 8.17.2)
    a, b = _as_float(a, x), _as_float(b, x)
    return anp.exp(xlogy(a - 1, x) + xlog1py(b - 1, -x) - betaln(a, b))


def _stdtr_dt(ans, df, t):
    # the density of Student's t with df degrees of freedom
    df = _as_float(df, t)
    logc = gammaln(0.5 * (df + 1)) - gammaln(0.5 * df) - 0.5 * anp.log(df * math.pi)
    return anp.exp(logc - 0.5 * (df + 1) * anp.log1p(t * t / df))


gammainc = _op(_sp.gammainc, (None, _gammainc_dx), keep=True)
gammaincc = _op(_sp.gammaincc, (None, lambda ans, a, x: -_gammainc_dx(ans, a, x)), keep=True)
betainc = _op(_sp.betainc, (None, None, _betainc_dx), keep=True)
stdtr = _op(_sp.stdtr, (None, _stdtr_dt), keep=True)

# Bessel functions: derivatives by the recurrences of DLMF 10.6.2 and 10.29.2 -----------------
# (C_{v-1} - C_{v+1}) / 2 for J, Y; (I_{v-1} + I_{v+1}) / 2; -(K_{v-1} + K_{v+1}) / 2;
# the exponentially scaled ive = iv e^{-|x|}, kve = kv e^x add -sign(x) ive, +kve.
j0 = _op(_sp.j0, lambda ans, x: -j1(x))
j1 = _op(_sp.j1, lambda ans, x: 0.5 * (j0(x) - jv(2, x)))
jv = _op(_sp.jv, (None, lambda ans, v, x: 0.5 * (jv(v - 1, x) - jv(v + 1, x))), keep=True)
jn = jv
y0 = _op(_sp.y0, lambda ans, x: -y1(x), "positive")
y1 = _op(_sp.y1, lambda ans, x: 0.5 * (y0(x) - yn(2, x)), "positive")
yn = _op(_sp.yn, (None, lambda ans, n, x: 0.5 * (yn(n - 1, x) - yn(n + 1, x))), keep=True)
yv = _op(_sp.yv, (None, lambda ans, v, x: 0.5 * (yv(v - 1, x) - yv(v + 1, x))), keep=True)
i0 = _op(_sp.i0, lambda ans, x: i1(x))
i1 = _op(_sp.i1, lambda ans, x: 0.5 * (i0(x) + iv(2, x)))
iv = _op(_sp.iv, (None, lambda ans, v, x: 0.5 * (iv(v - 1, x) + iv(v + 1, x))), keep=True)
ive = _op(_sp.ive, (None, lambda ans, v, x: 0.5 * (ive(v - 1, x) + ive(v + 1, x))
                    - _sign(x) * ans), keep=True)  # fmt: skip
i0e = _op(_sp.i0e, lambda ans, x: i1e(x) - _sign(x) * ans, "nonzero")
i1e = _op(_sp.i1e, lambda ans, x: 0.5 * (i0e(x) + ive(2, x)) - _sign(x) * ans, "nonzero")
k0 = _op(_sp.k0, lambda ans, x: -k1(x), "positive")
k1 = _op(_sp.k1, lambda ans, x: -0.5 * (k0(x) + kv(2, x)), "positive")
kv = _op(_sp.kv, (None, lambda ans, v, x: -0.5 * (kv(v - 1, x) + kv(v + 1, x))), keep=True)
kve = _op(_sp.kve, (None, lambda ans, v, x: ans - 0.5 * (kve(v - 1, x) + kve(v + 1, x))),
          keep=True)  # fmt: skip
k0e = _op(_sp.k0e, lambda ans, x: ans - k1e(x), "positive")
k1e = _op(_sp.k1e, lambda ans, x: ans - 0.5 * (k0e(x) + kve(2, x)), "positive")


def __getattr__(name: str):
    return _numpy_fallback(name, _sp, "scipy.special", globals())
