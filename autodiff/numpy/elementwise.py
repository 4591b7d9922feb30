"""Elementwise operations: arithmetic, ufuncs, comparisons.

Every op broadcasts like NumPy; the tape sums cotangents back to each input's
shape. One-sided choices at non-differentiable points: ``abs``/``sign``-like
kinks take derivative 0 at 0 (``sign(0) = 0``), ``maximum``/``minimum`` split
the cotangent equally at ties, ``sqrt`` at 0 gives ``inf`` (as in JAX), ``clip``
passes the gradient at the bounds to ``x``.
Complex inputs follow autograd's convention: holomorphic rules multiply by
``f'(z)`` without conjugation; ``abs``, ``real``, ``imag`` and ``conj`` map back
to the input's type.
"""

from __future__ import annotations

import numpy as np

from ..primitive import defop, plain_alike

__all__ = [
    "add", "subtract", "multiply", "divide", "true_divide", "negative", "positive", "power",
    "float_power", "square", "sqrt", "cbrt", "reciprocal", "exp", "exp2", "expm1", "log",
    "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh",
    "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "arctan2", "hypot", "abs", "absolute",
    "fabs", "maximum", "minimum", "fmax", "fmin", "clip", "where", "logaddexp", "logaddexp2",
    "sinc", "real", "imag", "conj", "conjugate", "angle", "deg2rad", "rad2deg", "radians",
    "degrees", "mod", "remainder", "fmod", "astype",
]  # fmt: skip

_LN2 = np.log(2.0)
_LN10 = np.log(10.0)


def _ew(fun, vjp, jvp, domain=None, name=None):
    """An elementwise op with explicit rules (the hot path avoids a ``deriv`` wrapper)."""
    return defop(fun, vjp=vjp, jvp=jvp, domain=domain, batch_jvp=True, name=name)


# Arithmetic ------------------------------------------------------------------------------
add = _ew(np.add, (lambda g, ans, x, y: g, lambda g, ans, x, y: g),
          (lambda t, ans, x, y: t, lambda t, ans, x, y: t))  # fmt: skip
subtract = _ew(np.subtract, (lambda g, ans, x, y: g, lambda g, ans, x, y: -g),
               (lambda t, ans, x, y: t, lambda t, ans, x, y: -t))  # fmt: skip
multiply = _ew(np.multiply, (lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x),
               (lambda t, ans, x, y: t * y, lambda t, ans, x, y: x * t))  # fmt: skip
divide = _ew(np.divide, (lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y),
             (lambda t, ans, x, y: t / y, lambda t, ans, x, y: -t * ans / y),
             domain=(None, "nonzero"))  # fmt: skip
true_divide = divide
negative = _ew(np.negative, lambda g, ans, x: -g, lambda t, ans, x: -t)
positive = _ew(np.positive, lambda g, ans, x: g, lambda t, ans, x: t)


def _pow_dx(ans, x, y):
    # y * x**(y - 1), written so that x = 0 with y >= 1 gives a finite value
    return y * power(x, y - 1)


def _pow_dy(ans, x, y):
    # log(x) * x**y; only called when the exponent is traced (x must be positive)
    return log(where(x > 0, x, 1)) * ans


power = defop(np.power, deriv=(_pow_dx, _pow_dy), domain=("positive", None))
float_power = defop(
    np.float_power,
    deriv=(lambda ans, x, y: y * float_power(x, y - 1), lambda ans, x, y: log(x) * ans),
    domain=("positive", None),
)
square = _ew(np.square, lambda g, ans, x: g * 2 * x, lambda t, ans, x: t * 2 * x)
sqrt = _ew(np.sqrt, lambda g, ans, x: g * 0.5 / ans, lambda t, ans, x: t * 0.5 / ans, "positive")
cbrt = defop(np.cbrt, deriv=lambda ans, x: 1 / (3 * ans**2), domain="nonzero")
reciprocal = defop(np.reciprocal, deriv=lambda ans, x: -(ans**2), domain="nonzero")

# Exponentials and logarithms ---------------------------------------------------------------
exp = _ew(np.exp, lambda g, ans, x: g * ans, lambda t, ans, x: t * ans)
exp2 = defop(np.exp2, deriv=lambda ans, x: ans * _LN2)
expm1 = defop(np.expm1, deriv=lambda ans, x: ans + 1)
log = _ew(np.log, lambda g, ans, x: g / x, lambda t, ans, x: t / x, "positive")
log2 = defop(np.log2, deriv=lambda ans, x: 1 / (x * _LN2), domain="positive")
log10 = defop(np.log10, deriv=lambda ans, x: 1 / (x * _LN10), domain="positive")
log1p = defop(np.log1p, deriv=lambda ans, x: 1 / (1 + x), domain="gt-1")
logaddexp = defop(
    np.logaddexp, deriv=(lambda ans, x, y: exp(x - ans), lambda ans, x, y: exp(y - ans))
)
logaddexp2 = defop(
    np.logaddexp2,
    deriv=(lambda ans, x, y: exp2(x - ans), lambda ans, x, y: exp2(y - ans)),
)

# Trigonometric and hyperbolic --------------------------------------------------------------
sin = _ew(np.sin, lambda g, ans, x: g * cos(x), lambda t, ans, x: t * cos(x))
cos = _ew(np.cos, lambda g, ans, x: -g * sin(x), lambda t, ans, x: -t * sin(x))
tan = defop(np.tan, deriv=lambda ans, x: 1 + ans**2, domain="unit")
arcsin = defop(np.arcsin, deriv=lambda ans, x: 1 / sqrt(1 - x**2), domain="unit")
arccos = defop(np.arccos, deriv=lambda ans, x: -1 / sqrt(1 - x**2), domain="unit")
arctan = defop(np.arctan, deriv=lambda ans, x: 1 / (1 + x**2))
sinh = defop(np.sinh, deriv=lambda ans, x: cosh(x))
cosh = defop(np.cosh, deriv=lambda ans, x: sinh(x))


def _tanh_vjp(g, ans, x):
    if plain_alike(g, ans):  # one temporary instead of three, a quarter faster
        d = ans * ans
        np.subtract(1, d, out=d)
        d *= g
        return d
    return g * (1 - ans * ans)


tanh = _ew(np.tanh, _tanh_vjp, lambda t, ans, x: t * (1 - ans * ans))
arcsinh = defop(np.arcsinh, deriv=lambda ans, x: 1 / sqrt(x**2 + 1))
arccosh = defop(np.arccosh, deriv=lambda ans, x: 1 / sqrt(x**2 - 1), domain="gt1")
arctanh = defop(np.arctanh, deriv=lambda ans, x: 1 / (1 - x**2), domain="unit")
arctan2 = defop(
    np.arctan2,
    deriv=(lambda ans, y, x: x / (x**2 + y**2), lambda ans, y, x: -y / (x**2 + y**2)),
    domain=("nonzero", "nonzero"),
)
hypot = defop(
    np.hypot, deriv=(lambda ans, x, y: x / ans, lambda ans, x, y: y / ans), domain="nonzero"
)
sinc = defop(
    np.sinc,
    deriv=lambda ans, x: where(x == 0, 0.0, (cos(np.pi * x) - ans) / where(x == 0, 1.0, x)),
)
deg2rad = defop(np.deg2rad, deriv=lambda ans, x: np.pi / 180)
rad2deg = defop(np.rad2deg, deriv=lambda ans, x: 180 / np.pi)
radians = deg2rad
degrees = rad2deg


# Absolute values, extrema, kinks -----------------------------------------------------------
def _abs_vjp(g, ans, x):
    if np.iscomplexobj(_plain(x)):
        return g * conj(x) / where(ans == 0, 1.0, ans)
    return g * _sign(x)


abs = _ew(
    np.abs,
    _abs_vjp,
    lambda t, ans, x: (
        real(t * conj(x)) / where(ans == 0, 1.0, ans)
        if np.iscomplexobj(_plain(x))
        else t * _sign(x)
    ),
    domain="nonzero",
)  # noqa: A001
absolute = abs
fabs = defop(np.fabs, deriv=lambda ans, x: _sign(x), domain="nonzero")


def _balanced(x, y):
    """1 where x wins, 0 where y wins, 1/2 at ties."""
    return (x > y) + 0.5 * (x == y)


def _balanced_nan(x, y):
    """fmax/fmin ignore NaN: the non-NaN argument wins."""
    return where(np.isnan(_plain(y)), 1.0, where(np.isnan(_plain(x)), 0.0, _balanced(x, y)))


maximum = defop(
    np.maximum,
    deriv=(lambda ans, x, y: _balanced(x, y), lambda ans, x, y: _balanced(y, x)),
    domain="distinct",
)
minimum = defop(
    np.minimum,
    deriv=(lambda ans, x, y: _balanced(y, x), lambda ans, x, y: _balanced(x, y)),
    domain="distinct",
)
fmax = defop(
    np.fmax,
    deriv=(lambda ans, x, y: _balanced_nan(x, y), lambda ans, x, y: _balanced_nan(y, x)),
    domain="distinct",
)
fmin = defop(
    np.fmin,
    deriv=(lambda ans, x, y: _balanced_nan(y, x), lambda ans, x, y: _balanced_nan(x, y)),
    domain="distinct",
)


def _clip(x, lo, hi):
    return np.clip(x, lo, hi)


clip = defop(
    _clip,
    name="clip",
    deriv=(
        lambda ans, x, lo, hi: _inside(x, lo, hi),
        lambda ans, x, lo, hi: x < lo,
        lambda ans, x, lo, hi: x > hi,
    ),
    domain="clip",
)


def _inside(x, lo, hi):
    inside = np.ones(np.shape(_plain(x)), dtype=bool)
    if lo is not None:
        inside = inside & (_plain(x) >= _plain(lo))
    if hi is not None:
        inside = inside & (_plain(x) <= _plain(hi))
    return inside


where = defop(
    np.where,
    vjp=(
        None,
        lambda g, ans, c, x, y: where(c, g, 0.0),
        lambda g, ans, c, x, y: where(c, 0.0, g),
    ),
    jvp=(None, lambda t, ans, c, x, y: where(c, t, 0.0), lambda t, ans, c, x, y: where(c, 0.0, t)),
    batch_jvp=True,
)
mod = defop(
    np.mod,
    deriv=(lambda ans, x, y: 1.0, lambda ans, x, y: -np.floor_divide(_plain(x), _plain(y))),
    domain=("positive", "positive"),
)
remainder = mod
fmod = defop(
    np.fmod,
    deriv=(lambda ans, x, y: 1.0, lambda ans, x, y: -np.trunc(_plain(x) / _plain(y))),
    domain=("positive", "positive"),
)

# Complex parts -----------------------------------------------------------------------------
real = defop(np.real, vjp=lambda g, ans, x: _match(g, x), jvp="linear")
imag = defop(np.imag, vjp=lambda g, ans, x: _match(-1j * g, x), jvp="linear")
conj = defop(np.conj, vjp=lambda g, ans, x: conj(g), jvp="linear", name="conj")
conjugate = conj
angle = defop(
    np.angle,
    vjp=lambda g, ans, x: (
        _match(g * conj(x * 1j) / abs(x) ** 2, x) if np.iscomplexobj(_plain(x)) else g * 0.0
    ),
    jvp=lambda t, ans, x: (
        real(t * conj(x * 1j)) / abs(x) ** 2 if np.iscomplexobj(_plain(x)) else t * 0.0
    ),
    domain="nonzero",
)


def _astype(x, dtype):
    return np.asarray(x).astype(dtype, copy=False)


astype = defop(
    _astype,
    name="astype",
    vjp=lambda g, ans, x, dtype: astype(_match(g, x), np.result_type(_plain(x))),
    jvp=lambda t, ans, x, dtype: astype(t, dtype),
    batch_jvp=True,
)


def _sign(x):
    return np.sign(_plain(x))


def _plain(x):
    from ..primitive import _strip

    return _strip(x)


def _match(g, x):
    """Cotangent ``g`` as the type of ``x``: real part for real inputs."""
    if np.iscomplexobj(_plain(g)) and not np.iscomplexobj(_plain(x)):
        return real(g)
    return g
