"""ndarray behaviour of traced values: operators, properties and methods."""

from __future__ import annotations

import sys

import numpy as np

from ..primitive import Traced, _strip

_MUTATION = (
    "Traced arrays are immutable: item assignment would break the gradient. "
    "Write x = x.at[idx].set(v) (or .add(v)), or build the result with anp.where / "
    "anp.concatenate."
)


_STORE = (
    "Storing a traced value into a NumPy array (y[i] = value) converts it this way: build "
    "the array with anp.stack / anp.concatenate, or write y = y.at[i].set(value) on a traced y."
)


def _anp():
    return sys.modules["autodiff.numpy"]


def _method(name: str):
    def method(self, *args, **kw):
        return getattr(_anp(), name)(self, *args, **kw)

    method.__name__ = name
    return method


def _shape_args(args):
    return args[0] if len(args) == 1 and isinstance(args[0], tuple | list) else args


class _At:
    """``x.at[idx].set(v)`` / ``.add(v)``, JAX's functional index update."""

    __slots__ = ("x", "idx")

    def __init__(self, x, idx=None):
        self.x = x
        self.idx = idx

    def __getitem__(self, idx):
        return _At(self.x, idx)

    def set(self, v):
        return _anp().index_update(self.x, self.idx, v)

    def add(self, v):
        return _anp().index_add(self.x, self.idx, v)


def _plain_index(idx):
    if isinstance(idx, tuple):
        for i in idx:
            if isinstance(i, Traced):  # an index computed from traced values: its value
                return tuple(_strip(i) for i in idx)
        return idx
    return _strip(idx)


def _no_conversion(kind: str):
    def conv(self, *args, **kw):
        raise TypeError(
            f"{kind}() of a traced value would drop its gradient. Keep it an array and use "
            "autodiff.numpy operations, or wrap it in autodiff.stop_gradient for a constant. "
            + _STORE
        )

    return conv


def _array(self, dtype=None, copy=None):
    raise TypeError(
        "NumPy tried to convert a traced array to a plain ndarray, which would drop its "
        "gradient. Inside differentiated code use autodiff.numpy (import autodiff.numpy as anp) "
        "instead of numpy, or wrap the value in autodiff.stop_gradient. " + _STORE
    )


def _array_ufunc(self, ufunc, method, *inputs, **kw):
    # ``ndarray <op> traced`` lands here (x @ W with a constant x): a dict lookup, once known
    if method == "__call__" and not kw:
        fn = _UFUNC_RULES.get(ufunc)
        if fn is not None:
            return fn(*inputs)
    anp = _anp()
    fn = getattr(anp, ufunc.__name__, None)
    if method == "__call__" and not kw.get("out") and fn is not None and _is_rule(fn):
        kw.pop("out", None)
        _UFUNC_RULES[ufunc] = fn
        return fn(*inputs, **kw)
    raise NotImplementedError(
        f"numpy.{ufunc.__name__}{'' if method == '__call__' else '.' + method} got a traced "
        "array and autodiff has no rule for this call. Inside differentiated code use "
        "autodiff.numpy as anp."
    )


_UFUNC_RULES: dict = {}  # NumPy ufunc -> its autodiff.numpy rule, filled as calls arrive


# module names inside numpy that are not namespaces of their own (numpy.lib.stride_tricks
# functions live in autodiff.numpy directly)
_INTERNAL_MODULES = frozenset(
    ("_core", "core", "fromnumeric", "multiarray", "numeric", "shape_base", "function_base",
     "_function_base_impl", "_shape_base_impl", "lib", "_linalg", "_pocketfft",
     "_stride_tricks_impl", "_twodim_base_impl", "_fromnumeric", "_multiarray_umath",
     "_arraysetops_impl", "_nanfunctions_impl", "_utils_impl", "_index_tricks_impl",
     "_ufunclike_impl", "_type_check_impl", "_arraypad_impl", "stride_tricks",
     "_histograms_impl", "_npyio_impl", "_polynomial_impl", "overrides")
)  # fmt: skip


def _array_function(self, func, types, args, kwargs):
    anp = _anp()
    mod = func.__module__ or ""
    target = anp
    for part in mod.split(".")[1:]:
        if part in _INTERNAL_MODULES:
            continue
        target = getattr(target, part, None)
        if target is None:
            break
    fn = getattr(target, func.__name__, None) if target is not None else None
    if fn is not None and _is_rule(fn):
        return fn(*args, **kwargs)
    raise NotImplementedError(
        f"{mod.split('.')[0]}.{func.__name__} got a traced array and autodiff has no rule for "
        "it. Inside differentiated code use autodiff.numpy as anp."
    )


def _is_rule(fn) -> bool:
    """True for our own functions (not a plain-only NumPy fallback)."""
    return getattr(fn, "__module__", "").startswith("autodiff") or type(fn).__name__ == "Primitive"


def _binary(prim):
    # primitives are not descriptors, so a method needs a function around them
    def method(self, other):
        return prim(self, other)

    return method


def _unary(prim):
    def method(self):
        return prim(self)

    return method


def install() -> None:
    """Put operators, properties and ndarray methods on ``Traced``."""
    anp = _anp()
    T = Traced
    T.__add__ = _binary(anp.add)
    T.__radd__ = lambda self, other: anp.add(other, self)
    T.__sub__ = _binary(anp.subtract)
    T.__rsub__ = lambda self, other: anp.subtract(other, self)
    T.__mul__ = _binary(anp.multiply)
    T.__rmul__ = lambda self, other: anp.multiply(other, self)
    T.__truediv__ = _binary(anp.divide)
    T.__rtruediv__ = lambda self, other: anp.divide(other, self)
    T.__pow__ = lambda self, other: anp.power(self, other)
    T.__rpow__ = lambda self, other: anp.power(other, self)
    T.__matmul__ = _binary(anp.matmul)
    T.__rmatmul__ = lambda self, other: anp.matmul(other, self)
    T.__mod__ = _binary(anp.mod)
    T.__rmod__ = lambda self, other: anp.mod(other, self)
    T.__floordiv__ = _binary(anp.floor_divide)
    T.__rfloordiv__ = lambda self, other: anp.floor_divide(other, self)
    T.__neg__ = _unary(anp.negative)
    T.__pos__ = _unary(anp.positive)
    T.__abs__ = _unary(anp.abs)
    T.__lt__ = _binary(anp.less)
    T.__le__ = _binary(anp.less_equal)
    T.__gt__ = _binary(anp.greater)
    T.__ge__ = _binary(anp.greater_equal)
    T.__eq__ = _binary(anp.equal)
    T.__ne__ = _binary(anp.not_equal)
    T.__hash__ = object.__hash__
    T.__getitem__ = lambda self, idx: anp.getitem(self, _plain_index(idx))
    T.__setitem__ = lambda self, idx, v: (_ for _ in ()).throw(TypeError(_MUTATION))
    T.__len__ = lambda self: len(_strip(self))
    T.__iter__ = lambda self: (self[i] for i in range(len(self)))
    T.__bool__ = lambda self: bool(_strip(self))
    T.__float__ = _no_conversion("float")
    T.__int__ = _no_conversion("int")
    T.__complex__ = _no_conversion("complex")
    T.__index__ = _no_conversion("index")
    T.__array__ = _array
    T.__array_ufunc__ = _array_ufunc
    T.__array_function__ = _array_function
    T.shape = property(lambda self: np.shape(_strip(self)))
    T.ndim = property(lambda self: np.ndim(_strip(self)))
    T.size = property(lambda self: np.size(_strip(self)))
    T.dtype = property(lambda self: np.result_type(_strip(self)))
    T.T = property(lambda self: anp.transpose(self))
    T.mT = property(lambda self: anp.swapaxes(self, -1, -2))
    T.real = property(lambda self: anp.real(self))
    T.imag = property(lambda self: anp.imag(self))
    T.at = property(lambda self: _At(self))
    T.reshape = lambda self, *shape, order="C": anp.reshape(self, _shape_args(shape), order=order)
    T.transpose = lambda self, *axes: anp.transpose(self, _shape_args(axes) or None)
    T.astype = lambda self, dtype, **kw: anp.astype(self, dtype)
    T.flatten = lambda self, order="C": anp.ravel(self, order)
    T.copy = lambda self: self
    T.item = _no_conversion("item")
    T.tolist = _no_conversion("tolist")
    for name in ("sum", "mean", "prod", "max", "min", "var", "std", "cumsum", "cumprod",
                 "ravel", "swapaxes", "squeeze", "dot", "clip", "conj", "conjugate", "round",
                 "argmax", "argmin", "argsort", "any", "all", "nonzero", "repeat", "take",
                 "trace", "diagonal", "sort", "ptp"):  # fmt: skip
        setattr(T, name, _method(name))
