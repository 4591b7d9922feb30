"""Tanh MLP with softmax cross-entropy, backpropagation derived by hand in pure NumPy.

Model (SPEC.md): h_l = tanh(h_{l-1} W_l + b_l) for the hidden layers, h_0 = x,
logits = h_{L-1} W_L + b_L, loss = mean_n softmax_cross_entropy(logits_n, y_n).
Backward is textbook backpropagation (Rumelhart, Hinton & Williams 1986): the error signal
delta_l = dE/da_l of the pre-activations a_l is sent down through the transposed weights,
  delta_{l-1} = (delta_l W_l^T) * tanh'(a_{l-1}),   dE/dW_l = h_{l-1}^T delta_l,
  dE/db_l = sum_n delta_l.
All arithmetic stays in the parameters' dtype (float32 in, float32 out).
"""

from __future__ import annotations

import numpy as np

__all__ = ["init_params", "make_batch", "loss", "loss_and_grads"]

SIZES = (784, 256, 256, 10)


def init_params(rng: np.random.Generator, sizes=SIZES, dtype=np.float64) -> dict:
    """Glorot-uniform weights U[-r, r], r = sqrt(6 / (fan_in + fan_out)), zero biases.

    Keys W1, b1, ..., WL, bL with W_l: (sizes[l-1], sizes[l]), b_l: (sizes[l],).

    >>> p = init_params(np.random.default_rng(0), sizes=(4, 3, 2))
    >>> sorted(p), p["W1"].shape, p["b2"].dtype
    (['W1', 'W2', 'b1', 'b2'], (4, 3), dtype('float64'))
    """
    if len(sizes) < 2:
        raise ValueError(f"sizes needs an input and an output size, got {sizes}.")
    params = {}
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        r = np.sqrt(6.0 / (fan_in + fan_out))
        params[f"W{layer}"] = rng.uniform(-r, r, (fan_in, fan_out)).astype(dtype)
        params[f"b{layer}"] = np.zeros(fan_out, dtype=dtype)
    return params


def make_batch(rng: np.random.Generator, n: int = 64, sizes=SIZES, dtype=np.float64) -> tuple:
    """Random batch (x (n, sizes[0]) standard normal, y int (n,) in [0, sizes[-1]))."""
    x = rng.standard_normal((n, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], size=n)
    return x, y


def _forward(params: dict, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Logits (N, K) and the layer inputs [x, h_1, ..., h_{L-1}] kept for the backward pass."""
    n_layers = len(params) // 2
    hs = [x]
    for layer in range(1, n_layers):
        hs.append(np.tanh(hs[-1] @ params[f"W{layer}"] + params[f"b{layer}"]))
    logits = hs[-1] @ params[f"W{n_layers}"] + params[f"b{n_layers}"]
    return logits, hs


def _cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and the softmax probabilities, via a stable log-sum-exp."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(z).sum(axis=1, keepdims=True))
    log_p = z - log_z
    return float(-log_p[np.arange(len(y)), y].mean()), np.exp(log_p)


def loss(params: dict, batch: tuple) -> float:
    """Mean softmax cross-entropy of the MLP on ``batch = (x (N, D), y int (N,))``."""
    x, y = batch
    return _cross_entropy(_forward(params, x)[0], y)[0]


def loss_and_grads(params: dict, batch: tuple) -> tuple[float, dict]:
    """Loss and its gradient w.r.t. every parameter (same keys, shapes and dtypes).

    >>> rng = np.random.default_rng(0)
    >>> p = init_params(rng, sizes=(4, 3, 2))
    >>> batch = make_batch(rng, 5, sizes=(4, 3, 2))
    >>> value, grads = loss_and_grads(p, batch)
    >>> value == loss(p, batch), grads["W1"].shape
    (True, (4, 3))
    """
    x, y = batch
    n = len(y)
    n_layers = len(params) // 2
    logits, hs = _forward(params, x)
    value, probs = _cross_entropy(logits, y)

    # dE/dlogits = (softmax - onehot(y)) / N  (softmax cross-entropy, averaged over the batch)
    delta = probs
    delta[np.arange(n), y] -= 1
    delta /= n
    grads = {}
    for layer in range(n_layers, 0, -1):
        h_in = hs[layer - 1]
        # dE/dW_l = h_{l-1}^T delta_l  (BP eq. for a dense layer)
        grads[f"W{layer}"] = h_in.T @ delta
        # dE/db_l = sum_n delta_l  (the bias is a weight from a unit fixed at 1)
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer > 1:
            # delta_{l-1} = (delta_l W_l^T) * tanh'(a_{l-1}),  tanh' = 1 - h_{l-1}^2
            delta = (delta @ params[f"W{layer}"].T) * (1 - h_in * h_in)
    return value, grads
