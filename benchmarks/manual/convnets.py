"""VGG-style convnet and convolutional autoencoder, backpropagated by hand in NumPy.

Layout NCHW, kernels (K, C, k, k), cross-correlation; conv and pooling layers from ``conv.py``.
S is the image side (a multiple of 4), all convs 3x3 with zero padding 1 unless stated.

VGG-style classifier (Simonyan & Zisserman 2015 blocks; 4 conv + 2 dense layers)::

    params {"conv1": {"w": (C1,1,3,3), "b": (C1,)}, "conv2": {"w": (C1,C1,3,3), "b": (C1,)},
            "conv3": {"w": (C2,C1,3,3), "b": (C2,)}, "conv4": {"w": (C2,C2,3,3), "b": (C2,)},
            "fc1": {"W": (C2*(S/4)^2, H), "b": (H,)}, "fc2": {"W": (H,K), "b": (K,)}}
    batch  (x (N,1,S,S), y int (N,))
    a = maxpool2x2(relu(conv2(relu(conv1(x)))))             (N,C1,S/2,S/2)
    a = maxpool2x2(relu(conv4(relu(conv3(a)))))             (N,C2,S/4,S/4)
    logits = relu(flatten(a) fc1.W + fc1.b) fc2.W + fc2.b   flatten: C-order reshape (N, -1)
    loss = mean_n softmax_cross_entropy(logits_n, y_n)

Convolutional autoencoder::

    params {"enc1": {"w": (C1,1,3,3), "b": (C1,)}, "enc2": {"w": (C2,C1,3,3), "b": (C2,)},
            "dec1": {"w": (C2,C1,4,4), "b": (C1,)}, "dec2": {"w": (C1,1,4,4), "b": (1,)}}
    batch  (x (N,1,S,S),) with x in [0, 1]
    e = relu(conv_s2(relu(conv_s2(x, enc1)), enc2))   3x3, stride 2, pad 1      (N,C2,S/4,S/4)
    d = relu(conv_transpose_s2(e, dec1))              4x4, stride 2, pad 1      (N,C1,S/2,S/2)
    xhat = sigmoid(conv_transpose_s2(d, dec2))        4x4, stride 2, pad 1      (N,1,S,S)
    loss = 0.5 * sum (xhat - x)^2 / N
    conv_transpose(z, w)[n,c,i,j] = sum_{k,p,q,a,b} z[n,k,p,q] w[k,c,a,b] [i = 2p + a - 1]
        [j = 2q + b - 1] + b[c]; w is (in, out, k, k) as in PyTorch's ConvTranspose2d.

``loss`` and ``loss_and_grads`` pick the model from the keys ("fc1" or "dec1").
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from .conv import conv2d_backward, conv2d_forward, max_pool_backward, max_pool_forward

__all__ = ["init_params", "make_batch", "loss", "loss_and_grads"]


def init_params(
    rng: np.random.Generator,
    model: str = "vgg",
    channels: tuple[int, int] = (8, 16),
    size: int = 16,
    hidden: int = 64,
    n_classes: int = 10,
    dtype: DTypeLike = np.float64,
) -> dict:
    """He-normal kernels and weights (std sqrt(2 / fan_in)), zero biases."""
    c1, c2 = channels

    def layer(shape, fan_in, key="w", n_out=None):
        w = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        return {key: w.astype(dtype), "b": np.zeros(n_out or shape[0], dtype)}

    if model == "vgg":
        flat = c2 * (size // 4) ** 2
        return {
            "conv1": layer((c1, 1, 3, 3), 9),
            "conv2": layer((c1, c1, 3, 3), 9 * c1),
            "conv3": layer((c2, c1, 3, 3), 9 * c1),
            "conv4": layer((c2, c2, 3, 3), 9 * c2),
            "fc1": layer((flat, hidden), flat, "W", hidden),
            "fc2": layer((hidden, n_classes), hidden, "W", n_classes),
        }
    if model == "autoencoder":
        # a stride-2 transposed conv with a 4x4 kernel gives each output pixel 4 taps per channel
        return {
            "enc1": layer((c1, 1, 3, 3), 9),
            "enc2": layer((c2, c1, 3, 3), 9 * c1),
            "dec1": layer((c2, c1, 4, 4), 4 * c2, n_out=c1),
            "dec2": layer((c1, 1, 4, 4), 4 * c1, n_out=1),
        }
    raise ValueError(f'model must be "vgg" or "autoencoder", got {model!r}.')


def make_batch(
    rng: np.random.Generator,
    model: str = "vgg",
    n: int = 32,
    size: int = 16,
    n_classes: int = 10,
    dtype: DTypeLike = np.float64,
) -> tuple:
    """Random images in [0, 1); vgg labels from a random linear teacher (argmax of x R)."""
    if size % 4:
        raise ValueError(f"image size must be a multiple of 4 (two 2x downsamplings), got {size}.")
    x = rng.random((n, 1, size, size))
    if model == "autoencoder":
        return (x.astype(dtype),)
    y = np.argmax((x - 0.5).reshape(n, -1) @ rng.standard_normal((size * size, n_classes)), axis=1)
    return x.astype(dtype), y


def _sigmoid(a):
    return np.exp(-np.logaddexp(0, -a))


def _cross_entropy(logits, y):
    """Mean softmax cross-entropy and its gradient (softmax - onehot) / N."""
    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    dlogits = np.exp(logp)
    dlogits[np.arange(n), y] -= 1
    return -logp[np.arange(n), y].mean(), dlogits / n


def _conv_transpose_forward(z, w, b, stride=2, pad=1):
    """Transposed conv as a stride-1 conv of the zero-dilated input with the flipped kernel.

    Dilating z by stride, padding it by k - 1 - pad and cross-correlating with
    w'[c,k] = w[k,c] flipped in space gives exactly the sum in the module docstring.
    """
    n, k, h, wd = z.shape
    ks = w.shape[2]
    zd = np.zeros((n, k, (h - 1) * stride + 1, (wd - 1) * stride + 1), z.dtype)
    zd[:, :, ::stride, ::stride] = z
    w_flip = w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
    out, cache = conv2d_forward(zd, np.ascontiguousarray(w_flip), b, stride=1, pad=ks - 1 - pad)
    return out, (cache, stride)


def _conv_transpose_backward(dout, cache):
    conv_cache, stride = cache
    dzd, dw_flip, db = conv2d_backward(dout, conv_cache)
    # zd[::s, ::s] = z, zeros elsewhere  =>  dz = dzd[::s, ::s]
    # w' = flip(w^T)  =>  dw = flip(dw')^T  (flip and transpose are their own adjoints)
    return dzd[:, :, ::stride, ::stride], dw_flip[:, :, ::-1, ::-1].transpose(1, 0, 2, 3), db


def _vgg_forward(params, x, y):
    caches, a = {}, x
    for block in (("conv1", "conv2"), ("conv3", "conv4")):
        for name in block:
            a, caches[name] = conv2d_forward(a, params[name]["w"], params[name]["b"], pad=1)
            a = np.maximum(a, 0)
            caches[name + "_relu"] = a
        a, caches[block[1] + "_pool"] = max_pool_forward(a, 2)
    flat = a.reshape(a.shape[0], -1)
    h = np.maximum(flat @ params["fc1"]["W"] + params["fc1"]["b"], 0)
    value, dlogits = _cross_entropy(h @ params["fc2"]["W"] + params["fc2"]["b"], y)
    return value, (caches, a.shape, flat, h, dlogits)


def _vgg_backward(params, state):
    caches, pooled_shape, flat, h, dlogits = state
    # logits = h fc2.W + fc2.b;  h = relu(u)  =>  du = dh [h > 0];  u = flat fc1.W + fc1.b
    grads = {"fc2": {"W": h.T @ dlogits, "b": dlogits.sum(axis=0)}}
    du = (dlogits @ params["fc2"]["W"].T) * (h > 0)
    grads["fc1"] = {"W": flat.T @ du, "b": du.sum(axis=0)}
    # flatten is a reshape: its backward reshapes back
    da = (du @ params["fc1"]["W"].T).reshape(pooled_shape)
    for block in (("conv3", "conv4"), ("conv1", "conv2")):
        # max pool routes each window's gradient to its argmax
        da = max_pool_backward(da, caches[block[1] + "_pool"])
        for name in reversed(block):
            # relu passes the gradient where its output was positive; then the conv's backward
            da = da * (caches[name + "_relu"] > 0)
            da, dw, db = conv2d_backward(da, caches[name])
            grads[name] = {"w": dw, "b": db}
    return grads


def _autoencoder_forward(params, x):
    e1, c1 = conv2d_forward(x, params["enc1"]["w"], params["enc1"]["b"], stride=2, pad=1)
    e1 = np.maximum(e1, 0)
    e2, c2 = conv2d_forward(e1, params["enc2"]["w"], params["enc2"]["b"], stride=2, pad=1)
    e2 = np.maximum(e2, 0)
    d1, c3 = _conv_transpose_forward(e2, params["dec1"]["w"], params["dec1"]["b"])
    d1 = np.maximum(d1, 0)
    s, c4 = _conv_transpose_forward(d1, params["dec2"]["w"], params["dec2"]["b"])
    xhat = _sigmoid(s)
    r = xhat - x
    value = 0.5 * (r**2).sum() / x.shape[0]
    return value, (e1, c1, e2, c2, d1, c3, c4, xhat, r)


def _autoencoder_backward(params, state):
    e1, c1, e2, c2, d1, c3, c4, xhat, r = state
    # loss = 0.5 sum r^2 / N  =>  dxhat = r / N;  xhat = sigmoid(s)  =>  ds = dxhat xhat (1 - xhat)
    ds = r / r.shape[0] * xhat * (1 - xhat)
    grads = {}
    dd1, dw, db = _conv_transpose_backward(ds, c4)
    grads["dec2"] = {"w": dw, "b": db}
    # each relu passes the gradient where its output was positive
    de2, dw, db = _conv_transpose_backward(dd1 * (d1 > 0), c3)
    grads["dec1"] = {"w": dw, "b": db}
    de1, dw, db = conv2d_backward(de2 * (e2 > 0), c2)
    grads["enc2"] = {"w": dw, "b": db}
    _, dw, db = conv2d_backward(de1 * (e1 > 0), c1)
    grads["enc1"] = {"w": dw, "b": db}
    return grads


def _model(params):
    if "fc1" in params:
        return _vgg_forward, _vgg_backward
    if "dec1" in params:
        return _autoencoder_forward, _autoencoder_backward
    raise ValueError(f'params need "fc1" (vgg) or "dec1" (autoencoder), got {sorted(params)}.')


def loss(params: dict, batch: tuple) -> float:
    """Mean cross-entropy (vgg) or reconstruction loss (autoencoder)."""
    return _model(params)[0](params, *batch)[0]


def loss_and_grads(params: dict, batch: tuple) -> tuple[float, dict]:
    """Return (loss, grads) with grads shaped like params.

    >>> rng = np.random.default_rng(0)
    >>> p = init_params(rng, "autoencoder", channels=(2, 3), size=8)
    >>> value, grads = loss_and_grads(p, make_batch(rng, "autoencoder", n=2, size=8))
    >>> grads["dec1"]["w"].shape
    (3, 2, 4, 4)
    """
    forward, backward = _model(params)
    value, state = forward(params, *batch)
    grads = backward(params, state)
    return value, {k: grads[k] for k in params}
