"""Property-test cases of autodiff.scipy.special: domains not in opspec.RANGES, orders,
shape parameters, logsumexp's axis/keepdims/weights."""

import numpy as np
from hypothesis import strategies as st
from opspec import array, axis_for, broadcastable_shapes, rng_of, values


def _uniform(lo, hi):
    """One argument uniform in (lo, hi), broadcast shapes."""

    def case(draw, dtype):
        (s,) = broadcastable_shapes(draw, 1)
        return (rng_of(draw).uniform(lo, hi, s).astype(dtype),), {}

    return case


def _params(*ranges, ints=None):
    """Several broadcasting arguments, uniform in ``ranges``; ``ints`` makes the first one an
    integer order drawn from that list."""

    def case(draw, dtype):
        shapes = broadcastable_shapes(draw, len(ranges))
        rng = rng_of(draw)
        args = [
            rng.uniform(lo, hi, s).astype(dtype) for (lo, hi), s in zip(ranges, shapes, strict=True)
        ]
        if ints is not None:
            args[0] = rng.choice(ints, size=shapes[0])
        return tuple(args), {}

    return case


def _logsumexp(draw, dtype):
    sa, sb = broadcastable_shapes(draw, 2)
    rng = rng_of(draw)
    a = values(rng, sa, dtype)
    b = draw(st.sampled_from([None, rng.uniform(0.2, 2.0, sb).astype(dtype)]))
    ndim = len(np.broadcast_shapes(sa, sb if b is not None else ()))
    return (a, b), {"axis": axis_for(draw, ndim), "keepdims": draw(st.booleans())}


def _logsumexp_large(draw, dtype):
    """Large entries (a shift of 50): the forward must not overflow."""
    a = array(draw, dtype, min_dims=1) + 50
    return (a, None), {"axis": axis_for(draw, a.ndim), "keepdims": draw(st.booleans())}


def _log_softmax(draw, dtype):
    """Any axis (None, negative, tuple); a shift of 0 or 50 (the forward must not overflow)."""
    a = array(draw, dtype) + draw(st.sampled_from([0, 50]))
    return (a,), {"axis": axis_for(draw, a.ndim)}


_POS = (0.3, 3.0)
_X = (-2.0, 2.0)
_ORDERS = [-1, 0, 1, 2, 3]
_int_order = _params(_X, _X, ints=_ORDERS)  # integer order: smooth for every real x
_real_order = _params((-1.5, 2.5), _POS)  # real order: x > 0

SPECS = {
    "logsumexp": [_logsumexp, _logsumexp_large],
    "log_softmax": [_log_softmax],
    "logit": [_uniform(0.05, 0.95)],
    "ndtri": [_uniform(0.05, 0.95)],
    "erfcinv": [_uniform(0.1, 1.9)],
    "polygamma": [_params(_POS, _POS, ints=[0, 1, 2, 3])],
    "gammainc": [_params((0.5, 3.0), _POS)],
    "gammaincc": [_params((0.5, 3.0), _POS)],
    "betainc": [_params((0.5, 3.0), (0.5, 3.0), (0.05, 0.95))],
    "stdtr": [_params((1.0, 10.0), _X)],
    "jv": [_int_order, _real_order],
    "yn": [_params(_POS, (0.5, 3.0), ints=_ORDERS)],
    "yv": [_params((-1.5, 2.5), (0.5, 3.0))],
    "iv": [_int_order, _real_order],
    "ive": [
        _params(_X, (0.3, 2.0), ints=_ORDERS),
        _params(_X, (-2.0, -0.3), ints=_ORDERS),
        _real_order,
    ],  # fmt: skip
    "kv": [_real_order],
    "kve": [_real_order],
}
