"""Decoupled neural interfaces (Jaderberg et al. 2016) on a 3-layer MLP, by hand in NumPy.

Model (the MLP of SPEC.md)::

    params    {"W1": (D,H1), "b1": (H1,), "W2": (H1,H2), "b2": (H2,), "W3": (H2,K), "b3": (K,)}
    sg_params {"Phi": (H1,H1), "phi": (H1,)}, both initialised to zero (Appendix: final SG
              layer zero, so the first synthetic gradient is 0)
    batch     (x (N,D), y int (N,))
    h1 = tanh(x W1 + b1);  h2 = tanh(h1 W2 + b2);  logits = h2 W3 + b3
    L  = mean_n l_n,  l_n = softmax_cross_entropy(logits_n, y_n)
    delta_n     = dl_n / dh1_n = N dL/dh1_n      true per-example gradient at h1     (N,H1)
    delta_hat_n = h1_n Phi + phi                 linear synthetic-gradient model   (N,H1)
    L_sg = 0.5 * sum (delta_hat - delta)^2 / N   L2 regression onto the true gradient

``train_step`` does one decoupled SGD step: layer 1 is updated at once with the synthetic
gradient, theta_1 <- theta_1 - lr * (delta_hat / N) dh1/dtheta_1; layers 2-3 with their true
gradient; the SG model by SGD on L_sg with delta held fixed. The SG model predicts the
per-example gradient so that it does not depend on the batch size.
``loss_and_grads`` is ordinary backprop of L (no synthetic gradients).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = [
    "init_params",
    "init_sg_params",
    "make_batch",
    "loss",
    "loss_and_grads",
    "true_and_synthetic_grad",
    "train_step",
]


def init_params(
    rng: np.random.Generator,
    d_in: int = 64,
    hidden: tuple[int, int] = (64, 64),
    n_classes: int = 10,
    dtype: DTypeLike = np.float64,
) -> dict:
    """Glorot-normal weights, zero biases."""
    sizes = [d_in, *hidden, n_classes]
    params = {}
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = (rng.standard_normal((m, n)) * np.sqrt(2.0 / (m + n))).astype(dtype)
        params[f"b{i}"] = np.zeros(n, dtype)
    return params


def init_sg_params(params: dict) -> dict:
    """Zero linear synthetic-gradient model for h1, matching params' width and dtype."""
    h1 = params["b1"]
    return {"Phi": np.zeros((h1.size, h1.size), h1.dtype), "phi": np.zeros_like(h1)}


def make_batch(
    rng: np.random.Generator,
    n: int = 256,
    d_in: int = 64,
    n_classes: int = 10,
    dtype: DTypeLike = np.float64,
) -> tuple[NDArray, NDArray]:
    """Gaussian inputs labelled by a random linear teacher (argmax of x R)."""
    x = rng.standard_normal((n, d_in))
    y = np.argmax(x @ rng.standard_normal((d_in, n_classes)), axis=1)
    return x.astype(dtype), y


def _layer1(params, x):
    return np.tanh(x @ params["W1"] + params["b1"])


def _upper(params, h1, y):
    """Loss of layers 2-3 given h1, their grads, and dL/dh1 by backprop."""
    n = h1.shape[0]
    h2 = np.tanh(h1 @ params["W2"] + params["b2"])
    logits = h2 @ params["W3"] + params["b3"]
    # softmax cross-entropy: dL/dlogits = (softmax - onehot) / N
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    value = -logp[np.arange(n), y].mean()
    dlogits = np.exp(logp)
    dlogits[np.arange(n), y] -= 1
    dlogits /= n
    # logits = h2 W3 + b3;  h2 = tanh(a2), tanh' = 1 - h2^2;  a2 = h1 W2 + b2
    da2 = (dlogits @ params["W3"].T) * (1 - h2**2)
    grads = {"W2": h1.T @ da2, "b2": da2.sum(axis=0), "W3": h2.T @ dlogits}
    grads["b3"] = dlogits.sum(axis=0)
    return value, grads, da2 @ params["W2"].T


def _layer1_grads(x, h1, dh1):
    # h1 = tanh(a1);  a1 = x W1 + b1
    da1 = dh1 * (1 - h1**2)
    return {"W1": x.T @ da1, "b1": da1.sum(axis=0)}


def loss(params: dict, batch: tuple) -> float:
    """Mean cross-entropy of the MLP."""
    x, y = batch
    return _upper(params, _layer1(params, x), y)[0]


def loss_and_grads(params: dict, batch: tuple) -> tuple[float, dict]:
    """Return (loss, grads) by ordinary backprop, grads shaped like params.

    >>> rng = np.random.default_rng(0)
    >>> p = init_params(rng, 5, (4, 3), 2)
    >>> value, grads = loss_and_grads(p, make_batch(rng, 6, 5, 2))
    >>> grads["W2"].shape
    (4, 3)
    """
    x, y = batch
    h1 = _layer1(params, x)
    value, grads, dh1 = _upper(params, h1, y)
    grads.update(_layer1_grads(x, h1, dh1))
    return value, {k: grads[k] for k in params}


def true_and_synthetic_grad(params: dict, sg_params: dict, batch: tuple) -> tuple[NDArray, NDArray]:
    """Return (delta, delta_hat), the true and the synthetic per-example dl_n/dh1_n, (N,H1).

    >>> rng = np.random.default_rng(0)
    >>> p = init_params(rng, 5, (4, 3), 2)
    >>> delta, delta_hat = true_and_synthetic_grad(p, init_sg_params(p), make_batch(rng, 6, 5, 2))
    >>> delta.shape, float(abs(delta_hat).max())
    ((6, 4), 0.0)
    """
    x, y = batch
    h1 = _layer1(params, x)
    delta = _upper(params, h1, y)[2] * x.shape[0]
    return delta, h1 @ sg_params["Phi"] + sg_params["phi"]


def _cosine(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(np.vdot(a, b) / (na * nb)) if na > 0 and nb > 0 else 0.0


def train_step(
    params: dict, sg_params: dict, batch: tuple, lr: float, sg_lr: float | None = None
) -> tuple[dict, dict, dict]:
    """One decoupled SGD step; returns (params, sg_params, stats), inputs left untouched.

    stats: "loss" (L), "sg_loss" (L_sg) and "cosine" (of delta_hat and delta), all measured
    before the step. sg_lr defaults to lr.

    >>> rng = np.random.default_rng(0)
    >>> p = init_params(rng, 5, (4, 3), 2)
    >>> p, sg, stats = train_step(p, init_sg_params(p), make_batch(rng, 6, 5, 2), lr=0.1)
    >>> sorted(stats)
    ['cosine', 'loss', 'sg_loss']
    """
    sg_lr = lr if sg_lr is None else sg_lr
    x, y = batch
    n = x.shape[0]
    # layer 1 sends h1 and gets back delta_hat = M(h1) at once (Sec. 2), so it updates before
    # the forward pass above it has run: theta_1 <- theta_1 - lr * (delta_hat / N) dh1/dtheta_1
    h1 = _layer1(params, x)
    delta_hat = h1 @ sg_params["Phi"] + sg_params["phi"]
    grads = _layer1_grads(x, h1, delta_hat / n)
    # layers 2-3 receive h1 and train on the true loss; their backprop gives the SG target
    value, upper_grads, dh1 = _upper(params, h1, y)
    grads.update(upper_grads)
    delta = dh1 * n
    # L_sg = 0.5 sum (delta_hat - delta)^2 / N, delta a constant target:
    #   dL_sg/ddelta_hat = (delta_hat - delta) / N;  delta_hat = h1 Phi + phi
    err = delta_hat - delta
    sg_loss = 0.5 * (err**2).sum() / n
    sg_grads = {"Phi": h1.T @ err / n, "phi": err.sum(axis=0) / n}
    new_params = {k: params[k] - lr * grads[k] for k in params}
    new_sg = {k: sg_params[k] - sg_lr * sg_grads[k] for k in sg_params}
    stats = {"loss": float(value), "sg_loss": float(sg_loss), "cosine": _cosine(delta_hat, delta)}
    return new_params, new_sg, stats
