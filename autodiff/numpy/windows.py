"""Gathers: sliding windows, padding, diagonals, take, sort and interpolation.

Each output entry reads input entries at positions fixed by the shapes and
options (or by a constant index array), so each VJP scatters the cotangent back:
``sliding_window_view``'s is col2im (one strided add per window offset),
``pad``'s folds the padded borders back onto the entries they copy, ``take`` and
friends go through ``getitem`` (repeated indices accumulate).
"""

from __future__ import annotations

import itertools

import numpy as np

from ..primitive import Traced, _strip, defop
from .shape import _asarray, moveaxis, ravel

__all__ = ["sliding_window_view", "pad", "diagonal", "diag", "diagflat", "trace", "triu", "tril",
           "take", "take_along_axis", "sort", "sort_complex", "unique", "bincount",
           "interp"]  # fmt: skip


# Sliding windows ----------------------------------------------------------------------------
def _window_geometry(shape, window_shape, axis):
    """Per window dim: its axis; and the windowed length of each input axis."""
    window_shape = tuple(window_shape) if np.iterable(window_shape) else (window_shape,)
    if axis is None:
        axis = tuple(range(len(shape)))
    axes = tuple(int(a) % len(shape) for a in (axis if np.iterable(axis) else (axis,)))
    lengths = list(shape)
    for ax, w in zip(axes, window_shape, strict=True):
        lengths[ax] -= w - 1
    return window_shape, axes, lengths


_CHUNK_BYTES = 1 << 20


def _window_sum(g, shape, window_shape, axis=None):
    """col2im: every window of ``g`` added back where it was read from, in zeros of ``shape``."""
    window_shape, axes, lengths = _window_geometry(shape, window_shape, axis)
    out = np.zeros(shape, dtype=g.dtype)
    offsets = list(itertools.product(*(range(w) for w in window_shape)))
    slabs = []
    for offset in offsets:
        start = [0] * len(shape)
        for ax, o in zip(axes, offset, strict=True):
            start[ax] += o
        slabs.append(tuple(slice(s, s + n) for s, n in zip(start, lengths, strict=True)))
    # One strided add of a whole slab per window offset, never a loop over pixels. When the
    # window axes of g are innermost in memory, each g[..., i, j] reads g sparsely: walk the
    # leading axis in chunks of ~1 MB of g that stay in cache across the offsets (1.6-2x
    # faster measured on (64, 6, 14, 14) inputs with 5x5 windows). When g comes from an
    # im2col product (nn.conv2d: window axes outermost, each g[..., i, j] is contiguous
    # slabs) chunks only add work: 3-4% slower there, so they are not used.
    chunks = [(out, g)]
    nw = len(window_shape)
    sparse = min(g.strides[-nw:]) < min(g.strides[a] for a in axes)
    if sparse and 0 not in axes and g.nbytes > _CHUNK_BYTES:
        step = max(1, _CHUNK_BYTES * len(g) // g.nbytes)
        chunks = [(out[lo : lo + step], g[lo : lo + step]) for lo in range(0, len(g), step)]
    for o, gc in chunks:
        for offset, slab in zip(offsets, slabs, strict=True):
            o[slab] += gc[(Ellipsis,) + offset]
    return out


def _sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
    return np.lib.stride_tricks.sliding_window_view(
        x, window_shape, axis, subok=subok, writeable=writeable
    )


sliding_window_view = defop(
    _sliding_window_view,
    name="sliding_window_view",
    vjp=lambda g, ans, x, window_shape, axis=None, **kw: _window_sum_prim(
        g, x.shape, window_shape, axis
    ),
    jvp="linear",
)
_window_sum_prim = defop(
    _window_sum,
    name="_window_sum",
    vjp=lambda g, ans, w, shape, window_shape, axis=None: sliding_window_view(
        g, window_shape, axis
    ),
    jvp="linear",
)


# Padding ------------------------------------------------------------------------------------
_LINEAR_PAD = ("constant", "edge", "reflect", "symmetric", "wrap", "linear_ramp", "mean")


def _as_pairs(x, ndim):
    """NumPy's reading of ``pad_width`` and per-axis options: ``ndim`` (before, after) pairs."""
    x = np.asarray(x)
    if x.size == 1:
        return [(x.item(), x.item())] * ndim
    if x.size == 2 and x.shape != (2, 1):
        return [tuple(x.ravel().tolist())] * ndim
    return [tuple(p) for p in np.broadcast_to(x, (ndim, 2)).tolist()]


def _linear_part(mode, kwargs):
    """The options of ``pad`` with the constants (fill and ramp end values) set to zero."""
    kw = dict(kwargs)
    if mode == "constant":
        kw["constant_values"] = 0
    if mode == "linear_ramp":
        kw["end_values"] = 0
    return kw


def _pad(array, pad_width, mode="constant", **kwargs):
    return np.pad(array, pad_width, mode, **kwargs)


def _pad_vjp(g, ans, array, pad_width, mode="constant", **kwargs):
    shape = array.shape
    widths = _as_pairs(pad_width, len(shape))
    stat = _as_pairs(kwargs["stat_length"], len(shape)) if kwargs.get("stat_length") else None
    kw = _linear_part(mode, kwargs)
    for ax, ((before, after), n) in enumerate(zip(widths, shape, strict=True)):
        pre = (slice(None),) * ax
        inner = g[pre + (slice(before, before + n),)]
        if mode != "constant" and before + after:
            # along this axis pad is a linear map M (N x n) whose middle rows are the
            # identity; the border rows M_b say which entries each padded entry copies
            if stat is not None:
                kw["stat_length"] = (stat[ax], (1, 1))
            eye = np.eye(n, dtype=np.finfo(np.result_type(_strip(g))).dtype)
            m = np.pad(eye, ((before, after), (0, 0)), mode, **kw)
            rows = np.r_[0:before, before + n : before + n + after]
            border = moveaxis(g[pre + (rows,)], ax, -1) @ m[rows]
            inner = inner + moveaxis(border, -1, ax)
        g = inner
    return g


_pad_prim = defop(
    _pad,
    name="pad",
    vjp=_pad_vjp,
    jvp=lambda t, ans, array, pad_width, mode="constant", **kw: _pad_prim(
        t, pad_width, mode, **_linear_part(mode, kw)
    ),
)


def pad(array, pad_width, mode="constant", **kwargs):
    """``np.pad``; differentiable for the modes linear in ``array`` (constant fill values)."""
    if isinstance(array, Traced) and mode not in _LINEAR_PAD:
        raise NotImplementedError(
            f"anp.pad has no derivative for mode={mode!r}; differentiable modes: "
            f"{', '.join(_LINEAR_PAD)}."
        )
    return _pad_prim(array, pad_width, mode, **kwargs)


# Diagonals ----------------------------------------------------------------------------------
def _diagonal(a, offset=0, axis1=0, axis2=1):
    return np.diagonal(a, offset, axis1, axis2)


def _diag_embed(v, shape, offset=0, axis1=0, axis2=1):
    """Zeros of ``shape`` with ``v`` (diagonal on its last axis) on ``diagonal(offset, ...)``."""
    out = np.zeros(shape, dtype=np.result_type(v))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    i = np.arange(np.shape(v)[-1])
    view[..., i + max(-offset, 0), i + max(offset, 0)] = v
    return out


diagonal = defop(
    _diagonal,
    name="diagonal",
    vjp=lambda g, ans, a, offset=0, axis1=0, axis2=1: _diag_embed_prim(
        g, a.shape, offset, axis1, axis2
    ),
    jvp="linear",
)
_diag_embed_prim = defop(
    _diag_embed,
    name="_diag_embed",
    vjp=lambda g, ans, v, shape, offset=0, axis1=0, axis2=1: diagonal(g, offset, axis1, axis2),
    jvp="linear",
)


def diag(v, k: int = 0):
    """``np.diag``: the k-th diagonal of a 2-D array, or a 2-D array with ``v`` on it."""
    v = _asarray(v)
    if v.ndim == 1:
        n = v.shape[0] + abs(k)
        return _diag_embed_prim(v, (n, n), k, 0, 1)
    if v.ndim == 2:
        return diagonal(v, k)
    raise ValueError(f"diag: input must be 1-D or 2-D, got shape {v.shape}.")


def diagflat(v, k: int = 0):
    """``np.diagflat``: ``diag(ravel(v), k)``."""
    return diag(ravel(v), k)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """``np.trace``: the sum of a diagonal."""
    from .reductions import sum

    return sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def _triangle(m, mask):
    from .elementwise import where

    m = _asarray(m)
    return where(mask, m, np.zeros(1, np.result_type(_strip(m))))


def triu(m, k: int = 0):
    """``np.triu``: zeros below the k-th diagonal of the last two axes."""
    shape = np.shape(_strip(m))[-2:]
    return _triangle(m, ~np.tri(*shape, k=k - 1, dtype=bool))


def tril(m, k: int = 0):
    """``np.tril``: zeros above the k-th diagonal of the last two axes."""
    shape = np.shape(_strip(m))[-2:]
    return _triangle(m, np.tri(*shape, k=k, dtype=bool))


# Take, sort, interpolate --------------------------------------------------------------------
def take(a, indices, axis=None, out=None, mode="raise"):
    """``np.take`` as ``getitem``; repeated indices accumulate in the gradient."""
    from .indexing import getitem

    a = _asarray(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = axis % a.ndim
    idx = np.asarray(_strip(indices))
    if mode == "wrap":
        idx = np.mod(idx, a.shape[axis])
    elif mode == "clip":
        idx = np.clip(idx, 0, a.shape[axis] - 1)
    return getitem(a, (slice(None),) * axis + (idx,))


def take_along_axis(arr, indices, axis=-1):
    """``np.take_along_axis`` as ``getitem`` with broadcast index arrays."""
    from .indexing import getitem

    arr = _asarray(arr)
    indices = np.asarray(_strip(indices))
    if axis is None:
        arr, axis = ravel(arr), 0
    axis = axis % arr.ndim
    if indices.ndim != arr.ndim:
        raise ValueError(
            f"take_along_axis: indices of {indices.ndim} dims for an array of {arr.ndim} dims; "
            "they must have the same number of dims."
        )
    index = tuple(
        indices if d == axis else np.arange(n).reshape((1,) * d + (n,) + (1,) * (arr.ndim - d - 1))
        for d, n in enumerate(arr.shape)
    )
    return getitem(arr, index)


def sort(a, axis=-1, kind=None, order=None):
    """``np.sort`` as a gather through the sorting permutation (ties: any order)."""
    a = _asarray(a)
    if axis is None:
        a, axis = ravel(a), -1
    perm = np.argsort(_strip(a), axis=axis, kind=kind, order=order)
    return take_along_axis(a, perm, axis)


def sort_complex(a):
    """``np.sort_complex``: ``sort`` along the last axis (real part first, then imaginary),
    as complex. Float32 gives complex64 (NumPy gives complex128)."""
    a = _asarray(a)
    out = sort(a)
    dt = np.result_type(_strip(a))
    if dt == np.float32:
        return out.astype(np.complex64)
    dt = np.sort_complex(np.zeros(1, dt)).dtype
    return out if out.dtype == dt else out.astype(dt)


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
           equal_nan=True):  # fmt: skip
    """``np.unique``; the values are differentiable, gathered from the input.

    Entries that are equal share one output value; its gradient goes to the first of them
    (the one ``return_index`` names), as ``x[index]`` would give.
    """
    ar = _asarray(ar)
    plain = np.unique(_strip(ar), True, return_inverse, return_counts, axis, equal_nan=equal_nan)
    index = plain[1]
    values = take(ar, index, axis=axis)
    extra = [index] if return_index else []
    extra += list(plain[2:])
    return (values, *extra) if extra else values


def bincount(x, weights=None, minlength=0):
    """``np.bincount``, differentiable in ``weights`` (``x`` holds the bins, a constant).

    With traced weights the counts keep the weights' dtype (NumPy's are always float64).
    """
    from .indexing import index_add

    x = np.asarray(_strip(x))
    if not isinstance(weights, Traced):
        return np.bincount(x, weights, minlength)
    weights = _asarray(weights)
    n = np.bincount(x, minlength=minlength).shape[0]  # NumPy's checks and length
    return index_add(np.zeros(n, np.result_type(_strip(weights))), x.ravel(), ravel(weights))


def interp(x, xp, fp, left=None, right=None, period=None):
    """``np.interp``, differentiable in ``x`` and ``fp`` (``xp`` is a constant).

    At a sample point ``xp[j]`` the derivative in ``x`` is the slope on the right.
    Float32 inputs give float32 (NumPy always returns float64).
    """
    from .elementwise import mod, where
    from .indexing import getitem

    x, fp = _asarray(x), _asarray(fp)
    xp = np.asarray(_strip(xp))
    real = np.finfo(np.result_type(_strip(x), _strip(fp), np.float32)).dtype
    if period is not None:
        if period == 0:
            raise ValueError("interp: period must be a non-zero value.")
        period = abs(period)
        left = right = None
        xp = xp % period
        x = mod(x, period)
        order = np.argsort(xp)
        xp = np.concatenate([xp[order][-1:] - period, xp[order], xp[order][:1] + period])
        fp = getitem(fp, np.r_[order[-1], order, order[0]])
    xp = xp.astype(real)
    xs = np.asarray(_strip(x))
    if len(xp) == 1:
        res = fp[0] + 0 * x
    else:
        j = np.clip(np.searchsorted(xp, xs, side="right") - 1, 0, len(xp) - 2)
        f0, f1 = getitem(fp, j), getitem(fp, j + 1)
        res = (f1 - f0) / (xp[j + 1] - xp[j]) * (x - xp[j]) + f0
    res = where(xs < xp[0], fp[0] if left is None else left, res)
    return where(xs > xp[-1], fp[-1] if right is None else right, res)
