"""Convolution and correlation: ``np.convolve``, ``np.correlate`` and the rules they share
with ``autodiff.scipy.signal``.

Every mode's output is a window of the *full* result: ``y = full(a, v)[s : s + L]`` per
axis, with ``s`` the mode's offset. For a convolution the VJP in ``a`` is the window
``[nv - 1 - s, nv - 1 - s + na)`` of the full correlation of ``g`` with ``v``; in ``v``
the same with the roles swapped. For a correlation the VJP in ``a`` is a window of the
full convolution of ``g`` with ``v``, and in ``v`` the window ``[s + L - nv, s + L)`` of
the full correlation of ``a`` with ``g``. Each window is computed, at the cost of the
window alone, by the library's own convolve/correlate in ``valid`` mode (``full_window``),
and those are primitives themselves, so derivatives of any order work. Real inputs only
(a correlation is not holomorphic).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..primitive import _strip, defop
from .indexing import getitem

__all__ = ["convolve", "correlate"]


def _shape(x) -> tuple:
    return np.shape(_strip(x))


def _real_only(name: str, *xs) -> None:
    for x in xs:
        if np.iscomplexobj(_strip(x)):
            raise NotImplementedError(
                f"The derivative of {name} is implemented for real inputs only, got a complex "
                "array. Split it into real and imaginary parts (anp.real, anp.imag)."
            )


def full_window(op: Callable, x, y, starts, lengths, sx, sy, rest=(), kw=None):
    """``op(x, y, "full", *rest, **kw)[window]`` without computing the full result.

    Output ``j`` of the full convolution or correlation reads ``x[j - ny + 1 : j + 1]``, so
    the window is the ``valid`` op of ``x`` cut (or zero-padded) to
    ``[start - ny + 1, start + length)``: the cost is that of the window alone. ``sx``, ``sy``
    are the shapes ``op`` sees.
    """
    kw = kw or {}
    pairs = list(zip(sx, sy, strict=True))
    starts, lengths = list(starts), list(lengths)
    if all(s == 0 for s in starts) and lengths == [a + b - 1 for a, b in pairs]:
        return op(x, y, "full", *rest, **kw)
    swapped = [a - 1 for a, _ in pairs], [b - a + 1 for a, b in pairs]
    if all(a <= b for a, b in pairs) and (starts, lengths) == swapped:
        return op(x, y, "valid", *rest, **kw)  # SciPy and NumPy swap the inputs: no padding
    lo = [s - ny + 1 for s, (_, ny) in zip(starts, pairs, strict=True)]
    hi = [s + n for s, n in zip(starts, lengths, strict=True)]
    if any(min(h, nx) <= max(low, 0) for low, h, (nx, _) in zip(lo, hi, pairs, strict=True)):
        # the window never meets x: e.g. kernel entries outside a 'same' output
        return np.zeros(tuple(lengths), np.result_type(_strip(x), _strip(y)))
    cut = tuple(
        slice(max(low, 0), min(h, nx)) for low, h, (nx, _) in zip(lo, hi, pairs, strict=True)
    )
    if any(c.start > 0 or c.stop < nx for c, (nx, _) in zip(cut, pairs, strict=True)):
        x = getitem(x, cut)
    for ax, (low, h, (nx, _)) in enumerate(zip(lo, hi, pairs, strict=True)):
        if low < 0 or h > nx:
            x = _zero_pad(x, ax, max(-low, 0), max(h - nx, 0))
    return op(x, y, "valid", *rest, **kw)


def _zero_pad(x, axis: int, before: int, after: int):
    from .shape import concatenate

    shape = list(np.shape(_strip(x)))
    dt = np.result_type(_strip(x))
    blocks = []
    for n in (before, after):
        shape[axis] = n
        blocks.append(np.zeros(tuple(shape), dt))
    return concatenate([blocks[0], x, blocks[1]], axis=axis)


def conv_vjps(name: str, conv: Callable, corr: Callable, offsets: Callable, shapes: Callable):
    """VJP rules of ``conv(a, v, mode)``: ``offsets(mode, sa, sv)`` gives the window starts."""

    def vjp_a(g, ans, a, v, mode="full", *rest, **kw):
        _real_only(name, g, v)
        sa, sv = shapes(a, v)
        s = offsets(mode, sa, sv)
        starts = [nv - 1 - si for nv, si in zip(sv, s, strict=False)]
        return full_window(corr, g, v, starts, sa, _shape(g), sv, rest, kw)

    def vjp_v(g, ans, a, v, mode="full", *rest, **kw):
        _real_only(name, g, a)
        sa, sv = shapes(a, v)
        s = offsets(mode, sa, sv)
        starts = [na - 1 - si for na, si in zip(sa, s, strict=False)]
        return full_window(corr, g, a, starts, sv, _shape(g), sa, rest, kw)

    return vjp_a, vjp_v


def corr_vjps(
    name: str,
    conv: Callable,
    corr: Callable,
    offsets: Callable,
    shapes: Callable,
    default: str = "full",
):
    """VJP rules of ``corr(a, v, mode=default)``: ``offsets(mode, sa, sv)`` gives the window
    starts."""

    def vjp_a(g, ans, a, v, mode=default, *rest, **kw):
        _real_only(name, g, v)
        sa, sv = shapes(a, v)
        s = offsets(mode, sa, sv)
        starts = [nv - 1 - si for nv, si in zip(sv, s, strict=False)]
        return full_window(conv, g, v, starts, sa, _shape(g), sv, rest, kw)

    def vjp_v(g, ans, a, v, mode=default, *rest, **kw):
        _real_only(name, g, a)
        sa, sv = shapes(a, v)
        sg = _shape(g)
        s = offsets(mode, sa, sv)
        starts = [si + n - nv for si, n, nv in zip(s, sg, sv, strict=False)]
        return full_window(corr, a, g, starts, sv, sa, sg, rest, kw)

    return vjp_a, vjp_v


def _check_mode(mode: str) -> None:
    if mode not in ("full", "same", "valid"):
        raise ValueError(f"mode must be 'full', 'same' or 'valid', got {mode!r}.")


def _np_shapes(a, v):
    return (int(np.size(_strip(a))),), (int(np.size(_strip(v))),)


# NumPy centres 'same' on the shorter input; np.correlate of a shorter `a` is the mirror
# image of the swapped correlation, so its window sits at the other side of the centre.
def _np_conv_offsets(mode, sa, sv):
    _check_mode(mode)
    (na,), (nv,) = sa, sv
    m = min(na, nv)
    return [{"full": 0, "same": (m - 1) // 2, "valid": m - 1}[mode]]


def _np_corr_offsets(mode, sa, sv):
    (na,), (nv,) = sa, sv
    if mode == "same" and na < nv:
        return [na // 2]
    return _np_conv_offsets(mode, sa, sv)


def _convolve(a, v, mode="full"):
    return np.convolve(a, v, mode=mode)


def _correlate(a, v, mode="valid"):  # NumPy's default (np.convolve's is "full")
    return np.correlate(a, v, mode=mode)


def _1d(x):
    """np.convolve reads scalars as length-1 arrays; np.correlate (used in its rules) needs them."""
    from .shape import reshape

    return reshape(x, (1,)) if np.ndim(_strip(x)) == 0 else x


def _conv_op(x, y, *rest, **kw):
    return convolve(_1d(x), _1d(y), *rest, **kw)


def _corr_op(x, y, *rest, **kw):
    return correlate(_1d(x), _1d(y), *rest, **kw)


convolve = defop(
    _convolve,
    name="convolve",
    vjp=conv_vjps("np.convolve", _conv_op, _corr_op, _np_conv_offsets, _np_shapes),
    jvp="linear",
)
correlate = defop(
    _correlate,
    name="correlate",
    vjp=corr_vjps("np.correlate", _conv_op, _corr_op, _np_corr_offsets, _np_shapes, "valid"),
    jvp="linear",
)
