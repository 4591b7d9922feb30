"""Products: matmul (batched), tensordot, einsum, cross; dot, inner, outer, kron... composed.

``einsum`` takes any subscripts (implicit or explicit output, repeated labels, ellipsis,
any number of operands). The cotangent of operand ``k`` is one more einsum of the
output's cotangent with the other operands; a label repeated in operand ``k`` (a
diagonal, ``'ii->i'``) gets an identity factor that embeds the diagonal, and a label
only operand ``k`` has (summed out, ``'ij->i'``) gets a factor of ones.
"""

from __future__ import annotations

import functools
import string

import numpy as np

from ..primitive import KIND_MATMUL, _strip, defop
from .elementwise import conj, multiply
from .reductions import sum as _sum
from .shape import broadcast_to, concatenate, moveaxis, ravel, reshape

__all__ = ["matmul", "dot", "tensordot", "einsum", "inner", "outer", "vdot", "kron", "cross",
           "vecdot", "matvec", "vecmat"]  # fmt: skip

_MAX_OPERANDS = 32  # einsum operands that get a rule; NumPy's own limit is 32


def _mT(x):
    # the method: NumPy's own for plain arrays, anp.swapaxes for traced ones
    return x.swapaxes(-1, -2)


def _ndim(x):
    return x.ndim if hasattr(x, "ndim") else np.ndim(x)


def _matmul_vjp_a(g, ans, a, b):
    if b.ndim == 1:  # (..., n, k) @ (k,) -> (..., n)
        if a.ndim == 1:
            return g * b
        return reshape(g, g.shape + (1,)) * b
    if a.ndim == 1:  # (k,) @ (..., k, m) -> (..., m)
        return matmul(b, reshape(g, g.shape + (1,)))[..., 0] if b.ndim > 2 else matmul(b, g)
    return g @ b.mT  # the operators: NumPy's own for plain values, the primitive's if traced


def _matmul_vjp_b(g, ans, a, b):
    if a.ndim == 1:
        if b.ndim == 1:
            return g * a
        return reshape(a, (-1, 1)) * reshape(g, g.shape[:-1] + (1,) + g.shape[-1:])
    if b.ndim == 1:
        return matmul(_mT(a), reshape(g, g.shape + (1,)))[..., 0] if a.ndim > 2 else matmul(g, a)
    return a.mT @ g


def _matmul_jvp_a(t, ans, a, b):
    # t may carry a leading batch of directions (jacfwd), aligned to ans's rank
    if t.ndim > a.ndim and a.ndim == 1 and b.ndim > 1:
        return matmul(t[..., None, :], b)[..., 0, :]
    return matmul(t, b)


def _matmul_jvp_b(t, ans, a, b):
    if b.ndim == 1 and t.ndim > 1:  # a batch of directions for a vector b
        return matmul(t, a) if a.ndim == 1 else matmul(a, t[..., None])[..., 0]
    return matmul(a, t)


matmul = defop(
    np.matmul,
    vjp=(_matmul_vjp_a, _matmul_vjp_b),
    jvp=(_matmul_jvp_a, _matmul_jvp_b),
    batch_jvp=True,  # the JVP rules above accept a leading batch of directions
)
# first-order sweeps may defer a weight's a^T g and take all of them as one product (tape.py)
matmul.kind = KIND_MATMUL


# tensordot ---------------------------------------------------------------------------------
def _tensordot_axes(axes, na, nb):
    """``axes`` of np.tensordot as two lists of non-negative axes of a and b."""
    if isinstance(axes, int | np.integer):
        return list(range(na - axes, na)), list(range(int(axes)))
    ax_a, ax_b = axes
    ax_a = [ax_a] if isinstance(ax_a, int | np.integer) else list(ax_a)
    ax_b = [ax_b] if isinstance(ax_b, int | np.integer) else list(ax_b)
    return [int(a) % na for a in ax_a], [int(b) % nb for b in ax_b]


def _tensordot_vjp_a(g, ans, a, b, axes=2):
    ax_a, ax_b = _tensordot_axes(axes, a.ndim, b.ndim)
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    nfa = len(free_a)
    r = tensordot(g, b, axes=(list(range(nfa, g.ndim)), free_b))
    # r's axes: a's free axes, then a's contracted axes in the order of b's sorted axes
    order = free_a + [ax_a[ax_b.index(j)] for j in sorted(ax_b)]
    return _transpose_to(r, order)


def _tensordot_vjp_b(g, ans, a, b, axes=2):
    ax_a, ax_b = _tensordot_axes(axes, a.ndim, b.ndim)
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    nfa = len(free_a)
    r = tensordot(a, g, axes=(free_a, list(range(nfa))))
    order = [ax_b[ax_a.index(i)] for i in sorted(ax_a)] + [
        j for j in range(b.ndim) if j not in ax_b
    ]
    return _transpose_to(r, order)


def _transpose_to(r, order):
    """``r`` whose axis ``i`` is axis ``order[i]`` of the target, transposed to the target."""
    perm = tuple(int(i) for i in np.argsort(order))
    if perm == tuple(range(len(perm))):
        return r
    from .shape import transpose

    return transpose(r, perm)


tensordot = defop(np.tensordot, vjp=(_tensordot_vjp_a, _tensordot_vjp_b), jvp="linear")


def dot(a, b):
    """``np.dot``: matmul for 1-D and 2-D, sum over the last axis of a and second-to-last of b."""
    an, bn = _ndim(a), _ndim(b)
    if an == 0 or bn == 0:
        return multiply(a, b)
    if bn <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=([an - 1], [bn - 2]))


# einsum ------------------------------------------------------------------------------------
_LETTERS = string.ascii_letters


@functools.lru_cache(maxsize=512)
def _parse(subscripts: str, ndims: tuple) -> tuple[tuple[str, ...], str, list]:
    """Explicit subscripts of an einsum: one label per axis (ellipses spelled out).

    Returns the operands' subscripts, the output's, and the unused labels.
    """
    subs = subscripts.replace(" ", "")
    ins, out = subs.split("->") if "->" in subs else (subs, None)
    ins = ins.split(",")
    if len(ins) != len(ndims):
        raise ValueError(f"einsum: {subscripts!r} names {len(ins)} operands, got {len(ndims)}.")
    free = [c for c in _LETTERS if c not in subs]
    n_ell = max(
        [nd - (len(s) - 3) for s, nd in zip(ins, ndims, strict=True) if "..." in s], default=0
    )
    ell, free = "".join(free[:n_ell]), free[n_ell:]
    full = []
    for s, nd in zip(ins, ndims, strict=True):
        if "..." in s:
            k = nd - (len(s) - 3)
            s = s.replace("...", ell[n_ell - k :])
        full.append(s)
    if out is None:  # implicit: broadcast axes, then labels seen once, alphabetically
        labels = "".join(ins).replace(".", "")
        out = ell + "".join(sorted(c for c in set(labels) if labels.count(c) == 1))
    else:
        out = out.replace("...", ell)
    return tuple(full), out, free


def _real_dtype(x):
    dt = np.result_type(_strip(x))
    return np.finfo(dt).dtype if dt.kind in "fc" else np.dtype(np.float64)


def _einsum(*operands, subscripts, optimize=False):
    return np.einsum(subscripts, *operands, optimize=optimize)


def _einsum_vjp(k, g, ans, *operands, subscripts, optimize=False):
    ins, out, free = _parse(subscripts, tuple(np.ndim(_strip(o)) for o in operands))
    sub_k = ins[k]
    shape_k = np.shape(_strip(operands[k]))
    dtype = _real_dtype(operands[k])
    subs = [out] + [s for j, s in enumerate(ins) if j != k]
    args = [g] + [o for j, o in enumerate(operands) if j != k]
    target = ""
    fresh = iter(free)
    for pos, c in enumerate(sub_k):
        if c in target:  # repeated label: the cotangent lives on the diagonal
            f = next(fresh)
            subs.append(c + f)
            args.append(np.eye(shape_k[pos], dtype=dtype))
            c = f
        target += c
    have = "".join(subs)
    for pos, c in enumerate(sub_k):
        if c not in have:  # label summed out of operand k alone: broadcast back
            subs.append(c)
            args.append(np.ones(shape_k[pos], dtype=dtype))
            have += c
    r = _einsum_prim(*args, subscripts=",".join(subs) + "->" + target, optimize=optimize)
    full = tuple(max(a, b) for a, b in zip(r.shape, shape_k, strict=True))
    if r.shape != full:  # operand k was longer than the others (size-1 broadcasting)
        r = broadcast_to(r, full)
    return r


_einsum_prim = defop(
    _einsum,
    name="einsum",
    vjp=tuple(functools.partial(_einsum_vjp, k) for k in range(_MAX_OPERANDS)),
    jvp="linear",
)


def einsum(*operands, out=None, optimize=False):
    """``np.einsum`` with any subscripts; ``subscripts, *operands`` or the sublist form.

    >>> import numpy as np
    >>> einsum("ii->i", np.arange(4.0).reshape(2, 2))
    array([0., 3.])
    """
    if out is not None:
        raise TypeError("anp.einsum cannot write into out=; use the returned array.")
    if isinstance(operands[0], str):
        subscripts, ops = operands[0], operands[1:]
    else:  # sublist form: op, sublist, op, sublist, ..., [output sublist]
        ops = operands[0::2]
        lists = operands[1::2]
        out = None
        if len(operands) % 2:
            ops, out = ops[:-1], operands[-1]

        def labels(sub):
            return "".join("..." if s is Ellipsis else _LETTERS[s] for s in sub)

        subscripts = ",".join(labels(s) for s in lists)
        if out is not None:
            subscripts += "->" + labels(out)
    ops = [o if hasattr(o, "ndim") else np.asarray(o) for o in ops]
    if len(ops) > _MAX_OPERANDS:
        raise ValueError(f"anp.einsum takes at most {_MAX_OPERANDS} operands, got {len(ops)}.")
    return _einsum_prim(*ops, subscripts=subscripts, optimize=optimize)


# Products composed from the primitives ------------------------------------------------------
def inner(a, b):
    """``np.inner``: sum over the last axes of ``a`` and ``b``."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        return multiply(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


def outer(a, b):
    """``np.outer`` of the flattened inputs."""
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def vdot(a, b):
    """``np.vdot``: ``sum(conj(a) * b)`` of the flattened inputs."""
    a = ravel(a)
    if np.iscomplexobj(_strip(a)):
        a = conj(a)
    return matmul(a, ravel(b))


def kron(a, b):
    """``np.kron``: the block array ``a[i] * b`` (shapes padded with leading ones)."""
    nd = max(_ndim(a), _ndim(b))
    sa = (1,) * (nd - _ndim(a)) + tuple(np.shape(_strip(a)))
    sb = (1,) * (nd - _ndim(b)) + tuple(np.shape(_strip(b)))
    a = reshape(a, tuple(d for s in sa for d in (s, 1)))
    b = reshape(b, tuple(d for s in sb for d in (1, s)))
    return reshape(multiply(a, b), tuple(x * y for x, y in zip(sa, sb, strict=True)))


def vecdot(x1, x2, axis=-1):
    """``np.vecdot``: ``sum(conj(x1) * x2, axis)``."""
    if np.iscomplexobj(_strip(x1)):
        x1 = conj(x1)
    return _sum(multiply(x1, x2), axis=axis)


def matvec(x1, x2):
    """``np.matvec``: matrix ``(..., m, n)`` times vector ``(..., n)``."""
    return matmul(x1, reshape(x2, np.shape(_strip(x2)) + (1,)))[..., 0]


def vecmat(x1, x2):
    """``np.vecmat``: conjugated vector ``(..., m)`` times matrix ``(..., m, n)``."""
    if np.iscomplexobj(_strip(x1)):
        x1 = conj(x1)
    s = np.shape(_strip(x1))
    return matmul(reshape(x1, s[:-1] + (1,) + s[-1:]), x2)[..., 0, :]


# cross -------------------------------------------------------------------------------------
def _as3(v):
    """Vectors on the last axis as 3-vectors (a 2-vector gets a zero z component)."""
    s = np.shape(_strip(v))
    if s[-1] == 3:
        return v
    zero = np.zeros(s[:-1] + (1,), dtype=np.result_type(_strip(v)))
    return concatenate([v, zero], axis=-1)


def _cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a = np.moveaxis(np.asarray(a), axisa, -1)
    b = np.moveaxis(np.asarray(b), axisb, -1)
    if a.shape[-1] not in (2, 3) or b.shape[-1] not in (2, 3):
        raise ValueError(
            f"cross: vectors must have 2 or 3 components, got {a.shape[-1]} and {b.shape[-1]}."
        )
    c = np.cross(_np3(a), _np3(b))  # 2-vectors embedded, avoiding NumPy 2's deprecation
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return c[..., 2]
    return np.moveaxis(c, -1, axisc)


def _np3(v):
    if v.shape[-1] == 3:
        return v
    return np.concatenate([v, np.zeros(v.shape[:-1] + (1,), v.dtype)], axis=-1)


def _cross_vjp(which, g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    # <g, a x b> = <b x g, a> = <g x a, b>: the cotangent is a cross product again
    from ..tape import unbroadcast

    if axis is not None:
        axisa = axisb = axisc = axis
    a_l = moveaxis(a, axisa, -1)
    b_l = moveaxis(b, axisb, -1)
    if a_l.shape[-1] == 2 and b_l.shape[-1] == 2:  # scalar z component out
        zero = np.zeros(g.shape + (2,), dtype=np.result_type(_strip(g)))
        g3 = concatenate([zero, reshape(g, g.shape + (1,))], axis=-1)
    else:
        g3 = moveaxis(g, axisc, -1)
    if which == 0:
        r = cross(_as3(b_l), g3)[..., : a_l.shape[-1]]
        return moveaxis(unbroadcast(r, a_l.shape), -1, axisa)
    r = cross(g3, _as3(a_l))[..., : b_l.shape[-1]]
    return moveaxis(unbroadcast(r, b_l.shape), -1, axisb)


cross = defop(
    _cross,
    name="cross",
    vjp=(functools.partial(_cross_vjp, 0), functools.partial(_cross_vjp, 1)),
    jvp="linear",
)
