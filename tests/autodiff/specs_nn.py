"""Property-test cases of nn's primitives (``OPS["nn.*"]``, registered by ``nn.losses`` and
``nn.activations``); the elementwise ones (sigmoid, relu, leaky_relu) take the default case."""

from __future__ import annotations

from hypothesis import strategies as st
from opspec import array, rng_of, shape


def _xent(draw, dtype):
    """Logits (..., K) with one or more batch axes, integer labels in [0, K); a shift of 0
    or 50 (the forward must not overflow)."""
    shp = shape(draw, min_dims=1, max_dims=3)
    logits = array(draw, dtype, shp) + draw(st.sampled_from([0, 50]))
    labels = rng_of(draw).integers(0, shp[-1], size=shp[:-1])
    return (logits, labels), {}


SPECS = {"nn.softmax_cross_entropy": [_xent]}
