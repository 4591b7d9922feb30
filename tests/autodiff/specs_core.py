"""Property-test cases of the core primitives: reductions, shapes, indexing, products."""

import numpy as np
from hypothesis import strategies as st
from opspec import array, broadcastable_shapes, rng_of, shape, values


def _broadcast_to(draw, dtype):
    s = shape(draw, max_dims=2, max_side=3)
    lead = draw(st.lists(st.integers(1, 3), max_size=2))
    target = tuple(lead) + tuple(d if d != 1 else draw(st.integers(1, 3)) for d in s)
    return (array(draw, dtype, shp=s), target), {}


def _stack(draw, dtype):
    s = shape(draw, max_dims=2)
    n = draw(st.integers(1, 3))
    rng = rng_of(draw)
    ax = draw(st.integers(-len(s) - 1, len(s)))
    return tuple(values(rng, s, dtype) for _ in range(n)), {"axis": ax}


def _index(draw, s):
    """A basic, negative-step, fancy (with repeats) or boolean index for shape ``s``."""
    kind = draw(st.sampled_from(["int", "slice", "fancy", "bool", "ellipsis", "newaxis"]))
    n = s[0]
    if kind == "int":
        return draw(st.integers(-n, n - 1))
    if kind == "slice":
        step = draw(st.sampled_from([1, 2, -1, -2]))
        return slice(None, None, step)
    if kind == "fancy":
        return np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5)))
    if kind == "bool":
        return rng_of(draw).random(s) > 0.4
    if kind == "ellipsis":
        return (Ellipsis, draw(st.integers(-s[-1], s[-1] - 1)))
    return (None, slice(0, None))


def _getitem(draw, dtype):
    x = array(draw, dtype, min_dims=1)
    return (x, _index(draw, x.shape)), {}


def _untake(draw, dtype):
    s = shape(draw, min_dims=1)
    idx = _index(draw, s)
    g = np.asarray(np.zeros(s)[idx])
    return (values(rng_of(draw), g.shape, dtype), idx, s), {}


def _index_update(draw, dtype):
    x = array(draw, dtype, min_dims=1)
    kind = draw(st.sampled_from(["int", "slice", "bool", "fancy_unique"]))
    if kind == "fancy_unique":
        idx = np.array(sorted(draw(st.sets(st.integers(0, x.shape[0] - 1), min_size=1))))
    else:
        idx = _index(draw, x.shape) if kind != "int" else draw(st.integers(0, x.shape[0] - 1))
        if kind == "slice":
            idx = slice(None, None, 2)
    target = np.zeros(x.shape)[idx].shape
    vshape = draw(st.sampled_from([target, target[1:], ()]))
    return (x, idx, values(rng_of(draw), vshape, dtype)), {}


def _index_add(draw, dtype):
    x = array(draw, dtype, min_dims=1)
    idx = _index(draw, x.shape)
    target = np.zeros(x.shape)[idx].shape
    vshape = draw(st.sampled_from([target, target[1:], ()]))
    return (x, idx, values(rng_of(draw), vshape, dtype)), {}


def _astype(draw, dtype):
    return (array(draw, dtype), draw(st.sampled_from([np.float32, np.float64]))), {}


def _where(draw, dtype):
    sc, sx, sy = broadcastable_shapes(draw, 3)
    rng = rng_of(draw)
    return (rng.random(sc) > 0.5, values(rng, sx, dtype), values(rng, sy, dtype)), {}


def _clip(draw, dtype):
    sx, slo, shi = broadcastable_shapes(draw, 3)
    rng = rng_of(draw)
    x = rng.choice(np.array([-1.9, -1.3, -0.7, -0.1, 0.5, 1.1, 1.7]), size=sx).astype(dtype)
    lo = np.full(slo, -1.0, dtype) + rng.uniform(-0.2, 0.2, slo).astype(dtype)
    hi = np.full(shi, 1.4, dtype) + rng.uniform(-0.2, 0.2, shi).astype(dtype)
    return (x, draw(st.sampled_from([lo, None])), draw(st.sampled_from([hi, None]))), {}


def _mod(draw, dtype):
    sx, sy = broadcastable_shapes(draw, 2)
    rng = rng_of(draw)
    return (values(rng, sx, dtype, "unit") * 0.4 + 0.5, rng.uniform(1.0, 2.0, sy).astype(dtype)), {}


def _complex_part(draw, dtype):
    s = shape(draw)
    rng = rng_of(draw)
    return (values(rng, s, dtype),), {}


SPECS = {
    "broadcast_to": [_broadcast_to],
    "stack": [_stack],
    "getitem": [_getitem],
    "_untake": [_untake],
    "_index_update": [_index_update],
    "_index_add": [_index_add],
    "astype": [_astype],
    "where": [_where],
    "clip": [_clip],
    "remainder": [_mod],
    "fmod": [_mod],
    "real": [_complex_part],
    "imag": [_complex_part],
    "conj": [_complex_part],
}
