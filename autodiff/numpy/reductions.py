"""Reductions over axes: sum, mean and friends, with ``axis`` and ``keepdims``."""

from __future__ import annotations

import numpy as np

from ..primitive import defop
from .shape import broadcast_to, reshape

__all__ = ["sum", "mean"]


def _normalize_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int | np.integer):
        axis = (axis,)
    return tuple(int(a) % ndim if ndim else 0 for a in axis)


def _expand_reduced(g, shape, axis, keepdims):
    """Broadcast a reduced cotangent ``g`` back to the input ``shape``."""
    if not keepdims and len(shape):
        axes = _normalize_axis(axis, len(shape))
        kept = tuple(1 if i in axes else s for i, s in enumerate(shape))
        g = reshape(g, kept)
    return broadcast_to(g, shape)


def _sum(x, axis=None, dtype=None, keepdims=False):
    return np.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)


sum = defop(  # noqa: A001
    _sum,
    name="sum",
    vjp=lambda g, ans, x, axis=None, dtype=None, keepdims=False: _expand_reduced(
        g, x.shape, axis, keepdims
    ),
    jvp="linear",
)


def _mean(x, axis=None, dtype=None, keepdims=False):
    return np.mean(x, axis=axis, dtype=dtype, keepdims=keepdims)


def _count(shape, axis):
    return int(np.prod([shape[a] for a in _normalize_axis(axis, len(shape))], dtype=np.int64))


mean = defop(
    _mean,
    name="mean",
    vjp=lambda g, ans, x, axis=None, dtype=None, keepdims=False: _expand_reduced(
        g, x.shape, axis, keepdims
    )
    / _count(x.shape, axis),
    jvp="linear",
)
