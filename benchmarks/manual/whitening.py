"""Classifier with a batch ZCA-whitening layer, backpropagated by hand in NumPy.

Model (rows are examples; batch statistics, no running averages)::

    params {"W0": (D,H0), "b0": (H0,), "W1": (H0,H1), "b1": (H1,), "W2": (H1,K), "b2": (K,)}
    batch  (x (N,D), y int (N,))
    h0     = x W0 + b0                                          (N,H0)
    c      = h0 - mean_n h0                                     centring
    Sigma  = c^T c / N + eps I                                  (H0,H0), eps = 1e-5 default
    Sigma  = U diag(lam) U^T                                    numpy.linalg.eigh
    w      = c U diag(lam^-1/2) U^T                             ZCA whitening (whiten=True)
    w      = c                                                  centring only (whiten=False)
    logits = tanh(tanh(w) W1 + b1) W2 + b2
    loss   = mean_n softmax_cross_entropy(logits_n, y_n)

This is the whitening of Decorrelated Batch Normalization (Huang et al. 2018) without the
learned scale/shift and with a single group. The input x is data, so to make the gradient run
through the mean, the covariance and the eigendecomposition the whitening sits after the first
dense layer, not on x. Centring removes b0, so dloss/db0 is exactly 0 (kept for a fixed pytree).
The eigen gradient divides by lam_i - lam_j: it needs N > H0 and distinct eigenvalues.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = ["init_params", "make_batch", "loss", "loss_and_grads"]


def init_params(
    rng: np.random.Generator,
    d_in: int = 64,
    width: int = 16,
    hidden: int = 64,
    n_classes: int = 10,
    dtype: DTypeLike = np.float64,
) -> dict:
    """Glorot-normal weights, zero biases; width = H0 is the whitened layer."""
    sizes = [d_in, width, hidden, n_classes]
    params = {}
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        params[f"W{i}"] = (rng.standard_normal((m, n)) * np.sqrt(2.0 / (m + n))).astype(dtype)
        params[f"b{i}"] = np.zeros(n, dtype)
    return params


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


def _forward(params, x, whiten, eps):
    h0 = x @ params["W0"] + params["b0"]
    n, width = h0.shape
    c = h0 - h0.mean(axis=0)
    if whiten:
        if n <= width:
            raise ValueError(
                f"ZCA whitening of width {width} needs a batch of more than {width} rows, "
                f"got N={n}. Use a larger batch or whiten=False."
            )
        sigma = c.T @ c / n + eps * np.eye(width, dtype=c.dtype)
        lam, U = np.linalg.eigh(sigma)
        s = lam**-0.5
        M = (U * s) @ U.T  # U diag(s) U^T = Sigma^-1/2
        w = c @ M
    else:
        lam = U = s = M = None
        w = c
    t0 = np.tanh(w)
    t1 = np.tanh(t0 @ params["W1"] + params["b1"])
    logits = t1 @ params["W2"] + params["b2"]
    return logits, (x, c, lam, U, s, M, t0, t1)


def _cross_entropy(logits, y):
    """Mean softmax cross-entropy and its gradient (softmax - onehot) / N."""
    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    dlogits = np.exp(logp)
    dlogits[np.arange(n), y] -= 1
    return -logp[np.arange(n), y].mean(), dlogits / n


def loss(params: dict, batch: tuple, whiten: bool = True, eps: float = 1e-5) -> float:
    """Mean cross-entropy of the whitened (or only centred) classifier."""
    x, y = batch
    logits, _ = _forward(params, x, whiten, eps)
    return _cross_entropy(logits, y)[0]


def _eigh_backward(dU, dlam, lam, U):
    """dL/dSigma from dL/dU and dL/dlam for Sigma = U diag(lam) U^T symmetric.

    Proposition 2 of Ionescu, Vantzos & Sminchisescu (2015), "Matrix backpropagation for
    deep networks with structured layers" (the same result as Giles 2008, Sec. 3.1):
        dL/dSigma = U ( sym(K^T o (U^T dL/dU)) + diag(dL/dlam) ) U^T,
        K_ij = 1 / (lam_i - lam_j) for i != j, K_ii = 0,  sym(A) = (A + A^T) / 2.
    """
    diff = lam[:, None] - lam[None, :]
    np.fill_diagonal(diff, np.inf)  # K_ii = 1/inf = 0
    K = 1 / diff
    inner = K.T * (U.T @ dU)
    inner = (inner + inner.T) / 2 + np.diag(dlam)
    return U @ inner @ U.T


def loss_and_grads(
    params: dict, batch: tuple, whiten: bool = True, eps: float = 1e-5
) -> tuple[float, dict]:
    """Return (loss, grads) with grads shaped like params.

    >>> rng = np.random.default_rng(0)
    >>> p = init_params(rng, 5, 3, 4, 2)
    >>> value, grads = loss_and_grads(p, make_batch(rng, 20, 5, 2))
    >>> grads["W0"].shape, float(abs(grads["b0"]).max()) < 1e-12
    ((5, 3), True)
    """
    x, y = batch
    n = x.shape[0]
    logits, (x, c, lam, U, s, M, t0, t1) = _forward(params, x, whiten, eps)
    value, dlogits = _cross_entropy(logits, y)
    # logits = t1 W2 + b2
    dW2, db2 = t1.T @ dlogits, dlogits.sum(axis=0)
    # t1 = tanh(z1), tanh' = 1 - tanh^2;  z1 = t0 W1 + b1
    dz1 = (dlogits @ params["W2"].T) * (1 - t1**2)
    dW1, db1 = t0.T @ dz1, dz1.sum(axis=0)
    # t0 = tanh(w)
    dw = (dz1 @ params["W1"].T) * (1 - t0**2)
    if whiten:
        # w = c M with M = U diag(s) U^T symmetric  =>  dc = dw M^T = dw M,  dM = c^T dw
        dc = dw @ M
        dM = c.T @ dw
        # dM = dU S U^T + U dS U^T + U S dU^T  =>  dL/dU = (dM + dM^T) U S,  dL/ds = diag(U^T dM U)
        dU = (dM + dM.T) @ U * s
        ds = np.einsum("ij,ik,kj->j", U, dM, U)
        # s = lam^-1/2  =>  dlam = ds * (-1/2) lam^-3/2
        dlam = -0.5 * ds * s**3
        dsigma = _eigh_backward(dU, dlam, lam, U)
        # Sigma = c^T c / N + eps I  =>  dc += c (dSigma + dSigma^T) / N
        dc = dc + c @ (dsigma + dsigma.T) / n
    else:
        dc = dw
    # c = h0 - mean_n h0  =>  dh0 = dc - mean_n dc  (so db0 = sum_n dh0 = 0)
    dh0 = dc - dc.mean(axis=0)
    # h0 = x W0 + b0
    dW0, db0 = x.T @ dh0, dh0.sum(axis=0)
    grads = {"W0": dW0, "b0": db0, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    return value, grads
