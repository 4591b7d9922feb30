"""``autodiff.scipy.signal``: differentiable convolutions and correlations of scipy.signal.

All are differentiable in both inputs (real arrays). The rules are SciPy's own
convolve/correlate of the cotangent with the other input (see
``autodiff.numpy.convolution`` for the windows of each mode), so they are as fast as the
forward pass and differentiable again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.signal as _sp

from ..numpy._fallback import _has_traced
from ..numpy._fallback import numpy_fallback as _numpy_fallback
from ..numpy.convolution import conv_vjps, corr_vjps
from ..numpy.elementwise import where
from ..numpy.indexing import getitem
from ..primitive import _strip, defop

__all__ = ["convolve", "correlate", "fftconvolve", "convolve2d", "correlate2d"]


def _shapes(a, v):
    return np.shape(_strip(a)), np.shape(_strip(v))


def _offsets(mode: str, sa: tuple, sv: tuple, even_right: bool = False) -> list[int]:
    """Where each mode's output starts inside the full output, per axis.

    ``same`` is centred on the full output; for an even kernel SciPy puts the extra
    element on the left, except ``correlate2d`` (``even_right``) which puts it on the right.
    """
    if mode == "full":
        return [0] * len(sa)
    if mode == "same":
        return [nv // 2 if even_right else (nv - 1) // 2 for nv in sv]
    if mode == "valid":
        return [min(na, nv) - 1 for na, nv in zip(sa, sv, strict=False)]
    raise ValueError(f"mode must be 'full', 'same' or 'valid', got {mode!r}.")


def _convolve(in1, in2, mode="full", method="auto"):
    return _sp.convolve(in1, in2, mode=mode, method=method)


def _correlate(in1, in2, mode="full", method="auto"):
    return _sp.correlate(in1, in2, mode=mode, method=method)


convolve = defop(
    _convolve,
    name="signal_convolve",
    vjp=conv_vjps(
        "scipy.signal.convolve", lambda *a, **k: convolve(*a, **k),
        lambda *a, **k: correlate(*a, **k), _offsets, _shapes,
    ),
    jvp="linear",
)  # fmt: skip
correlate = defop(
    _correlate,
    name="signal_correlate",
    vjp=corr_vjps(
        "scipy.signal.correlate", lambda *a, **k: convolve(*a, **k),
        lambda *a, **k: correlate(*a, **k), _offsets, _shapes,
    ),
    jvp="linear",
)  # fmt: skip


def fftconvolve(in1: Any, in2: Any, mode: str = "full", axes: Any = None) -> Any:
    """``scipy.signal.fftconvolve`` over all axes: ``convolve(..., method="fft")``."""
    if axes is not None and (_has_traced(in1) or _has_traced(in2)):
        raise NotImplementedError(
            f"autodiff.scipy.signal.fftconvolve is differentiable over all axes only, got "
            f"axes={axes!r}. Leave axes=None, or convolve slices with autodiff's convolve."
        )
    if axes is not None:
        return _sp.fftconvolve(in1, in2, mode=mode, axes=axes)
    return convolve(in1, in2, mode, method="fft")


# 2-D, zero boundary: the primitives. Other boundaries extend in1 (differentiably) first.
def _convolve2d(in1, in2, mode="full"):
    return _sp.convolve2d(in1, in2, mode=mode)


def _correlate2d(in1, in2, mode="full"):
    return _sp.correlate2d(in1, in2, mode=mode)


_convolve2d_prim = defop(
    _convolve2d,
    name="convolve2d",
    vjp=conv_vjps(
        "scipy.signal.convolve2d", lambda *a, **k: _convolve2d_prim(*a, **k),
        lambda *a, **k: _correlate2d_prim(*a, **k), _offsets, _shapes,
    ),
    jvp="linear",
)  # fmt: skip
_correlate2d_prim = defop(
    _correlate2d,
    name="correlate2d",
    vjp=corr_vjps(
        "scipy.signal.correlate2d", lambda *a, **k: _convolve2d_prim(*a, **k),
        lambda *a, **k: _correlate2d_prim(*a, **k),
        lambda mode, sa, sv: _offsets(mode, sa, sv, even_right=True), _shapes,
    ),
    jvp="linear",
)  # fmt: skip

_BOUNDARIES = {"fill": "fill", "pad": "fill", "wrap": "wrap", "circular": "wrap",
               "symm": "symm", "symmetric": "symm"}  # fmt: skip


def _extend(x, pads: tuple, boundary: str, fillvalue: Any):
    """``x`` extended by ``pads`` on both sides of each axis as SciPy's ``boundary`` does."""
    srcs, masks = [], []
    for n, p in zip(np.shape(_strip(x)), pads, strict=False):
        i = np.arange(-p, n + p)
        if boundary == "wrap":
            src = i % n
        elif boundary == "symm":  # mirror with the edge repeated, period 2n
            j = i % (2 * n)
            src = np.where(j < n, j, 2 * n - 1 - j)
        else:
            src = np.clip(i, 0, n - 1)
        srcs.append(src)
        masks.append((i >= 0) & (i < n))
    ext = getitem(x, np.ix_(*srcs))
    if boundary == "fill":
        ext = where(masks[0][:, None] & masks[1][None, :], ext, fillvalue)
    return ext


def _conv2d(prim, scipy_fun, even_right, in1, in2, mode, boundary, fillvalue):
    if boundary not in _BOUNDARIES:
        raise ValueError(f"boundary must be 'fill', 'wrap' or 'symm', got {boundary!r}.")
    kind = _BOUNDARIES[boundary]
    if mode == "valid" or (kind == "fill" and fillvalue == 0):
        return prim(in1, in2, mode)
    if not (_has_traced(in1) or _has_traced(in2)):
        return scipy_fun(in1, in2, mode=mode, boundary=boundary, fillvalue=fillvalue)
    if _has_traced(fillvalue):
        raise NotImplementedError(
            "scipy.signal.convolve2d is not differentiable in fillvalue; pass a constant."
        )
    sa, sv = _shapes(in1, in2)
    if len(sa) != 2 or len(sv) != 2:
        raise ValueError(f"convolve2d needs 2-D inputs, got shapes {sa} and {sv}.")
    full = prim(_extend(in1, tuple(n - 1 for n in sv), kind, fillvalue), in2, "valid")
    if mode == "full":
        return full
    s = _offsets(mode, sa, sv, even_right)
    return getitem(full, tuple(slice(si, si + n) for si, n in zip(s, sa, strict=False)))


def convolve2d(
    in1: Any, in2: Any, mode: str = "full", boundary: str = "fill", fillvalue: Any = 0
) -> Any:
    """``scipy.signal.convolve2d``, differentiable in ``in1`` and ``in2``, every boundary.

    >>> import numpy as np
    >>> convolve2d(np.eye(2), np.ones((2, 2)), mode="same")
    array([[1., 1.],
           [1., 2.]])
    """
    return _conv2d(_convolve2d_prim, _sp.convolve2d, False, in1, in2, mode, boundary, fillvalue)


def correlate2d(
    in1: Any, in2: Any, mode: str = "full", boundary: str = "fill", fillvalue: Any = 0
) -> Any:
    """``scipy.signal.correlate2d``, differentiable in ``in1`` and ``in2``, every boundary.

    >>> import numpy as np
    >>> correlate2d(np.eye(2), np.ones((2, 2)), mode="same")
    array([[2., 1.],
           [1., 1.]])
    """
    return _conv2d(_correlate2d_prim, _sp.correlate2d, True, in1, in2, mode, boundary, fillvalue)


def __getattr__(name: str):
    return _numpy_fallback(name, _sp, "scipy.signal", globals())
