"""Regression net with L1/L2 losses and L1/L2 weight penalties, backpropagated by hand in NumPy.

Model::

    params {"W1": (D,H), "b1": (H,), "W2": (H,H), "b2": (H,), "W3": (H,H), "b3": (H,),
            "W4": (H,O), "b4": (O,)}
    batch  (x (N,D), y (N,O))
    h1  = arctan(x W1 + b1)
    h2  = h1 W2 + b2                                   identity activation
    h3  = arctan(h2 W3 + b3)
    out = h3 W4 + b4
    data term  loss="l1": mean |out - y|       loss="l2": 0.5 * mean (out - y)^2
               (mean over all N*O entries)
    penalty    reg="l1": lam * sum_i sum |W_i|  reg="l2": 0.5 * lam * sum_i sum W_i^2
               reg=None: 0;  weights W1..W4 only, never the biases
    loss = data term + penalty

|.| is not differentiable at 0; like every DL library we use the subgradient sign(0) = 0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = ["init_params", "make_batch", "loss", "loss_and_grads"]

_WEIGHTS = ("W1", "W2", "W3", "W4")


def init_params(
    rng: np.random.Generator,
    d_in: int = 8,
    hidden: int = 64,
    d_out: int = 1,
    dtype: DTypeLike = np.float64,
) -> dict:
    """Glorot-normal weights, zero biases."""
    sizes = [d_in, hidden, hidden, hidden, d_out]
    params = {}
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = (rng.standard_normal((m, n)) * np.sqrt(2.0 / (m + n))).astype(dtype)
        params[f"b{i}"] = np.zeros(n, dtype)
    return params


def make_batch(
    rng: np.random.Generator,
    n: int = 256,
    d_in: int = 8,
    d_out: int = 1,
    dtype: DTypeLike = np.float64,
) -> tuple[NDArray, NDArray]:
    """Gaussian inputs, targets sin(x R) plus a little noise."""
    x = rng.standard_normal((n, d_in))
    y = np.sin(x @ rng.standard_normal((d_in, d_out))) + 0.05 * rng.standard_normal((n, d_out))
    return x.astype(dtype), y.astype(dtype)


def _check(loss, reg):
    if loss not in ("l1", "l2"):
        raise ValueError(f'loss must be "l1" or "l2", got {loss!r}.')
    if reg not in ("l1", "l2", None):
        raise ValueError(f'reg must be "l1", "l2" or None, got {reg!r}.')


def _forward(params, x):
    a1 = x @ params["W1"] + params["b1"]
    h1 = np.arctan(a1)
    h2 = h1 @ params["W2"] + params["b2"]
    a3 = h2 @ params["W3"] + params["b3"]
    h3 = np.arctan(a3)
    out = h3 @ params["W4"] + params["b4"]
    return out, (a1, h1, h2, a3, h3)


def _penalty(params, reg, lam):
    if reg == "l1":
        return lam * sum(np.abs(params[k]).sum() for k in _WEIGHTS)
    if reg == "l2":
        return 0.5 * lam * sum((params[k] ** 2).sum() for k in _WEIGHTS)
    return 0.0


def loss(
    params: dict, batch: tuple, loss: str = "l2", reg: str | None = None, lam: float = 1e-3
) -> float:
    """Data term plus weight penalty, as in the module docstring."""
    _check(loss, reg)
    x, y = batch
    r = _forward(params, x)[0] - y
    data = np.abs(r).mean() if loss == "l1" else 0.5 * (r**2).mean()
    return data + _penalty(params, reg, lam)


def loss_and_grads(
    params: dict, batch: tuple, loss: str = "l2", reg: str | None = None, lam: float = 1e-3
) -> tuple[float, dict]:
    """Return (loss, grads) with grads shaped like params.

    >>> rng = np.random.default_rng(0)
    >>> p = init_params(rng, 3, 4, 2)
    >>> value, grads = loss_and_grads(p, make_batch(rng, 5, 3, 2), loss="l1", reg="l2")
    >>> sorted(grads) == sorted(p), grads["W4"].shape
    (True, (4, 2))
    """
    _check(loss, reg)
    x, y = batch
    out, (a1, h1, h2, a3, h3) = _forward(params, x)
    r = out - y
    # data term over all N*O entries:  d mean|r| / dr = sign(r) / (N O),  sign(0) = 0 (subgradient)
    #                                  d 0.5 mean r^2 / dr = r / (N O)
    if loss == "l1":
        value = np.abs(r).mean()
        dout = np.sign(r) / r.size
    else:
        value = 0.5 * (r**2).mean()
        dout = r / r.size
    value = value + _penalty(params, reg, lam)
    # out = h3 W4 + b4  =>  dW4 = h3^T dout, db4 = sum_n dout, dh3 = dout W4^T
    grads = {"W4": h3.T @ dout, "b4": dout.sum(axis=0)}
    # h3 = arctan(a3), arctan'(a) = 1 / (1 + a^2);  a3 = h2 W3 + b3
    da3 = (dout @ params["W4"].T) / (1 + a3**2)
    grads["W3"], grads["b3"] = h2.T @ da3, da3.sum(axis=0)
    # h2 = h1 W2 + b2 (identity activation, derivative 1)
    dh2 = da3 @ params["W3"].T
    grads["W2"], grads["b2"] = h1.T @ dh2, dh2.sum(axis=0)
    # h1 = arctan(a1);  a1 = x W1 + b1
    da1 = (dh2 @ params["W2"].T) / (1 + a1**2)
    grads["W1"], grads["b1"] = x.T @ da1, da1.sum(axis=0)
    # penalty on weights only:  d lam |W| / dW = lam sign(W) (sign(0) = 0),
    #                           d 0.5 lam W^2 / dW = lam W
    for k in _WEIGHTS:
        if reg == "l1":
            grads[k] = grads[k] + lam * np.sign(params[k])
        elif reg == "l2":
            grads[k] = grads[k] + lam * params[k]
    return value, {k: grads[k] for k in params}
