"""Indexing: basic slices (any step), integer and boolean (fancy) indices.

The VJP of ``x[idx]`` scatters the cotangent with ``np.add.at`` so repeated
fancy indices accumulate (``x[[0, 0, 2]]`` gives index 0 twice the gradient).
"""

from __future__ import annotations

import numpy as np

from ..primitive import KIND_SCATTER, _strip, defop

__all__ = ["getitem", "index_update", "index_add"]


def _getitem(x, idx):
    return x[idx]


def _scatter_add(g, idx, shape):
    """Zeros of ``shape`` with ``g`` added at ``idx`` (repeated indices accumulate)."""
    return _untake(g, idx, shape)


def _is_basic(idx) -> bool:
    """Ints, slices, Ellipsis and None only: such an index never repeats an element."""
    for i in idx if type(idx) is tuple else (idx,):
        t = type(i)
        if not (t is slice or t is int or i is None or i is Ellipsis or isinstance(i, np.integer)):
            return False
    return True


def _scatter_into(out, idx, g, zero: bool = False) -> None:
    """``out[idx] += g`` in place, repeated indices accumulating; ``zero``: out is all zeros."""
    if _is_basic(idx):  # no repeats: a plain strided add, much faster than np.add.at
        if zero:  # the add is a copy (a strided add costs about 4 times as much)
            out[idx] = g
            return
        view = out[idx]
        if type(view) is np.ndarray:
            np.add(view, g, out=view)  # (``out[idx] += g`` would also copy the view onto itself)
        else:  # a single element
            out[idx] += g
    else:
        np.add.at(out, idx, g)


def _untake_impl(g, idx, shape):
    out = np.zeros(shape, dtype=np.result_type(g))
    _scatter_into(out, idx, g, zero=True)
    return out


_untake = defop(
    _untake_impl,
    name="_untake",
    vjp=lambda g, ans, x, idx, shape: getitem(g, idx),
    jvp="linear",
)

getitem = defop(
    _getitem,
    name="getitem",
    vjp=lambda g, ans, x, idx: _scatter_add(g, idx, x.shape),
    jvp="linear",
)
# first-order sweeps add g into x's cotangent at idx in place (tape.py) with scatter_into;
# the rule above serves traced cotangents (higher order) and forward mode
getitem.kind = KIND_SCATTER
getitem.scatter_into = _scatter_into


def _scatter_t(t, idx, ans):
    """A tangent of the inserted values, broadcast to ``ans[idx]`` and scattered."""
    from .shape import broadcast_to

    shape = np.shape(np.asarray(_strip(ans))[idx])
    return _scatter_add(broadcast_to(t, shape), idx, np.shape(_strip(ans)))


def _index_update_impl(x, idx, v):
    out = np.array(x, copy=True)
    out[idx] = v
    return out


def _mask_out(g, idx):
    return index_update(g, idx, 0.0)


def _written(shape, idx):
    """Which entries of ``x[idx]`` survive ``x[idx] = v``: a repeated index keeps the value
    NumPy writes last (None when no index can repeat). Found by the same assignment of
    positions, so it follows NumPy's own order."""
    if _is_basic(idx) or (isinstance(idx, np.ndarray) and idx.dtype == bool):
        return None
    picked = np.zeros(shape, np.int8)[idx]
    order = np.arange(picked.size).reshape(picked.shape)
    last = np.full(shape, -1, np.intp)
    last[idx] = order
    return last[idx] == order


def _update_vjp_v(g, ans, x, idx, v):
    """Cotangent of the inserted values: g at idx, zero where a later repeat overwrote them."""
    from .elementwise import where

    gv = getitem(g, idx)
    keep = _written(np.shape(ans), idx)
    return gv if keep is None or keep.all() else where(keep, gv, 0)


def _update_jvp_v(t, ans, x, idx, v):
    """Tangent of the inserted values: ``t`` written at idx (last write wins) into zeros."""
    from .shape import broadcast_to

    plain = np.asarray(_strip(ans))
    zeros = np.zeros(plain.shape, np.result_type(_strip(t), plain))
    return _index_update(zeros, idx, broadcast_to(t, np.shape(plain[idx])))


_index_update = defop(
    _index_update_impl,
    name="_index_update",
    vjp=(lambda g, ans, x, idx, v: _mask_out(g, idx), None, _update_vjp_v),
    jvp=(lambda t, ans, x, idx, v: _mask_out(t, idx), None, _update_jvp_v),
)


def _index_add_impl(x, idx, v):
    out = np.array(x, copy=True)
    np.add.at(out, idx, v)
    return out


_index_add = defop(
    _index_add_impl,
    name="_index_add",
    vjp=(lambda g, ans, x, idx, v: g, None, lambda g, ans, x, idx, v: getitem(g, idx)),
    jvp=(
        lambda t, ans, x, idx, v: t,
        None,
        lambda t, ans, x, idx, v: _scatter_t(t, idx, ans),
    ),
)


def index_update(x, idx, v):
    """``x`` with ``x[idx] = v``, functionally (``x.at[idx].set(v)``)."""
    return _index_update(x, idx, v)


def index_add(x, idx, v):
    """``x`` with ``v`` added at ``idx``; repeated indices accumulate (``x.at[idx].add(v)``)."""
    return _index_add(x, idx, v)
