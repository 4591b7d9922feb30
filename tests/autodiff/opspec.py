"""How the generic property test builds inputs for each primitive.

A *case* is a function ``case(draw, dtype) -> (args, kw)`` giving the positional
arguments and keywords of one call of the primitive. ``draw`` is hypothesis'
``data.draw``. Use the helpers below so values stay inside the op's domain.
Each op family keeps its cases in ``tests/autodiff/specs_<family>.py`` as
``SPECS = {"op name": [case, ...]}``; elementwise ops with a ``domain`` need none.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

RANGES = {
    None: (-2.0, 2.0),
    "positive": (0.3, 3.0),
    "unit": (-0.85, 0.85),
    "gt1": (1.2, 3.0),
    "gt-1": (-0.7, 2.0),
}
# two interleaved grids so that maximum/minimum never see ties or near-ties
GRIDS = (
    np.array([-1.9, -1.3, -0.7, -0.1, 0.5, 1.1, 1.7]),
    np.array([-1.6, -1.0, -0.4, 0.2, 0.8, 1.4]),
)


def rng_of(draw) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def values(rng, shape, dtype=np.float64, domain=None, which=0):
    """Random values of ``shape`` inside ``domain``."""
    if domain == "nonzero":
        mag = rng.uniform(0.3, 2.0, size=shape)
        out = mag * rng.choice([-1.0, 1.0], size=shape)
    elif domain == "distinct":
        out = rng.choice(GRIDS[which % 2], size=shape)
    elif domain == "clip":
        out = rng.choice(GRIDS[0], size=shape)
    else:
        lo, hi = RANGES[domain]
        out = rng.uniform(lo, hi, size=shape)
    return np.asarray(out, dtype=dtype)


def shape(draw, min_dims=0, max_dims=3, min_side=1, max_side=4):
    return draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                 max_side=max_side))  # fmt: skip


def array(draw, dtype=np.float64, shp=None, domain=None, **shape_kw):
    """A random array (``shp`` drawn when not given)."""
    shp = shape(draw, **shape_kw) if shp is None else shp
    return values(rng_of(draw), shp, dtype, domain)


def broadcastable_shapes(draw, n, max_dims=3, max_side=3):
    res = draw(hnp.mutually_broadcastable_shapes(num_shapes=n, max_dims=max_dims,
                                                 max_side=max_side))  # fmt: skip
    return res.input_shapes


def elementwise_case(domain, arity):
    """Default case of an elementwise op: broadcasting shapes, values in ``domain``."""
    doms = domain if isinstance(domain, tuple) else (domain,) * arity

    def case(draw, dtype):
        shapes = broadcastable_shapes(draw, arity)
        rng = rng_of(draw)
        return tuple(values(rng, s, dtype, d, which=i) for i, (s, d) in
                     enumerate(zip(shapes, doms, strict=False))), {}  # fmt: skip

    return case


def axis_for(draw, ndim, allow_none=True, allow_tuple=True):
    """An ``axis`` argument valid for ``ndim`` dims (None, int, negative int or tuple)."""
    options = [None] if allow_none or ndim == 0 else []
    if ndim:
        options += list(range(-ndim, ndim))
        if allow_tuple and ndim > 1:
            options.append(tuple(sorted(draw(st.sets(st.integers(0, ndim - 1), min_size=1)))))
    return draw(st.sampled_from(options))
