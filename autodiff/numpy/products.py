"""Products: matmul (batched), dot."""

from __future__ import annotations

import numpy as np

from ..primitive import defop
from .shape import reshape, swapaxes

__all__ = ["matmul", "dot"]


def _mT(x):
    return swapaxes(x, -1, -2)


def _matmul_vjp_a(g, ans, a, b):
    if b.ndim == 1:  # (..., n, k) @ (k,) -> (..., n)
        if a.ndim == 1:
            return g * b
        return reshape(g, g.shape + (1,)) * b
    if a.ndim == 1:  # (k,) @ (..., k, m) -> (..., m)
        return matmul(b, reshape(g, g.shape + (1,)))[..., 0] if b.ndim > 2 else matmul(b, g)
    return matmul(g, _mT(b))


def _matmul_vjp_b(g, ans, a, b):
    if a.ndim == 1:
        if b.ndim == 1:
            return g * a
        return reshape(a, (-1, 1)) * reshape(g, g.shape[:-1] + (1,) + g.shape[-1:])
    if b.ndim == 1:
        return matmul(_mT(a), reshape(g, g.shape + (1,)))[..., 0] if a.ndim > 2 else matmul(
            g, a
        )
    return matmul(_mT(a), g)


matmul = defop(np.matmul, vjp=(_matmul_vjp_a, _matmul_vjp_b), jvp="linear")


def dot(a, b):
    """``np.dot``: matmul for 1-D and 2-D, sum over the last axis of a and second-to-last of b."""
    an = a.ndim if hasattr(a, "ndim") else np.ndim(a)
    bn = b.ndim if hasattr(b, "ndim") else np.ndim(b)
    if an == 0 or bn == 0:
        from .elementwise import multiply

        return multiply(a, b)
    if bn <= 2:
        return matmul(a, b)
    return globals()["tensordot"](a, b, axes=([an - 1], [bn - 2]))
