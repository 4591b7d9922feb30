"""NumPy names without a rule: usable on plain arrays, an error on traced ones."""

from __future__ import annotations

import functools
from typing import Any

from ..primitive import Traced


def _has_traced(obj: Any) -> bool:
    if isinstance(obj, Traced):
        return True
    if isinstance(obj, list | tuple):
        return any(_has_traced(o) for o in obj)
    if isinstance(obj, dict):
        return any(_has_traced(o) for o in obj.values())
    return False


def numpy_fallback(name: str, module: Any, qualname: str, namespace: dict) -> Any:
    """Attribute ``name`` of ``module`` wrapped so that traced arguments raise."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        obj = getattr(module, name)
    except AttributeError:
        raise AttributeError(f"module 'autodiff.{qualname}' has no attribute {name!r}") from None
    if not callable(obj) or isinstance(obj, type):
        namespace[name] = obj
        return obj

    @functools.wraps(obj)
    def plain_only(*args, **kw):
        if _has_traced(args) or _has_traced(kw):
            raise NotImplementedError(
                f"autodiff has no derivative rule for {qualname}.{name}. Rewrite it with "
                "differentiable autodiff.numpy operations, or define one with "
                "autodiff.custom_vjp."
            )
        return obj(*args, **kw)

    namespace[name] = plain_only
    return plain_only
