"""``check_derivation``: is a hand-derived gradient right, and where is it wrong?

The tape differentiates the loss, the user's hand derivation gives its own gradient, and the
report compares them leaf by leaf (max absolute and relative error, the worst entries). For a
sequence model (``time_axis``), a failing derivation is re-checked on the first L steps of
the batch to find the shortest failing prefix: if L = 1 already fails, the mistake is inside
one step; if L > 1, it is a term carried back in time from step L-1 to step L-2 (a BPTT
term), since the first L-1 steps alone agree. Per-step hidden-state gradients (dL/dh_t, as
``bptt_hidden_grads`` returns) can be compared too, via ``hidden=``.

Errors. For a leaf with AD gradient ``a`` and hand gradient ``h``: ``max_abs = max|a - h|``
and ``max_rel = max_abs / max(max|a|, max|h|, FLOOR * G)``, where ``G`` is the largest AD
gradient entry over all leaves. The floor keeps a gradient that is exactly zero in theory
(a bias followed by centring), but computed as rounding noise of 1e-17 by both sides, from
reading as a 100% error; a wrong derivation of a leaf that small still shows. A leaf is
``ok`` when ``max_rel <= rtol``; the defaults depend on the dtype (``TOLERANCES``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .api import value_and_grad
from .primitive import _strip
from .tree import tree_flatten, tree_structure

__all__ = ["check_derivation", "compare_grads", "DerivationReport", "LeafCheck", "TOLERANCES"]

# dtype -> (rtol of the verdict, FLOOR of the relative error, as a fraction of G)
TOLERANCES = {
    np.dtype(np.float64): (1e-7, 1e-6),
    np.dtype(np.float32): (1e-3, 1e-3),
    np.dtype(np.float16): (3e-2, 1e-2),
}


@dataclass
class LeafCheck:
    """One parameter leaf: its errors and the ``worst`` entries as (index, AD, hand)."""

    path: str
    shape: tuple
    max_abs: float
    max_rel: float
    worst: list = field(default_factory=list)
    ok: bool = True
    note: str = ""


@dataclass
class DerivationReport:
    """Per-leaf comparison of AD and hand gradients; ``ok`` is the verdict, ``str`` a table.

    ``first_bad_step`` (sequence models) is the 0-based time step whose inclusion first makes
    the check fail (None if all agree or no ``time_axis``); ``prefix_errors`` maps each
    prefix length tried to its largest relative error; ``hidden_errors`` lists
    (t, max_abs, max_rel) of the per-step hidden-state gradients when ``hidden`` was given.
    """

    leaves: list[LeafCheck]
    dtype: str
    rtol: float
    loss_ad: float | None = None
    loss_hand: float | None = None
    first_bad_step: int | None = None
    prefix_errors: dict = field(default_factory=dict)
    hidden_errors: list = field(default_factory=list)
    hidden_rtol: float | None = None
    notes: list = field(default_factory=list)

    @property
    def max_rel(self) -> float:
        """The largest relative error over all leaves."""
        return max((leaf.max_rel for leaf in self.leaves), default=0.0)

    @property
    def loss_ok(self) -> bool:
        if self.loss_ad is None or self.loss_hand is None:
            return True
        scale = max(abs(self.loss_ad), abs(self.loss_hand), 1e-30)
        return abs(self.loss_ad - self.loss_hand) <= self.rtol * scale

    @property
    def hidden_ok(self) -> bool:
        return all(rel <= self.hidden_rtol for _, _, rel in self.hidden_errors)

    @property
    def ok(self) -> bool:
        """True when every leaf, the loss and the hidden-state gradients agree."""
        return all(leaf.ok for leaf in self.leaves) and self.loss_ok and self.hidden_ok

    @property
    def failing(self) -> list[LeafCheck]:
        return [leaf for leaf in self.leaves if not leaf.ok]

    def to_dict(self) -> dict:
        """Plain JSON-able data: verdict, losses, and per leaf path, shape and errors."""
        return {
            "ok": self.ok,
            "dtype": self.dtype,
            "rtol": self.rtol,
            "max_rel": self.max_rel,
            "loss_ad": self.loss_ad,
            "loss_hand": self.loss_hand,
            "first_bad_step": self.first_bad_step,
            "prefix_errors": {str(k): v for k, v in self.prefix_errors.items()},
            "leaves": [
                {
                    "path": lf.path,
                    "shape": list(lf.shape),
                    "max_abs": lf.max_abs,
                    "max_rel": lf.max_rel,
                    "ok": lf.ok,
                    "note": lf.note,
                }
                for lf in self.leaves
            ],  # fmt: skip
        }

    def __str__(self) -> str:
        verdict = "OK" if self.ok else "MISMATCH"
        lines = [f"Derivation check: {verdict} ({self.dtype}, rtol {self.rtol:.0e})"]
        if self.loss_ad is not None and self.loss_hand is not None:
            mark = "" if self.loss_ok else "   <-- the losses differ"
            lines.append(f"loss: AD {self.loss_ad:.10g}  hand {self.loss_hand:.10g}{mark}")
        width = max([len(lf.path) for lf in self.leaves] + [4])
        lines.append(f"{'leaf':<{width}}  {'shape':<14} {'max abs err':>11} {'max rel err':>11}")
        for lf in self.leaves:
            flag = "" if lf.ok else "  <-- " + (lf.note or "wrong")
            lines.append(
                f"{lf.path:<{width}}  {str(lf.shape):<14} {lf.max_abs:11.2e} {lf.max_rel:11.2e}"
                + flag
            )
        for lf in self.failing:
            if lf.worst:
                lines.append(f"worst entries of {lf.path} (index: AD vs hand):")
                lines += [f"  {idx}: {a: .8e} vs {h: .8e}" for idx, a, h in lf.worst]
        if self.prefix_errors:
            tried = ", ".join(f"{k}: {v:.1e}" for k, v in sorted(self.prefix_errors.items()))
            lines.append(f"max rel err on the first L steps (L: err): {tried}")
        if self.first_bad_step is not None:
            t = self.first_bad_step
            if t == 0:
                why = "already a single step disagrees: the mistake is inside one step"
            else:
                why = (
                    f"sequences of {t} step{'s' * (t > 1)} agree, of {t + 1} steps do not: the "
                    f"mistake is in a term carried back from step {t} to step {t - 1} (through "
                    "time), not inside one step"
                )
            lines.append(f"first disagreeing time step: t = {t}; {why}.")
        if self.hidden_errors:
            bad = [t for t, _, rel in self.hidden_errors if rel > self.hidden_rtol]
            lines.append(
                "hidden-state gradients dL/dh_t: "
                + ("all steps agree" if not bad else f"disagree at t = {_ranges(bad)}")
                + (f"; last bad step in the backward sweep's order: t = {max(bad)}" if bad else "")
            )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _ranges(ts: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2, 5'."""
    out, start = [], ts[0]
    for a, b in zip(ts, [*ts[1:], None], strict=True):
        if b != a + 1:
            out.append(f"{start}" if start == a else f"{start}-{a}")
            start = b
    return ", ".join(out)


def _paths(tree: Any, prefix: str = "") -> list[str]:
    """Leaf paths in ``tree_flatten`` order: ``cell/Wh``, ``blocks[0]/W``."""
    if isinstance(tree, dict):
        return [
            p for k in sorted(tree) for p in _paths(tree[k], f"{prefix}/{k}" if prefix else str(k))
        ]
    if isinstance(tree, list | tuple):
        return [p for i, x in enumerate(tree) for p in _paths(x, f"{prefix}[{i}]")]
    return [] if tree is None else [prefix or "<root>"]


def _tolerances(dtype: np.dtype, rtol: float | None) -> tuple[float, float]:
    default, floor = TOLERANCES.get(np.dtype(dtype), TOLERANCES[np.dtype(np.float64)])
    return (default if rtol is None else float(rtol)), floor


def compare_grads(
    ad: Any, hand: Any, rtol: float | None = None, worst: int = 3
) -> DerivationReport:
    """Compare two gradient pytrees of the same structure leaf by leaf (``ad`` is the reference).

    >>> r = compare_grads({"w": np.array([1.0, 2.0])}, {"w": np.array([1.0, 2.5])})
    >>> r.ok, round(r.leaves[0].max_rel, 2)
    (False, 0.2)
    """
    ad_leaves, ad_def = tree_flatten(ad)
    hand_leaves, hand_def = tree_flatten(hand)
    if ad_def != hand_def:
        raise ValueError(
            f"the hand-derived gradients have structure {hand_def}, but the parameters have "
            f"{ad_def}. Return one gradient per parameter, in the same nested dicts and lists."
        )
    ad_arrays = [np.asarray(_strip(a)) for a in ad_leaves]
    dtype = np.result_type(*ad_arrays) if ad_arrays else np.dtype(np.float64)
    rtol, floor_frac = _tolerances(dtype, rtol)
    G = max((float(np.max(np.abs(a))) for a in ad_arrays if a.size), default=0.0)
    floor = max(floor_frac * G, np.finfo(np.float64).tiny)
    leaves, notes = [], []
    for path, a, h in zip(_paths(ad), ad_arrays, hand_leaves, strict=True):
        h = np.asarray(h)
        if h.shape != a.shape:
            leaves.append(LeafCheck(path, a.shape, np.inf, np.inf, ok=False,
                                    note=f"hand gradient has shape {h.shape}"))  # fmt: skip
            continue
        if h.dtype != a.dtype:
            notes.append(f"{path}: the hand gradient is {h.dtype}, the parameter {a.dtype}.")
        diff = np.abs(a.astype(np.float64) - h.astype(np.float64))
        if not np.all(np.isfinite(h)):
            diff = np.where(np.isfinite(h), diff, np.inf)
        max_abs = float(diff.max()) if diff.size else 0.0
        scale = max(float(np.abs(a).max()) if a.size else 0.0,
                    float(np.abs(h).max()) if h.size else 0.0, floor)  # fmt: skip
        max_rel = max_abs / scale
        order = _largest(diff.ravel(), worst) if max_abs > 0 else []
        entries = [
            (tuple(int(i) for i in np.unravel_index(k, a.shape)), float(a.flat[k]),
             float(h.flat[k]))
            for k in order
        ]  # fmt: skip
        leaves.append(LeafCheck(path, a.shape, max_abs, max_rel, entries, bool(max_rel <= rtol)))
    return DerivationReport(leaves, str(dtype), rtol, notes=notes)


def _largest(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest entries of 1-D ``x``, largest first."""
    k = min(k, x.size)
    if k <= 0:
        return np.zeros(0, np.intp)
    top = np.argpartition(x, x.size - k)[x.size - k :]
    return top[np.argsort(x[top])[::-1]]


def _split_hand(out: Any, params: Any) -> tuple[Any, Any]:
    """``hand_grads`` may return grads or (loss, grads)."""
    structure = tree_structure(params)
    if tree_structure(out) == structure:
        return None, out
    if isinstance(out, tuple | list) and len(out) == 2 and tree_structure(out[1]) == structure:
        return out[0], out[1]
    raise ValueError(
        f"hand_grads returned {tree_structure(out)}; expected gradients shaped like the "
        f"parameters {structure}, or a pair (loss, gradients)."
    )


def _prefix(batch: Sequence, axes: Sequence, length: int) -> list:
    out = []
    for x, ax in zip(batch, axes, strict=True):
        if ax is None:
            out.append(x)
        else:
            idx = [slice(None)] * np.ndim(x)
            idx[ax] = slice(0, length)
            out.append(np.asarray(x)[tuple(idx)])
    return out


def _run(loss, hand_grads, params, batch, rtol, worst):
    value, ad = value_and_grad(loss)(params, *batch)
    hand_value, hand = _split_hand(hand_grads(params, *batch), params)
    report = compare_grads(ad, hand, rtol, worst)
    report.loss_ad = float(_strip(value))
    report.loss_hand = None if hand_value is None else float(np.asarray(hand_value))
    return report


def check_derivation(
    loss: Callable,
    hand_grads: Callable,
    params: Any,
    *batch: Any,
    time_axis: int | Sequence[int | None] | None = None,
    rtol: float | None = None,
    hidden: tuple[Callable, Callable] | None = None,
    worst: int = 3,
) -> DerivationReport:
    """Check a hand-derived gradient against the tape's, leaf by leaf.

    Args:
        loss: ``loss(params, *batch)``, a scalar, written with ``autodiff.numpy``.
        hand_grads: ``hand_grads(params, *batch)``: the hand derivation's gradients, a pytree
            shaped like ``params``, or a pair ``(loss, gradients)`` (the losses are compared too).
        params: the parameter pytree (nested dicts, lists, tuples of float arrays).
        batch: the other arguments (data, targets).
        time_axis: for sequence models, the time axis of the batch arrays (one int for all,
            or one per array with None for arrays without time, such as last-step targets).
            If the check fails, it is repeated on prefixes of the sequence (bisection) to find
            ``first_bad_step``.
        rtol: tolerance of the verdict; by default from ``TOLERANCES`` by dtype.
        hidden: optional pair ``(ad_hidden, hand_hidden)`` of functions of
            ``(params, *batch)`` returning dL/dh_t with time on ``time_axis`` (default 1),
            e.g. ``nn.models.rnn.hidden_grads`` and ``bptt_hidden_grads``; compared step by step.
        worst: how many of the worst entries to list per failing leaf.

    >>> import autodiff.numpy as anp
    >>> loss = lambda w, x: anp.sum(anp.tanh(x @ w))
    >>> hand = lambda w, x: x.T @ (1 - np.tanh(x @ w) ** 2)   # d tanh = 1 - tanh^2
    >>> w, x = np.ones((3, 2)), np.linspace(-1, 1, 12).reshape(4, 3)
    >>> check_derivation(loss, hand, w, x).ok
    True
    """
    report = _run(loss, hand_grads, params, batch, rtol, worst)
    axes = None
    if time_axis is not None:
        axes = [time_axis] * len(batch) if isinstance(time_axis, int) else list(time_axis)
        if len(axes) != len(batch):
            raise ValueError(f"time_axis has {len(axes)} entries for {len(batch)} batch arrays.")
        lengths = {np.shape(x)[a] for x, a in zip(batch, axes, strict=True) if a is not None}
        if len(lengths) != 1:
            raise ValueError(f"the batch arrays have different lengths on time_axis: {lengths}.")
        T = lengths.pop()
        report.prefix_errors[T] = report.max_rel
        if not report.ok:
            report.first_bad_step = (
                _first_bad_length(
                    loss, hand_grads, params, batch, axes, T, rtol, report.prefix_errors
                )
                - 1
            )
    if hidden is not None:
        ax = 1 if axes is None else next(a for a in axes if a is not None)
        a_h = np.asarray(hidden[0](params, *batch))
        h_h = np.asarray(hidden[1](params, *batch))
        if a_h.shape != h_h.shape:
            raise ValueError(f"hidden gradients: AD gives {a_h.shape}, hand {h_h.shape}.")
        rtol_h, floor_frac = _tolerances(a_h.dtype, rtol)
        floor = max(floor_frac * float(np.abs(a_h).max()), np.finfo(np.float64).tiny)
        report.hidden_rtol = rtol_h
        for t in range(a_h.shape[ax]):
            a_t, h_t = np.take(a_h, t, axis=ax), np.take(h_h, t, axis=ax)
            err = float(np.abs(a_t - h_t).max())
            report.hidden_errors.append((t, err, err / max(np.abs(a_t).max(), floor)))
    return report


def _first_bad_length(loss, hand_grads, params, batch, axes, T, rtol, errors) -> int:
    """Smallest prefix length that fails (bisection; assumes failing stays failing)."""
    lo, hi = 0, T  # prefix lo passes (0: vacuous), prefix hi fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        r = _run(loss, hand_grads, params, _prefix(batch, axes, mid), rtol, 0)
        errors[mid] = r.max_rel
        lo, hi = (mid, hi) if r.ok else (lo, mid)
    return hi
