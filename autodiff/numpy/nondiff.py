"""Functions that pass no gradient: rounding, comparisons, arg-reductions, predicates.

They accept traced values and return plain arrays (constants to every tape).
"""

from __future__ import annotations

import numpy as np

from ..primitive import defop

_NAMES = [
    "floor", "ceil", "round", "around", "rint", "trunc", "fix", "sign", "signbit", "floor_divide",
    "isnan", "isinf", "isfinite", "isposinf", "isneginf", "isreal", "iscomplex", "isclose",
    "allclose", "array_equal", "array_equiv", "greater", "greater_equal", "less", "less_equal",
    "equal", "not_equal", "logical_and", "logical_or", "logical_not", "logical_xor", "argmax",
    "argmin", "argsort", "argwhere", "nonzero", "flatnonzero", "searchsorted", "digitize",
    "count_nonzero", "any", "all", "shape", "ndim", "size", "result_type", "zeros_like",
    "ones_like", "empty_like", "full_like", "heaviside", "bincount", "unique", "sort_complex",
    "iscomplexobj", "isrealobj", "isscalar", "histogram", "lexsort", "bitwise_and", "bitwise_or",
    "bitwise_xor", "invert", "left_shift", "right_shift", "gcd", "lcm", "nextafter", "spacing",
    "tril_indices", "triu_indices", "diag_indices", "indices", "unravel_index", "ravel_multi_index",
]  # fmt: skip

__all__ = list(_NAMES)

for _name in _NAMES:
    globals()[_name] = defop(getattr(np, _name), name=_name, nondiff=True)
del _name
