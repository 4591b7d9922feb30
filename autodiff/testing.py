"""``check_grads``: compare the engine's derivatives with central finite differences.

Derivatives are compared through random projections: for a random input direction
``u`` and output weighting ``v``, reverse mode gives ``<J^T v, u>``, forward mode
``<v, J u>`` and central differences ``<v, (f(x + eps u) - f(x - eps u)) / 2 eps>``.
At ``order=2`` the same check runs on the VJP and JVP as functions of ``x``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .primitive import _strip
from .tree import tree_flatten, tree_map

__all__ = ["check_grads", "numerical_jvp", "TOLERANCES"]

# eps for central differences and rtol/atol of finite-difference comparisons, by dtype
TOLERANCES = {
    np.dtype(np.float64): (1e-6, 1e-5, 1e-6),
    np.dtype(np.complex128): (1e-6, 1e-5, 1e-6),
    np.dtype(np.float32): (1e-2, 5e-2, 5e-3),
    np.dtype(np.complex64): (1e-2, 5e-2, 5e-3),
}


def _inner(a: Any, b: Any) -> float:
    la, _ = tree_flatten(a)
    lb, _ = tree_flatten(b)
    total = 0.0
    for x, y in zip(la, lb, strict=False):
        x = np.asarray(_strip(x))
        y = np.asarray(_strip(y))
        total += float(np.real(np.sum(x * np.conj(y) if np.iscomplexobj(y) else x * y)))
    return total


def _conj(tree: Any) -> Any:
    """Complex conjugate of the complex leaves (traced or not); real leaves unchanged."""
    from .numpy import conj

    return tree_map(lambda x: conj(x) if np.iscomplexobj(_strip(x)) else x, tree)


def _random_like(rng: np.random.Generator, tree: Any) -> Any:
    def draw(x):
        x = np.asarray(_strip(x))
        if np.iscomplexobj(x):
            return (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)).astype(
                x.dtype
            )
        return rng.standard_normal(x.shape).astype(x.dtype if x.dtype.kind == "f" else float)

    return tree_map(draw, tree)


def _axpy(a: float, u: Any, x: Any) -> Any:
    return tree_map(lambda ui, xi: (np.asarray(xi) + a * ui).astype(np.asarray(xi).dtype), u, x)


def numerical_jvp(fun: Callable, args: Sequence, tangents: Sequence, eps: float) -> Any:
    """Central difference ``(f(x + eps t) - f(x - eps t)) / (2 eps)``, leafwise."""
    plus = fun(*[_axpy(eps, t, a) for t, a in zip(tangents, args, strict=False)])
    minus = fun(*[_axpy(-eps, t, a) for t, a in zip(tangents, args, strict=False)])
    return tree_map(
        lambda p, m: (np.asarray(_strip(p), dtype=complex if np.iscomplexobj(p) else float)
                      - np.asarray(_strip(m))) / (2 * eps),
        plus,
        minus,
    )  # fmt: skip


def _dtype_of(args: Sequence) -> np.dtype:
    leaves = tree_flatten(list(args))[0]
    dts = [np.result_type(np.asarray(_strip(x))) for x in leaves]
    dts = [d for d in dts if d.kind in "fc"]
    return (
        min(dts, key=lambda d: d.itemsize // (2 if d.kind == "c" else 1))
        if dts
        else (np.dtype(np.float64))
    )


def _close(name: str, a: float, b: float, rtol: float, atol: float, scale: float) -> None:
    if not abs(a - b) <= atol * max(scale, 1.0) + rtol * max(abs(a), abs(b)):
        raise AssertionError(
            f"check_grads: {name} disagree: {a!r} vs {b!r} (difference {abs(a - b):.3g}, "
            f"rtol={rtol}, atol={atol})."
        )


def check_grads(
    fun: Callable,
    *args: Any,
    modes: Sequence[str] = ("fwd", "rev"),
    order: int = 2,
    eps: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    rng: np.random.Generator | None = None,
) -> None:
    """Raise ``AssertionError`` unless ``fun``'s derivatives match finite differences.

    Checks reverse mode (``"rev"``), forward mode (``"fwd"``) and, when both are
    asked for, their agreement to near machine precision; up to ``order``.

    >>> import autodiff.numpy as anp
    >>> check_grads(lambda x: anp.sum(anp.tanh(x) ** 2), np.array([0.1, -0.4]))
    """
    from .api import jvp, vjp

    for m in modes:
        if m not in ("fwd", "rev"):
            raise ValueError(f"check_grads: unknown mode {m!r}; use 'fwd' and/or 'rev'.")
    rng = rng if rng is not None else np.random.default_rng(0)
    out = fun(*args)
    dt = _dtype_of(list(args) + [out])  # the least precise of inputs and outputs
    d_eps, d_rtol, d_atol = TOLERANCES.get(dt, TOLERANCES[np.dtype(np.float64)])
    eps = d_eps if eps is None else eps
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol

    u = _random_like(rng, list(args))
    v = _random_like(rng, out)
    fd = _inner(v, numerical_jvp(fun, args, u, eps))
    scale = float(np.sqrt(_inner(u, u) * _inner(v, v)))
    rev = fwd = None
    if "rev" in modes:
        # autograd's convention: the VJP acts on conjugated covectors (identity when real)
        _, f_vjp = vjp(fun, *args)
        rev = _inner(_conj(f_vjp(_conj(v))), u)
        _close("reverse mode and finite differences", rev, fd, rtol, atol, scale)
    if "fwd" in modes:
        fwd = _inner(v, jvp(fun, tuple(args), tuple(u))[1])
        _close("forward mode and finite differences", fwd, fd, rtol, atol, scale)
    if rev is not None and fwd is not None:
        tight = 1e-9 if dt.itemsize >= 8 else 1e-4
        _close("forward and reverse mode", fwd, rev, tight, tight, scale)
    if order > 1:
        sub = dict(modes=modes, order=order - 1, eps=eps, rtol=rtol, atol=atol, rng=rng)
        if "rev" in modes:
            check_grads(lambda *xs: _conj(vjp(fun, *xs)[1](_conj(v))), *args, **sub)
        if "fwd" in modes:
            check_grads(lambda *xs: jvp(fun, tuple(xs), tuple(u))[1], *args, **sub)
