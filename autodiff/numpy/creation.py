"""Building arrays, possibly from traced scalars: ``anp.array([x, 2 * x])``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import Traced

__all__ = ["array", "asarray", "copy"]


def _contains_traced(obj: Any) -> bool:
    if isinstance(obj, Traced):
        return True
    if isinstance(obj, list | tuple):
        return any(_contains_traced(o) for o in obj)
    return False


def _build(obj: Any, dtype):
    from .elementwise import astype
    from .shape import stack

    if isinstance(obj, list | tuple):
        out = stack([_build(o, dtype) for o in obj], axis=0)
    else:
        out = obj if isinstance(obj, Traced) else np.asarray(obj)
    if dtype is not None:
        out = astype(out, dtype)
    return out


def array(obj: Any, dtype=None, copy: bool = True, ndmin: int = 0):
    """``np.array``; nested lists holding traced values are stacked, so gradients flow."""
    if _contains_traced(obj):
        out = _build(obj, dtype)
        while out.ndim < ndmin:
            from .shape import expand_dims

            out = expand_dims(out, 0)
        return out
    return np.array(obj, dtype=dtype, copy=copy, ndmin=ndmin)


def asarray(obj: Any, dtype=None):
    """``np.asarray``; a traced value is returned as it is (cast if ``dtype`` differs)."""
    if _contains_traced(obj):
        return _build(obj, dtype) if not isinstance(obj, Traced) or dtype is not None else obj
    return np.asarray(obj, dtype=dtype)


def copy(a: Any):
    """``np.copy``: traced values are immutable, so the copy is the value itself."""
    return a if isinstance(a, Traced) else np.copy(a)
