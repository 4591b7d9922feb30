"""Shape operations: reshape, transpose, broadcasting, joining arrays."""

from __future__ import annotations

import numpy as np

from ..primitive import defop

__all__ = ["reshape", "broadcast_to", "transpose", "stack", "concatenate", "expand_dims",
           "squeeze", "ravel", "swapaxes", "moveaxis"]  # fmt: skip


def _reshape(x, shape, order="C"):
    return np.reshape(x, shape, order=order)


reshape = defop(
    _reshape,
    name="reshape",
    vjp=lambda g, ans, x, shape, order="C": reshape(g, x.shape, order=order),
    jvp="linear",
)


def _broadcast_to(x, shape):
    return np.broadcast_to(x, shape)


def _unbroadcast_to(g, shape):
    from ..tape import unbroadcast

    return unbroadcast(g, tuple(shape))


broadcast_to = defop(
    _broadcast_to,
    name="broadcast_to",
    vjp=lambda g, ans, x, shape: _unbroadcast_to(g, x.shape),
    jvp="linear",
)


def _transpose(x, axes=None):
    return np.transpose(x, axes)


def _inverse_axes(axes, ndim):
    if axes is None:
        return None
    return tuple(np.argsort([a % ndim for a in axes]))


transpose = defop(
    _transpose,
    name="transpose",
    vjp=lambda g, ans, x, axes=None: transpose(g, _inverse_axes(axes, x.ndim)),
    jvp="linear",
)


def swapaxes(a, axis1: int, axis2: int):
    """``np.swapaxes`` as a transpose."""
    axes = list(range(np.ndim(a) if not hasattr(a, "ndim") else a.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(a, tuple(axes))


def moveaxis(a, source, destination):
    """``np.moveaxis`` as a transpose."""
    ndim = a.ndim if hasattr(a, "ndim") else np.ndim(a)
    src = [s % ndim for s in np.atleast_1d(source)]
    dst = [d % ndim for d in np.atleast_1d(destination)]
    order = [n for n in range(ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, tuple(order))


def _stack(*arrays, axis=0):
    return np.stack(arrays, axis=axis)


def _unstack_vjp(g, ans, *arrays, axis=0):
    n = len(arrays)
    ax = axis % ans.ndim
    return tuple(OPS_take(g, i, ax) for i in range(n))


def OPS_take(g, i, axis):
    from .indexing import getitem

    idx = (slice(None),) * axis + (i,)
    return getitem(g, idx)


_stack_prim = defop(_stack, name="stack", vjp_all=_unstack_vjp, jvp="joint")


def stack(arrays, axis: int = 0):
    """``np.stack`` of a sequence of (traced) arrays."""
    return _stack_prim(*arrays, axis=axis)


def _concatenate(*arrays, axis=0):
    return np.concatenate(arrays, axis=axis)


def _concat_vjp(g, ans, *arrays, axis=0):
    from .indexing import getitem

    if axis is None:
        sizes = [np.size(_plain(a)) for a in arrays]
        bounds = np.cumsum([0] + sizes)
        return tuple(
            reshape(getitem(g, slice(bounds[i], bounds[i + 1])), np.shape(_plain(a)))
            for i, a in enumerate(arrays)
        )
    ax = axis % ans.ndim
    sizes = [np.shape(_plain(a))[ax] for a in arrays]
    bounds = np.cumsum([0] + sizes)
    pre = (slice(None),) * ax
    return tuple(
        getitem(g, pre + (slice(int(bounds[i]), int(bounds[i + 1])),)) for i in range(len(arrays))
    )


_concatenate_prim = defop(_concatenate, name="concatenate", vjp_all=_concat_vjp, jvp="joint")


def concatenate(arrays, axis: int | None = 0):
    """``np.concatenate`` of a sequence of (traced) arrays."""
    arrays = [a if hasattr(a, "ndim") else np.asarray(a) for a in arrays]
    return _concatenate_prim(*arrays, axis=axis)


def expand_dims(a, axis):
    """``np.expand_dims`` as a reshape."""
    shape = np.expand_dims(np.empty(_shape(a), dtype=bool), axis).shape
    return reshape(a, shape)


def squeeze(a, axis=None):
    """``np.squeeze`` as a reshape."""
    shape = np.squeeze(np.empty(_shape(a), dtype=bool), axis).shape
    return reshape(a, shape)


def ravel(a, order="C"):
    """``np.ravel`` as a reshape."""
    return reshape(a, (-1,), order=order)


def _shape(a):
    return a.shape if hasattr(a, "shape") else np.shape(a)


def _plain(x):
    from ..primitive import _strip

    return _strip(x)
