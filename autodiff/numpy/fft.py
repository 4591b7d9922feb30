"""``autodiff.numpy.fft``: differentiable FFTs (filled in by fft ops)."""

from __future__ import annotations

import numpy as _np

from ._fallback import numpy_fallback as _numpy_fallback

__all__: list[str] = []


def __getattr__(name: str):
    return _numpy_fallback(name, _np.fft, "numpy.fft", globals())
