"""``autodiff.scipy.special``: differentiable scipy.special."""

from __future__ import annotations

import scipy.special as _sp

from ..numpy._fallback import numpy_fallback as _numpy_fallback

__all__: list[str] = []


def __getattr__(name: str):
    return _numpy_fallback(name, _sp, "scipy.special", globals())
