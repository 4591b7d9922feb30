"""Property-test cases of the reductions and scans: sum, mean, prod, max, min, var, cumsum, ..."""

import numpy as np
from hypothesis import strategies as st
from opspec import array, axis_for, rng_of, shape, values


def _axis_kw(draw, ndim, keepdims=True):
    """``axis`` (and ``keepdims``) as keywords, or axis positionally as ``x.sum(0)`` passes it."""
    axis = axis_for(draw, ndim)
    kw = {"keepdims": draw(st.booleans())} if keepdims else {}
    if draw(st.booleans()):
        return (axis,), kw
    return (), dict(kw, axis=axis)


def _reduce(draw, dtype):
    x = array(draw, dtype)
    extra, kw = _axis_kw(draw, x.ndim)
    return (x, *extra), kw


def _with_zeros(draw, dtype, shp):
    """Values of magnitude 0.5..1.5, with 0, 1 or 2 exact zeros (prod is smooth there)."""
    rng = rng_of(draw)
    x = rng.uniform(0.5, 1.5, shp) * rng.choice([-1.0, 1.0], shp)
    flat = x.reshape(-1)
    n_zeros = draw(st.integers(0, min(2, flat.size)))
    flat[rng.choice(flat.size, n_zeros, replace=False)] = 0.0
    return x.astype(dtype)


def _prod(draw, dtype):
    x = _with_zeros(draw, dtype, shape(draw, max_side=3))
    extra, kw = _axis_kw(draw, x.ndim)
    if draw(st.booleans()):
        kw["initial"] = draw(st.sampled_from([2.0, -0.5]))
    if x.ndim and draw(st.booleans()):
        kw["where"] = rng_of(draw).random(x.shape) > 0.3
    return (x, *extra), kw


def _distinct(draw, dtype, shp):
    """Values without ties (0.37 apart), so that the extremum is differentiable."""
    rng = rng_of(draw)
    size = int(np.prod(shp, dtype=int))
    return ((rng.permutation(size) - size / 2) * 0.37).reshape(shp).astype(dtype)


def _extremum(sign):
    def case(draw, dtype):
        x = _distinct(draw, dtype, shape(draw))
        extra, kw = _axis_kw(draw, x.ndim)
        option = draw(st.sampled_from(["", "initial", "where"]))
        if option == "initial":
            # below every entry (no effect) or beyond every entry (the result, zero gradient)
            kw["initial"] = sign * draw(st.sampled_from([-50.0, 50.0]))
        elif option == "where" and x.ndim:
            kw["where"] = rng_of(draw).random(x.shape) > 0.3
            kw["initial"] = -sign * 50.0
        return (x, *extra), kw

    return case


def _var(draw, dtype):
    x = array(draw, dtype)
    axis = axis_for(draw, x.ndim)
    axes = range(x.ndim) if axis is None else np.atleast_1d(axis)
    count = int(np.prod([x.shape[a] for a in axes], dtype=int))
    kw = {"axis": axis, "keepdims": draw(st.booleans())}
    kw["ddof"] = draw(st.integers(0, min(1, count - 1)))
    return (x,), kw


def _scan(zeros):
    def case(draw, dtype):
        shp = shape(draw, max_side=5)
        x = _with_zeros(draw, dtype, shp) if zeros else values(rng_of(draw), shp, dtype)
        axis = draw(st.sampled_from([None] + list(range(-x.ndim, x.ndim))))
        if draw(st.booleans()):
            return (x, axis), {}
        return (x,), {"axis": axis}

    return case


def _shift(draw, dtype):
    x = array(draw, dtype, min_dims=1)
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[axis]
    return (x, draw(st.integers(-n - 1, n + 1)), axis), {}


SPECS = {
    "sum": [_reduce],
    "mean": [_reduce],
    "prod": [_prod],
    "max": [_extremum(1)],
    "min": [_extremum(-1)],
    "var": [_var],
    "cumsum": [_scan(False)],
    "cumprod": [_scan(True)],
    "_scan_shift": [_shift],
}
