"""``autodiff.numpy.fft``: differentiable discrete Fourier transforms.

Every transform is linear, so its JVP is the transform of the tangent. The DFT matrix
is symmetric, so with autograd's convention (cotangents pair without conjugation, see
``elementwise.py``) the VJP of ``fft`` is ``fft`` of the cotangent, and of ``ifft`` is
``ifft``, cut or zero-padded back to the input's length when ``n``/``s`` changed it.
``rfft`` is the first ``n // 2 + 1`` outputs of ``fft`` of a real input: its VJP is the
real part of ``fft`` of the zero-padded cotangent. ``irfft`` reads only those bins and
counts each bin but the zero and Nyquist ones twice (Hermitian symmetry): its VJP is
``ifft`` of the cotangent, cut to ``n // 2 + 1`` bins, times those doubling factors.
Names without a rule (fftfreq, rfftfreq) fall back to NumPy.
"""

from __future__ import annotations

import numpy as _np

from ..primitive import _strip, defop
from ._fallback import numpy_fallback as _numpy_fallback
from .elementwise import _match
from .elementwise import conj as _conj
from .elementwise import real as _real
from .shape import concatenate as _concatenate

__all__ = ["fft", "ifft", "rfft", "irfft", "fftn", "ifftn", "rfftn", "irfftn", "fft2", "ifft2",
           "rfft2", "irfft2", "hfft", "ihfft", "fftshift", "ifftshift"]  # fmt: skip


def _shape(x):
    return _np.shape(_strip(x))


def _cook(x, s, axes, inverse_real):
    """``(s, axes)`` of an n-D transform, as NumPy's ``_cook_nd_args``."""
    shape = _shape(x)
    ndim = len(shape)
    if s is None:
        axes = list(range(ndim)) if axes is None else [int(a) for a in axes]
        s = [shape[a] for a in axes]
        if inverse_real:
            s[-1] = 2 * (shape[axes[-1]] - 1)
    else:
        s = list(s)
        axes = list(range(-len(s), 0)) if axes is None else [int(a) for a in axes]
    axes = [a % ndim for a in axes]
    if len(set(axes)) != len(axes):
        raise NotImplementedError(f"anp.fft: repeated axes {tuple(axes)} have no rule.")
    return [shape[a] if n in (-1, None) else int(n) for n, a in zip(s, axes, strict=True)], axes


def _cook1(x, n, axis, inverse_real=False):
    if n is None:
        n = 2 * (_shape(x)[axis] - 1) if inverse_real else _shape(x)[axis]
    return [n], [axis % len(_shape(x))]


def _fit(x, sizes, axes):
    """``x`` cut or zero-padded to ``sizes`` along ``axes`` (NumPy's ``n``/``s`` handling)."""
    for n, ax in zip(sizes, axes, strict=True):
        cur = _shape(x)[ax]
        if cur > n:
            x = x[(slice(None),) * ax + (slice(0, n),)]
        elif cur < n:
            pad_shape = list(_shape(x))
            pad_shape[ax] = n - cur
            x = _concatenate([x, _np.zeros(pad_shape, _np.result_type(_strip(x)))], axis=ax)
    return x


def _doubling(n, ax, ndim, dtype):
    """Weights 1, 2, ..., 2, (1 if n even) of the ``n // 2 + 1`` bins ``irfft`` reads."""
    w = _np.full(n // 2 + 1, 2.0, dtype)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w.reshape((-1,) + (1,) * (ndim - 1 - ax))


def _real_dtype(x):
    dt = _np.result_type(_strip(x))
    return _np.finfo(dt).dtype if dt.kind in "fc" else _np.dtype(_np.float64)


def _params(nd, a, args, kw, inverse_real=False):
    """Sizes, axes and norm of a call ``f(a, n, axis, norm)`` or ``f(a, s, axes, norm)``."""
    p = dict(zip(("s", "axes", "norm") if nd else ("n", "axis", "norm"), args, strict=False), **kw)
    if nd:
        sizes, axes = _cook(a, p.get("s"), p.get("axes"), inverse_real)
    else:
        sizes, axes = _cook1(a, p.get("n"), p.get("axis", -1), inverse_real)
    return sizes, axes, p.get("norm")


def _apply(nd, f, g, axes, norm):
    return f(g, axes=axes, norm=norm) if nd else f(g, axis=axes[0], norm=norm)


def _c2c_vjp(same, nd):
    def vjp(g, ans, a, *args, **kw):
        sizes, axes, norm = _params(nd, a, args, kw)
        r = _apply(nd, same(), g, axes, norm)
        return _match(_fit(r, [_shape(a)[ax] for ax in axes], axes), a)

    return vjp


def _r2c_vjp(nd):
    def vjp(g, ans, a, *args, **kw):
        sizes, axes, norm = _params(nd, a, args, kw)
        r = _apply(nd, fftn if nd else fft, _fit(g, sizes, axes), axes, norm)
        return _match(_fit(_real(r), [_shape(a)[ax] for ax in axes], axes), a)

    return vjp


def _c2r_vjp(nd):
    def vjp(g, ans, a, *args, **kw):
        sizes, axes, norm = _params(nd, a, args, kw, inverse_real=True)
        r = _apply(nd, ifftn if nd else ifft, g, axes, norm)
        r = _fit(r, [sizes[-1] // 2 + 1], axes[-1:])
        r = r * _doubling(sizes[-1], axes[-1], len(_shape(g)), _real_dtype(g))
        return _match(_fit(r, [_shape(a)[ax] for ax in axes], axes), a)

    return vjp


def _transform(fun, vjp):
    return defop(fun, name=fun.__name__, vjp=vjp, jvp="linear")


# the VJP of a complex-to-complex transform is the same transform (symmetric DFT matrix)
fft = _transform(_np.fft.fft, _c2c_vjp(lambda: fft, False))
ifft = _transform(_np.fft.ifft, _c2c_vjp(lambda: ifft, False))
rfft = _transform(_np.fft.rfft, _r2c_vjp(False))
irfft = _transform(_np.fft.irfft, _c2r_vjp(False))
fftn = _transform(_np.fft.fftn, _c2c_vjp(lambda: fftn, True))
ifftn = _transform(_np.fft.ifftn, _c2c_vjp(lambda: ifftn, True))
rfftn = _transform(_np.fft.rfftn, _r2c_vjp(True))
irfftn = _transform(_np.fft.irfftn, _c2r_vjp(True))


def fft2(a, s=None, axes=(-2, -1), norm=None):
    """``np.fft.fft2``: ``fftn`` over the last two axes."""
    return fftn(a, s, axes, norm)


def ifft2(a, s=None, axes=(-2, -1), norm=None):
    """``np.fft.ifft2``: ``ifftn`` over the last two axes."""
    return ifftn(a, s, axes, norm)


def rfft2(a, s=None, axes=(-2, -1), norm=None):
    """``np.fft.rfft2``: ``rfftn`` over the last two axes."""
    return rfftn(a, s, axes, norm)


def irfft2(a, s=None, axes=(-2, -1), norm=None):
    """``np.fft.irfft2``: ``irfftn`` over the last two axes."""
    return irfftn(a, s, axes, norm)


_SWAP = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def hfft(a, n=None, axis=-1, norm=None):
    """``np.fft.hfft``: ``irfft`` of the conjugate with the opposite normalisation."""
    if n is None:
        n = 2 * (_shape(a)[axis] - 1)
    return irfft(_conj(a), n, axis, _SWAP[norm])


def ihfft(a, n=None, axis=-1, norm=None):
    """``np.fft.ihfft``: conjugate of ``rfft`` with the opposite normalisation."""
    return _conj(rfft(a, n, axis, _SWAP[norm]))


fftshift = defop(
    _np.fft.fftshift,
    name="fftshift",
    vjp=lambda g, ans, x, axes=None: ifftshift(g, axes),
    jvp="linear",
)
ifftshift = defop(
    _np.fft.ifftshift,
    name="ifftshift",
    vjp=lambda g, ans, x, axes=None: fftshift(g, axes),
    jvp="linear",
)


def __getattr__(name: str):
    return _numpy_fallback(name, _np.fft, "numpy.fft", globals())
