"""Property-test cases of the shape primitives and gathers: reshape, split, flip, pad, windows..."""

import numpy as np
from hypothesis import strategies as st
from opspec import array, rng_of, shape, values


def _reshape(draw, dtype):
    x = array(draw, dtype)
    target = draw(st.sampled_from([(-1,), (x.size,), (1, x.size), x.shape[::-1] or (), (-1, 1)]))
    if x.size != 1 and target == ():
        target = (x.size,)
    return (x, target), {"order": draw(st.sampled_from(["C", "F"]))}


def _transpose(draw, dtype):
    x = array(draw, dtype)
    axes = draw(st.one_of(st.none(), st.permutations(range(x.ndim)).map(tuple)))
    if axes is not None and draw(st.booleans()):
        axes = tuple(a - x.ndim for a in axes)  # negative axes
    return (x, axes), {}


def _concatenate(draw, dtype):
    s = shape(draw, min_dims=1, max_dims=3)
    rng = rng_of(draw)
    if draw(st.booleans()):  # axis=None flattens arrays of any shapes
        arrays = [
            values(rng, shape(draw, max_dims=2), dtype) for _ in range(draw(st.integers(1, 3)))
        ]
        return tuple(arrays), {"axis": None}
    ax = draw(st.integers(-len(s), len(s) - 1))
    arrays = []
    for _ in range(draw(st.integers(1, 3))):
        si = list(s)
        si[ax] = draw(st.integers(1, 3))
        arrays.append(values(rng, tuple(si), dtype))
    return tuple(arrays), {"axis": ax}


def _array_split(draw, dtype):
    x = array(draw, dtype, min_dims=1, max_side=5)
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[axis]
    if draw(st.booleans()):
        sections = draw(st.integers(1, n + 1))  # more sections than entries: empty pieces
    else:
        sections = sorted(draw(st.lists(st.integers(0, n + 1), max_size=3)))
    return (x, sections), {"axis": axis}


def _axes(draw, ndim):
    options = [None] + list(range(-ndim, ndim))
    if ndim > 1:
        options.append(tuple(sorted(draw(st.sets(st.integers(0, ndim - 1), min_size=1)))))
    return draw(st.sampled_from(options))


def _flip(draw, dtype):
    x = array(draw, dtype)
    return (x,), {"axis": _axes(draw, x.ndim)}


def _roll(draw, dtype):
    x = array(draw, dtype)
    axis = _axes(draw, x.ndim) if x.ndim else None
    if isinstance(axis, tuple):
        shift = tuple(draw(st.integers(-5, 5)) for _ in axis)
    else:
        shift = draw(st.integers(-5, 5))
    return (x, shift), {"axis": axis}


def _windows(draw, x_shape):
    """``(window_shape, axis)`` for ``sliding_window_view`` on an array of ``x_shape``."""
    ndim = len(x_shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        axes = tuple(range(ndim))
    elif kind == "int":
        axes = (draw(st.integers(-ndim, ndim - 1)),)
    else:  # an axis may appear twice (windows of windows)
        axes = tuple(draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=3)))
    left = list(x_shape)
    window = []
    for ax in axes:
        w = draw(st.integers(1, left[ax]))
        left[ax] -= w - 1
        window.append(w)
    axis = None if kind == "none" else axes[0] if kind == "int" else axes
    return tuple(window), axis


def _sliding_window_view(draw, dtype):
    x = array(draw, dtype, min_dims=1, max_side=5)
    window, axis = _windows(draw, x.shape)
    return (x, window), {"axis": axis}


def _window_sum(draw, dtype):
    s = shape(draw, min_dims=1, max_side=5)
    window, axis = _windows(draw, s)
    out = np.lib.stride_tricks.sliding_window_view(np.zeros(s), window, axis)
    return (values(rng_of(draw), out.shape, dtype), s, window, axis), {}


def _pad(draw, dtype):
    x = array(draw, dtype, min_dims=1, max_dims=3)
    mode = draw(st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap",
                                 "linear_ramp", "mean"]))  # fmt: skip
    widths = draw(st.sampled_from(["int", "pair", "per_axis"]))
    w = st.integers(0, 5)  # wider than the array: reflect/wrap go round again
    if widths == "int":
        pad_width = draw(w)
    elif widths == "pair":
        pad_width = (draw(w), draw(w))
    else:
        pad_width = tuple((draw(w), draw(w)) for _ in range(x.ndim))
    kw = {}
    if mode == "constant" and draw(st.booleans()):
        kw["constant_values"] = draw(st.sampled_from([1.5, (0.5, -2.0)]))
    if mode in ("reflect", "symmetric"):
        kw["reflect_type"] = draw(st.sampled_from(["even", "odd"]))
    if mode == "linear_ramp" and draw(st.booleans()):
        kw["end_values"] = (1.0, -0.5)
    if mode == "mean" and draw(st.booleans()):
        kw["stat_length"] = draw(st.sampled_from([1, (2, 3)]))
    positional = draw(st.booleans())
    return ((x, pad_width, mode), kw) if positional else ((x, pad_width), dict(kw, mode=mode))


def _diagonal_args(draw, s):
    ndim = len(s)
    axis1 = draw(st.integers(-ndim, ndim - 1))
    axis2 = draw(st.integers(-ndim, ndim - 1).filter(lambda a: a % ndim != axis1 % ndim))
    offset = draw(st.integers(1 - s[axis1], s[axis2] - 1))
    return offset, axis1, axis2


def _diagonal(draw, dtype):
    x = array(draw, dtype, min_dims=2)
    offset, axis1, axis2 = _diagonal_args(draw, x.shape)
    if draw(st.booleans()):
        return (x, offset, axis1, axis2), {}
    return (x,), {"offset": offset, "axis1": axis1, "axis2": axis2}


def _diag_embed(draw, dtype):
    s = shape(draw, min_dims=2)
    offset, axis1, axis2 = _diagonal_args(draw, s)
    v_shape = np.diagonal(np.zeros(s), offset, axis1, axis2).shape
    return (values(rng_of(draw), v_shape, dtype), s, offset, axis1, axis2), {}


SPECS = {
    "reshape": [_reshape],
    "transpose": [_transpose],
    "concatenate": [_concatenate],
    "array_split": [_array_split],
    "flip": [_flip],
    "roll": [_roll],
    "sliding_window_view": [_sliding_window_view],
    "_window_sum": [_window_sum],
    "pad": [_pad],
    "diagonal": [_diagonal],
    "_diag_embed": [_diag_embed],
}
