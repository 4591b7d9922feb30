"""Hand-derived convolution and pooling layers in pure NumPy, shared by the manual benchmarks.

Layout is NCHW; kernels are (K, C, kh, kw); convolution is cross-correlation (no kernel flip),
as in every DL library. Each layer is a ``*_forward(...) -> (out, cache)`` /
``*_backward(dout, cache) -> grads`` pair, in the style of the "only NumPy" tutorials
(cs231n): the forward keeps what the chain rule needs, the backward applies it.

Convolution goes through im2col: the receptive fields are gathered (one copy) into a matrix
``cols`` of shape (N, C*kh*kw, Ho*Wo), so that the layer becomes one batched matrix product
``out_n = W_mat cols_n`` and both backward products are BLAS calls too. Only col2im (the
adjoint of the gather) loops, over the kh*kw kernel offsets, never over pixels.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "conv2d_forward",
    "conv2d_backward",
    "conv2d_backward_params",
    "sum_pool2x2_forward",
    "sum_pool2x2_backward",
    "max_pool_forward",
    "max_pool_backward",
]


def _check_nchw(x: np.ndarray, name: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{name} must be 4-D (N, C, H, W), got shape {x.shape}.")


def conv2d_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: int = 1, pad: int = 0
) -> tuple[np.ndarray, tuple]:
    """2-D cross-correlation ``out[n,k] = sum_c x[n,c] * w[k,c] + b[k]`` via im2col.

    Args:
        x: (N, C, H, W) input.
        w: (K, C, kh, kw) kernels.
        b: (K,) bias or None.
        stride, pad: the same in both spatial dims; padding is with zeros.

    Returns:
        out: (N, K, Ho, Wo), Ho = (H + 2 pad - kh) // stride + 1 (same for Wo), contiguous.
        cache: what ``conv2d_backward`` needs.

    >>> out, _ = conv2d_forward(np.ones((1, 1, 3, 3)), np.ones((2, 1, 2, 2)), np.arange(2.0))
    >>> out[0, :, 0, 0]
    array([4., 5.])
    """
    _check_nchw(x, "x")
    _check_nchw(w, "w")
    n, c, h, wd = x.shape
    k, cw, kh, kw = w.shape
    if c != cw:
        raise ValueError(f"x has {c} channels but w expects {cw}: x {x.shape}, w {w.shape}.")
    if h + 2 * pad < kh or wd + 2 * pad < kw:
        raise ValueError(f"kernel {w.shape[2:]} is larger than the padded input of {x.shape}.")
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    # im2col: windows (N, C, Ho, Wo, kh, kw) -> cols (N, C*kh*kw, Ho*Wo), one copy.
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    ho, wo = windows.shape[2:4]
    cols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo)
    out = w.reshape(k, -1) @ cols  # (K, CKK) @ (N, CKK, HoWo) -> (N, K, HoWo)
    if b is not None:
        out += b[:, None]
    return out.reshape(n, k, ho, wo), (x.shape, w, cols, stride, pad, b is not None)


def conv2d_backward_params(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray | None]:
    """Gradients (dw, db) of a convolution, skipping dx (use it for the input layer).

    ``dout`` is dE/d(out), (N, K, Ho, Wo). ``db`` is None if the forward had no bias.
    """
    _, w, cols, _, _, has_bias = cache
    n, k = dout.shape[:2]
    dout_m = dout.reshape(n, k, -1)
    # out_n = W cols_n  =>  dE/dW = sum_n delta_n cols_n^T  (weight sharing: sum over positions)
    dw = (dout_m @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
    # dE/db_k = sum over n and positions of delta_{n,k}
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return dw, db


def conv2d_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Backward of ``conv2d_forward``: (dx, dw, db) from dout = dE/d(out), (N, K, Ho, Wo).

    dx is (N, C, H, W), dw (K, C, kh, kw), db (K,) or None if the forward had no bias.

    >>> x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
    >>> out, cache = conv2d_forward(x, w)
    >>> conv2d_backward(np.ones_like(out), cache)[0][0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    x_shape, w, _, stride, pad, _ = cache
    n, c, h, wd = x_shape
    k, _, kh, kw = w.shape
    ho, wo = dout.shape[2:]
    dw, db = conv2d_backward_params(dout, cache)
    # dE/dcols_n = W^T delta_n  (transpose of the forward product)
    dcols = (w.reshape(k, -1).T @ dout.reshape(n, k, ho * wo)).reshape(n, c, kh, kw, ho, wo)
    # col2im, the adjoint of the gather: each input pixel sums the dcols entries it was copied to.
    dxp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), dtype=dcols.dtype)
    for i in range(kh):
        rows = slice(i, i + stride * ho, stride)
        for j in range(kw):
            dxp[:, :, rows, j : j + stride * wo : stride] += dcols[:, :, i, j]
    dx = dxp[:, :, pad : pad + h, pad : pad + wd] if pad else dxp
    return dx, dw, db


def sum_pool2x2_forward(x: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Sum over non-overlapping 2x2 windows: (N, C, H, W) -> (N, C, H/2, W/2); H, W even.

    >>> sum_pool2x2_forward(np.arange(16.0).reshape(1, 1, 4, 4))[0][0, 0]
    array([[10., 18.],
           [42., 50.]])
    """
    _check_nchw(x, "x")
    n, c, h, w = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"sum_pool2x2 needs even H and W, got x of shape {x.shape}.")
    # two strided adds (horizontal pairs, then vertical pairs); reshape(...).sum(axis=(3, 5))
    # gives the same sums but is about 8x slower on LeNet's maps
    pairs = x[:, :, :, 0::2] + x[:, :, :, 1::2]
    return pairs[:, :, 0::2] + pairs[:, :, 1::2], x.shape


def sum_pool2x2_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Backward of ``sum_pool2x2_forward``: each of the 4 inputs gets its window's dout."""
    n, c, h, w = cache
    if dout.shape != (n, c, h // 2, w // 2):
        raise ValueError(f"dout has shape {dout.shape}, expected {(n, c, h // 2, w // 2)}.")
    # out = x_a + x_b + x_c + x_d  =>  dE/dx_a = dE/dout for every pixel of the window
    return dout.repeat(2, axis=2).repeat(2, axis=3)


def max_pool_forward(x: np.ndarray, size: int = 2, stride: int | None = None) -> tuple:
    """Max over ``size`` x ``size`` windows every ``stride`` pixels (default: stride = size).

    Returns out (N, C, Ho, Wo), Ho = (H - size) // stride + 1, and a cache. Windows may
    overlap. On ties the first maximum (row-major) wins, as with ``argmax``.

    >>> max_pool_forward(np.arange(16.0).reshape(1, 1, 4, 4), 2, 2)[0][0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    _check_nchw(x, "x")
    stride = size if stride is None else stride
    n, c, h, w = x.shape
    if h < size or w < size:
        raise ValueError(f"pool size {size} is larger than the input of shape {x.shape}.")
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    ho, wo = windows.shape[2:4]
    flat = windows.reshape(n, c, ho, wo, size * size)
    idx = flat.argmax(axis=-1)
    out = np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
    return out, (x.shape, idx, size, stride)


def max_pool_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Backward of ``max_pool_forward``: dout is routed to the winning input of each window."""
    x_shape, idx, size, stride = cache
    ho, wo = dout.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    zero = np.zeros((), dtype=dout.dtype)
    # d max_k(x_k) / d x_k = [k = argmax]; overlapping windows accumulate (+=).
    for i in range(size):
        for j in range(size):
            routed = np.where(idx == i * size + j, dout, zero)
            dx[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += routed
    return dx
