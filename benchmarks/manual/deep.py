"""Highway network and residual MLP classifiers, backpropagated by hand in NumPy.

Models (rows are examples; L = depth, 3 by default)::

    batch  (x (N,D), y int (N,))
    h_0    = x W_in + b_in                      plain linear layer D -> H ("in": {"W", "b"})
    h_l    = block_l(h_{l-1}),  l = 1..L
    logits = h_L W_out + b_out                  ("out": {"W": (H,K), "b": (K,)})
    loss   = mean_n softmax_cross_entropy(logits_n, y_n)

    highway, params["highway"][l] = {"WH": (H,H), "bH": (H,), "WT": (H,H), "bT": (H,)}
        (Srivastava, Greff & Schmidhuber 2015, with carry gate C = 1 - T)
        H = tanh(h WH + bH);  T = sigmoid(h WT + bT);  block(h) = H * T + h * (1 - T)
        bT is initialised to -2 so that the blocks start by carrying their input.
    residual, params["residual"][l] = {"W1": (H,Hb), "b1": (Hb,), "W2": (Hb,H), "b2": (H,)}
        block(h) = h + relu(h W1 + b1) W2 + b2

``loss`` and ``loss_and_grads`` pick the model from the key "highway" or "residual".
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = ["init_params", "make_batch", "loss", "loss_and_grads"]


def init_params(
    rng: np.random.Generator,
    model: str = "highway",
    d_in: int = 64,
    width: int = 32,
    depth: int = 3,
    n_classes: int = 10,
    block_hidden: int | None = None,
    dtype: DTypeLike = np.float64,
) -> dict:
    """Glorot-normal weights, zero biases except the highway gate bias bT = -2.

    block_hidden is Hb of the residual blocks (default: width).
    """

    def dense(m, n):
        w = (rng.standard_normal((m, n)) * np.sqrt(2.0 / (m + n))).astype(dtype)
        return w, np.zeros(n, dtype)

    if model == "highway":
        blocks = []
        for _ in range(depth):
            (wh, bh), (wt, bt) = dense(width, width), dense(width, width)
            blocks.append({"WH": wh, "bH": bh, "WT": wt, "bT": bt - 2})
    elif model == "residual":
        hb = width if block_hidden is None else block_hidden
        blocks = []
        for _ in range(depth):
            (w1, b1), (w2, b2) = dense(width, hb), dense(hb, width)
            blocks.append({"W1": w1, "b1": b1, "W2": w2, "b2": b2})
    else:
        raise ValueError(f'model must be "highway" or "residual", got {model!r}.')
    w_in, b_in = dense(d_in, width)
    w_out, b_out = dense(width, n_classes)
    return {"in": {"W": w_in, "b": b_in}, model: blocks, "out": {"W": w_out, "b": b_out}}


def make_batch(
    rng: np.random.Generator,
    n: int = 128,
    d_in: int = 64,
    n_classes: int = 10,
    dtype: DTypeLike = np.float64,
) -> tuple[NDArray, NDArray]:
    """Gaussian inputs labelled by a random linear teacher (argmax of x R)."""
    x = rng.standard_normal((n, d_in))
    y = np.argmax(x @ rng.standard_normal((d_in, n_classes)), axis=1)
    return x.astype(dtype), y


def _model(params):
    if "highway" in params:
        return "highway"
    if "residual" in params:
        return "residual"
    raise ValueError(f'params need a "highway" or "residual" entry, got keys {sorted(params)}.')


def _sigmoid(a):
    return np.exp(-np.logaddexp(0, -a))


def _highway_forward(p, h):
    H = np.tanh(h @ p["WH"] + p["bH"])
    T = _sigmoid(h @ p["WT"] + p["bT"])
    return H * T + h * (1 - T), (h, H, T)


def _highway_backward(p, dy, cache):
    h, H, T = cache
    # y = H T + h (1 - T)  =>  dH = dy T,  dT = dy (H - h),  dh (carry path) = dy (1 - T)
    # H = tanh(aH), tanh' = 1 - H^2;  T = sigmoid(aT), sigmoid' = T (1 - T)
    daH = dy * T * (1 - H**2)
    daT = dy * (H - h) * T * (1 - T)
    # aH = h WH + bH, aT = h WT + bT: both read h, so their input gradients add to the carry
    dh = dy * (1 - T) + daH @ p["WH"].T + daT @ p["WT"].T
    grads = {"WH": h.T @ daH, "bH": daH.sum(axis=0), "WT": h.T @ daT, "bT": daT.sum(axis=0)}
    return grads, dh


def _residual_forward(p, h):
    a = h @ p["W1"] + p["b1"]
    r = np.maximum(a, 0)
    return h + r @ p["W2"] + p["b2"], (h, a, r)


def _residual_backward(p, dy, cache):
    h, a, r = cache
    # y = h + r W2 + b2  =>  dW2 = r^T dy, db2 = sum_n dy, dr = dy W2^T, identity path dh = dy
    # r = relu(a)  =>  da = dr [a > 0];  a = h W1 + b1  =>  dh += da W1^T
    da = (dy @ p["W2"].T) * (a > 0)
    grads = {"W1": h.T @ da, "b1": da.sum(axis=0), "W2": r.T @ dy, "b2": dy.sum(axis=0)}
    return grads, dy + da @ p["W1"].T


_BLOCKS = {
    "highway": (_highway_forward, _highway_backward),
    "residual": (_residual_forward, _residual_backward),
}


def _cross_entropy(logits, y):
    """Mean softmax cross-entropy and its gradient (softmax - onehot) / N."""
    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    dlogits = np.exp(logp)
    dlogits[np.arange(n), y] -= 1
    return -logp[np.arange(n), y].mean(), dlogits / n


def _forward(params, x):
    model = _model(params)
    forward = _BLOCKS[model][0]
    h = x @ params["in"]["W"] + params["in"]["b"]
    caches = []
    for p in params[model]:
        h, cache = forward(p, h)
        caches.append(cache)
    return h @ params["out"]["W"] + params["out"]["b"], (h, caches)


def loss(params: dict, batch: tuple) -> float:
    """Mean cross-entropy of the highway or residual classifier."""
    x, y = batch
    return _cross_entropy(_forward(params, x)[0], y)[0]


def loss_and_grads(params: dict, batch: tuple) -> tuple[float, dict]:
    """Return (loss, grads) with grads shaped like params.

    >>> rng = np.random.default_rng(0)
    >>> p = init_params(rng, "residual", d_in=5, width=4, n_classes=3)
    >>> value, grads = loss_and_grads(p, make_batch(rng, 6, 5, 3))
    >>> len(grads["residual"]), grads["residual"][0]["W1"].shape
    (3, (4, 4))
    """
    x, y = batch
    model = _model(params)
    backward = _BLOCKS[model][1]
    logits, (h, caches) = _forward(params, x)
    value, dlogits = _cross_entropy(logits, y)
    # logits = h_L W_out + b_out
    grads = {"out": {"W": h.T @ dlogits, "b": dlogits.sum(axis=0)}}
    dh = dlogits @ params["out"]["W"].T
    # blocks in reverse order, each maps dL/dh_l to (its param grads, dL/dh_{l-1})
    block_grads = []
    for p, cache in zip(reversed(params[model]), reversed(caches), strict=True):
        g, dh = backward(p, dh, cache)
        block_grads.append(g)
    grads[model] = block_grads[::-1]
    # h_0 = x W_in + b_in
    grads["in"] = {"W": x.T @ dh, "b": dh.sum(axis=0)}
    return value, grads
