"""``autodiff.numpy.linalg``: differentiable linear algebra (filled in by linalg ops)."""

from __future__ import annotations

import numpy as _np

from ._fallback import numpy_fallback as _numpy_fallback

__all__: list[str] = []


def __getattr__(name: str):
    return _numpy_fallback(name, _np.linalg, "numpy.linalg", globals())
