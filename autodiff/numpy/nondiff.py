"""Functions that pass no gradient: rounding, comparisons, arg-reductions, predicates.

They accept traced values and return plain arrays (constants to every tape).
"""

from __future__ import annotations

import numpy as np

from ..primitive import Traced, defop

_NAMES = [
    "floor", "ceil", "round", "around", "rint", "trunc", "fix", "sign", "signbit", "floor_divide",
    "isnan", "isinf", "isfinite", "isposinf", "isneginf", "isreal", "iscomplex", "isclose",
    "allclose", "array_equal", "array_equiv", "greater", "greater_equal", "less", "less_equal",
    "equal", "not_equal", "logical_and", "logical_or", "logical_not", "logical_xor", "argmax",
    "argmin", "argsort", "argwhere", "nonzero", "flatnonzero", "searchsorted", "digitize",
    "count_nonzero", "any", "all", "shape", "ndim", "size", "result_type", "zeros_like",
    "ones_like", "empty_like", "full_like", "heaviside", "histogram", "nextafter",
    "iscomplexobj", "isrealobj", "isscalar", "lexsort", "bitwise_and", "bitwise_or",
    "bitwise_xor", "invert", "left_shift", "right_shift", "gcd", "lcm", "spacing",
    "tril_indices", "triu_indices", "diag_indices", "indices", "unravel_index", "ravel_multi_index",
]  # fmt: skip

__all__ = list(_NAMES)

for _name in _NAMES:
    globals()[_name] = defop(getattr(np, _name), name=_name, nondiff=True)
del _name


# Functions that are piecewise constant in some arguments but not in others: a traced
# value in the others would need a rule, which they do not have. Per name: the argument,
# its position, and how to write the computation instead.
_DIFFERENTIABLE_IN = {
    "heaviside": ("x2", 1, ""),  # heaviside(0, x2) = x2
    "histogram": ("weights", 4, " (anp.bincount with weights gives weighted counts)"),
    "nextafter": ("x1", 0, ""),  # nextafter(x1, x2) = x1 + one ulp or less
}


def _constant_only(name: str, arg: str, pos: int, hint: str):
    prim = globals()[name]

    def fn(*args, **kw):
        value = args[pos] if len(args) > pos else kw.get(arg)
        if isinstance(value, Traced):
            raise NotImplementedError(
                f"anp.{name} has no derivative rule for its argument {arg}, which is traced "
                f"here. Pass {arg} as a constant (autodiff.stop_gradient), or write the "
                f"computation with differentiable operations{hint}."
            )
        return prim(*args, **kw)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``np.{name}``: passes no gradient; {arg} must not be traced."
    return fn


for _name, _spec in _DIFFERENTIABLE_IN.items():
    globals()[_name] = _constant_only(_name, *_spec)
del _name, _spec
