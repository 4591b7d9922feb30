"""Shape operations: reshape, transpose, broadcasting, joining, splitting, tiling, flipping.

Most are compositions of a few linear primitives (``reshape``, ``broadcast_to``,
``transpose``, ``concatenate``, ``getitem``), so their derivatives need no code here;
``flip``, ``roll`` and ``array_split`` are primitives with one-line rules (flip back, roll
back, concatenate).
"""

from __future__ import annotations

import numpy as np

from ..primitive import defop

__all__ = ["reshape", "broadcast_to", "transpose", "stack", "concatenate", "expand_dims",
           "squeeze", "ravel", "swapaxes", "moveaxis", "atleast_1d", "atleast_2d", "atleast_3d",
           "hstack", "vstack", "dstack", "column_stack", "array_split", "split", "hsplit",
           "vsplit", "dsplit", "tile", "repeat", "flip", "fliplr", "flipud", "roll", "rot90",
           "append", "insert", "delete"]  # fmt: skip


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
    inverse = [0] * ndim
    for i, a in enumerate(axes):
        inverse[a % ndim] = i
    return tuple(inverse)


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
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return transpose(a, tuple(order))


def _stack(*arrays, axis=0):
    return np.stack(arrays, axis=axis)


def _unstack_vjp(g, ans, *arrays, axis=0):
    n = len(arrays)
    ax = axis % ans.ndim
    return tuple(_index_along(g, i, ax) for i in range(n))


def _index_along(g, i, axis):
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


def _asarray(a):
    return a if hasattr(a, "ndim") else np.asarray(a)


def _one_or_tuple(arrays):
    return arrays[0] if len(arrays) == 1 else tuple(arrays)


def _plain(x):
    from ..primitive import _strip

    return _strip(x)


# Promoting and joining ----------------------------------------------------------------------
def atleast_1d(*arys):
    """``np.atleast_1d``: 0-d inputs become shape (1,)."""
    out = [reshape(a, (1,)) if a.ndim == 0 else a for a in map(_asarray, arys)]
    return _one_or_tuple(out)


def atleast_2d(*arys):
    """``np.atleast_2d``: (n,) becomes (1, n)."""
    out = [reshape(a, (1,) * (2 - a.ndim) + a.shape) if a.ndim < 2 else a
           for a in map(_asarray, arys)]  # fmt: skip
    return _one_or_tuple(out)


def atleast_3d(*arys):
    """``np.atleast_3d``: (n,) becomes (1, n, 1) and (m, n) becomes (m, n, 1)."""
    shapes = {0: lambda s: (1, 1, 1), 1: lambda s: (1,) + s + (1,), 2: lambda s: s + (1,)}
    out = [reshape(a, shapes[a.ndim](a.shape)) if a.ndim < 3 else a for a in map(_asarray, arys)]
    return _one_or_tuple(out)


def _as_list(arrs):
    return list(arrs) if isinstance(arrs, tuple) else [arrs]


def hstack(tup, *, dtype=None, casting="same_kind"):
    """``np.hstack``: concatenate along axis 1 (axis 0 for 1-D inputs)."""
    arrs = _as_list(atleast_1d(*tup))
    return concatenate(arrs, axis=0 if arrs[0].ndim == 1 else 1)


def vstack(tup, *, dtype=None, casting="same_kind"):
    """``np.vstack``: concatenate along axis 0 after ``atleast_2d``."""
    return concatenate(_as_list(atleast_2d(*tup)), axis=0)


def dstack(tup):
    """``np.dstack``: concatenate along axis 2 after ``atleast_3d``."""
    return concatenate(_as_list(atleast_3d(*tup)), axis=2)


def column_stack(tup):
    """``np.column_stack``: 1-D inputs become columns."""
    arrs = [reshape(a, (-1, 1)) if a.ndim < 2 else a for a in map(_asarray, tup)]
    return concatenate(arrs, axis=1)


def append(arr, values, axis=None):
    """``np.append`` as a concatenate (flattened when ``axis`` is None)."""
    arr, values = _asarray(arr), _asarray(values)
    if axis is None:
        arr, values, axis = ravel(arr), ravel(values), 0
    return concatenate([arr, values], axis=axis)


def _gather_flat(arrays, src):
    """``concatenate(ravel(a) for a in arrays)[src]``: ``src`` indexes the joined entries."""
    from .indexing import getitem

    flat = [ravel(a) for a in arrays]
    return getitem(flat[0] if len(flat) == 1 else concatenate(flat), src)


def insert(arr, obj, values, axis=None):
    """``np.insert``: NumPy inserts index labels, then the result gathers the labelled entries."""
    from .elementwise import astype

    arr, values = _asarray(arr), _asarray(values)
    if values.dtype != arr.dtype:
        values = astype(values, arr.dtype)
    labels = np.arange(arr.size).reshape(arr.shape)
    value_labels = (arr.size + np.arange(values.size)).reshape(values.shape)
    src = np.insert(labels, _plain(obj), value_labels, axis=axis)
    return _gather_flat([arr, values], src)


def delete(arr, obj, axis=None):
    """``np.delete`` as a gather of the kept entries."""
    arr = _asarray(arr)
    src = np.delete(np.arange(arr.size).reshape(arr.shape), _plain(obj), axis=axis)
    return _gather_flat([arr], src)


# Splitting ----------------------------------------------------------------------------------
def _array_split(ary, indices_or_sections, axis=0):
    return np.array_split(ary, indices_or_sections, axis)


array_split = defop(
    _array_split,
    name="array_split",
    multiple_results=True,
    vjp=lambda g, ans, ary, indices_or_sections, axis=0: concatenate(list(g), axis=axis),
    jvp="linear",
)


def split(ary, indices_or_sections, axis: int = 0):
    """``np.split``: ``array_split`` that insists on equal sections."""
    if np.ndim(indices_or_sections) == 0:
        n = _shape(ary)[axis]
        if n % int(indices_or_sections):
            raise ValueError(
                f"split: an axis of length {n} does not split into {indices_or_sections} equal "
                "sections; use array_split for unequal ones."
            )
    return array_split(ary, indices_or_sections, axis)


def hsplit(ary, indices_or_sections):
    """``np.hsplit``: split along axis 1 (axis 0 for 1-D)."""
    return split(ary, indices_or_sections, 1 if len(_shape(ary)) > 1 else 0)


def vsplit(ary, indices_or_sections):
    """``np.vsplit``: split along axis 0 of an array of at least 2 dims."""
    if len(_shape(ary)) < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions.")
    return split(ary, indices_or_sections, 0)


def dsplit(ary, indices_or_sections):
    """``np.dsplit``: split along axis 2 of an array of at least 3 dims."""
    if len(_shape(ary)) < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions.")
    return split(ary, indices_or_sections, 2)


# Repeating ----------------------------------------------------------------------------------
def tile(A, reps):
    """``np.tile`` as reshape, broadcast, reshape (the VJP sums over the copies)."""
    A = _asarray(A)
    reps = tuple(int(r) for r in reps) if np.iterable(reps) else (int(reps),)
    reps = (1,) * (A.ndim - len(reps)) + reps
    shape = (1,) * (len(reps) - A.ndim) + A.shape
    x = reshape(A, tuple(d for s in shape for d in (1, s)))
    x = broadcast_to(x, tuple(d for r, s in zip(reps, shape, strict=True) for d in (r, s)))
    return reshape(x, tuple(r * s for r, s in zip(reps, shape, strict=True)))


def repeat(a, repeats, axis=None):
    """``np.repeat``: a broadcast for a scalar count, a gather for per-entry counts."""
    from .indexing import getitem

    a = _asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = axis % max(a.ndim, 1)
    r = np.asarray(_plain(repeats))
    s = a.shape
    if r.size == 1:
        r = int(r.reshape(()))
        x = reshape(a, s[: axis + 1] + (1,) + s[axis + 1 :])
        x = broadcast_to(x, s[: axis + 1] + (r,) + s[axis + 1 :])
        return reshape(x, s[:axis] + (s[axis] * r,) + s[axis + 1 :])
    src = np.repeat(np.arange(s[axis]), r)
    return getitem(a, (slice(None),) * axis + (src,))


# Flipping and rolling -----------------------------------------------------------------------
def _flip(m, axis=None):
    return np.flip(m, axis)


flip = defop(_flip, name="flip", vjp=lambda g, ans, m, axis=None: flip(g, axis), jvp="linear")


def fliplr(m):
    """``np.fliplr``: flip axis 1."""
    if len(_shape(m)) < 2:
        raise ValueError(f"fliplr needs an array of at least 2 dims, got shape {_shape(m)}.")
    return flip(m, 1)


def flipud(m):
    """``np.flipud``: flip axis 0."""
    if len(_shape(m)) < 1:
        raise ValueError("flipud needs an array of at least 1 dim, got a 0-d array.")
    return flip(m, 0)


def _roll(a, shift, axis=None):
    return np.roll(a, shift, axis)


def _negate(shift):
    return tuple(-int(s) for s in shift) if np.iterable(shift) else -shift


roll = defop(
    _roll,
    name="roll",
    vjp=lambda g, ans, a, shift, axis=None: roll(g, _negate(shift), axis),
    jvp="linear",
)


def rot90(m, k: int = 1, axes=(0, 1)):
    """``np.rot90`` as flips and a transpose (NumPy's own construction)."""
    m = _asarray(m)
    axes = tuple(axes)
    if len(axes) != 2 or axes[0] % max(m.ndim, 1) == axes[1] % max(m.ndim, 1):
        raise ValueError(f"rot90: axes must be two different axes, got {axes}.")
    if not all(-m.ndim <= ax < m.ndim for ax in axes):
        raise ValueError(f"rot90: axes {axes} out of range for an array of {m.ndim} dims.")
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, axes[0]), axes[1])
    perm = list(range(m.ndim))
    perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
    if k == 1:
        return transpose(flip(m, axes[1]), tuple(perm))
    return flip(transpose(m, tuple(perm)), axes[1])
