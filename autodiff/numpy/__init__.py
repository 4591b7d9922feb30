"""``autodiff.numpy``: NumPy's namespace, differentiable.

Use it as ``import autodiff.numpy as anp`` (or ``as np`` in model code). Every
function with a derivative rule is a primitive in ``autodiff.OPS`` or composed
from primitives. Names of NumPy that have no rule here still work on plain
arrays, and raise ``NotImplementedError`` naming the function when they meet a
traced value, so a gradient is never silently wrong.
"""

from __future__ import annotations

import numpy as _np
from numpy import (  # noqa: F401  constants and dtypes
    bool_,
    complex64,
    complex128,
    dtype,
    e,
    euler_gamma,
    finfo,
    float16,
    float32,
    float64,
    iinfo,
    inf,
    int8,
    int16,
    int32,
    int64,
    intp,
    nan,
    ndarray,
    newaxis,
    pi,
    random,
    uint8,
)

from . import convolution as _convolution
from . import creation as _creation
from . import elementwise as _elementwise
from . import indexing as _indexing
from . import nondiff as _nondiff
from . import products as _products
from . import reductions as _reductions
from . import shape as _shape
from . import windows as _windows
from ._fallback import numpy_fallback as _numpy_fallback
from ._methods import install as _install

_MODULES = [
    _elementwise,
    _nondiff,
    _reductions,
    _shape,
    _windows,
    _indexing,
    _products,
    _creation,
    _convolution,
]
for _m in _MODULES:
    for _name in _m.__all__:
        globals()[_name] = getattr(_m, _name)

from . import fft, linalg  # noqa: E402,F401

_install()


def __getattr__(name: str):
    return _numpy_fallback(name, _np, "numpy", globals())
