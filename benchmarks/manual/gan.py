"""GAN of Goodfellow et al. (2014) with MLPs, backpropagated by hand in NumPy.

Model (SPEC.md, GAN section)::

    params {"G": {"W1": (Z,Hg), "b1": (Hg,), "W2": (Hg,D), "b2": (D,)},
            "D": {"W1": (D,Hd), "b1": (Hd,), "W2": (Hd,1), "b2": (1,)}}
    batch  (x_real (N,D), z (N,Z))
    G(z)     = sigmoid(relu(z W1 + b1) W2 + b2)                          (N,D)
    logit(x) = leaky_relu(x W1 + b1, 0.2) W2 + b2                        (N,1)
    d_loss   = mean softplus(-logit(x_real)) + mean softplus(logit(G(z)))   (= -V, eq. 1)
    g_loss   = mean softplus(-logit(G(z)))     g_loss="nonsat"  (maximise log D(G(z)), Sec. 3)
             = -mean softplus(logit(G(z)))     g_loss="minimax" (minimise log(1 - D(G(z))), eq. 1)
    softplus(a) = max(a, 0) + log1p(exp(-|a|)), so that -log D(x) = softplus(-logit(x)) and
    -log(1 - D(x)) = softplus(logit(x)) never overflow.

``loss_and_grads`` returns ``((d_loss, g_loss), {"D": dd_loss/dD, "G": dg_loss/dG})``: the
discriminator gradient of d_loss with G(z) held fixed (Algorithm 1 ascends V in theta_d
only), and the generator gradient of g_loss flowing back through the frozen discriminator.
The grads pytree has the structure, shapes and dtypes of ``params``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = ["init_params", "make_batch", "loss", "loss_and_grads"]

_SLOPE = 0.2  # leaky ReLU slope of the discriminator


def init_params(
    rng: np.random.Generator,
    z_dim: int = 64,
    hidden_g: int = 128,
    data_dim: int = 784,
    hidden_d: int = 128,
    dtype: DTypeLike = np.float64,
) -> dict:
    """Glorot-normal weights, zero biases."""

    def dense(fan_in, fan_out):
        w = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))
        return w.astype(dtype), np.zeros(fan_out, dtype)

    gw1, gb1 = dense(z_dim, hidden_g)
    gw2, gb2 = dense(hidden_g, data_dim)
    dw1, db1 = dense(data_dim, hidden_d)
    dw2, db2 = dense(hidden_d, 1)
    return {
        "G": {"W1": gw1, "b1": gb1, "W2": gw2, "b2": gb2},
        "D": {"W1": dw1, "b1": db1, "W2": dw2, "b2": db2},
    }


def make_batch(
    rng: np.random.Generator,
    n: int = 64,
    data_dim: int = 784,
    z_dim: int = 64,
    dtype: DTypeLike = np.float64,
) -> tuple[NDArray, NDArray]:
    """Stand-in data in [0, 1) (like MNIST pixels) and Gaussian noise z ~ N(0, I)."""
    return rng.random((n, data_dim)).astype(dtype), rng.standard_normal((n, z_dim)).astype(dtype)


def _softplus(a):
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


def _sigmoid(a):
    # exp of -softplus(-a): never overflows, for either sign of a
    return np.exp(-_softplus(-a))


def _generator(G, z):
    a1 = z @ G["W1"] + G["b1"]
    r1 = np.maximum(a1, 0)
    x = _sigmoid(r1 @ G["W2"] + G["b2"])
    return x, (z, a1, r1, x)


def _discriminator(D, x):
    u = x @ D["W1"] + D["b1"]
    v = np.where(u > 0, u, _SLOPE * u)
    return v @ D["W2"] + D["b2"], (x, u, v)


def _discriminator_backward(D, dlogit, cache):
    """Given dL/dlogit (N,1), return (dL/dD, dL/dx)."""
    x, u, v = cache
    # logit = v W2 + b2  =>  dW2 = v^T dlogit, db2 = sum_n dlogit, dv = dlogit W2^T
    dW2 = v.T @ dlogit
    db2 = dlogit.sum(axis=0)
    dv = dlogit @ D["W2"].T
    # v = leaky_relu(u)  =>  du = dv * (1 if u > 0 else 0.2)
    du = np.where(u > 0, dv, _SLOPE * dv)
    # u = x W1 + b1  =>  dW1 = x^T du, db1 = sum_n du, dx = du W1^T
    grads = {"W1": x.T @ du, "b1": du.sum(axis=0), "W2": dW2, "b2": db2}
    return grads, du @ D["W1"].T


def _check_g_loss(g_loss):
    if g_loss not in ("nonsat", "minimax"):
        raise ValueError(f'g_loss must be "nonsat" or "minimax", got {g_loss!r}.')


def loss(params: dict, batch: tuple, g_loss: str = "nonsat") -> tuple[float, float]:
    """Return (d_loss, g_loss) as defined in the module docstring."""
    _check_g_loss(g_loss)
    x_real, z = batch
    x_fake, _ = _generator(params["G"], z)
    l_real, _ = _discriminator(params["D"], x_real)
    l_fake, _ = _discriminator(params["D"], x_fake)
    d = np.mean(_softplus(-l_real)) + np.mean(_softplus(l_fake))
    g = np.mean(_softplus(-l_fake)) if g_loss == "nonsat" else -np.mean(_softplus(l_fake))
    return d, g


def loss_and_grads(
    params: dict, batch: tuple, g_loss: str = "nonsat"
) -> tuple[tuple[float, float], dict]:
    """Return ((d_loss, g_loss), {"D": dd_loss/dD, "G": dg_loss/dG}).

    >>> rng = np.random.default_rng(0)
    >>> p = init_params(rng, 2, 3, 4, 3)
    >>> (d, g), grads = loss_and_grads(p, make_batch(rng, 5, 4, 2))
    >>> grads["G"]["W2"].shape, grads["D"]["b2"].shape
    ((3, 4), (1,))
    """
    _check_g_loss(g_loss)
    G, D = params["G"], params["D"]
    x_real, z = batch
    n = x_real.shape[0]
    x_fake, g_cache = _generator(G, z)
    l_real, real_cache = _discriminator(D, x_real)
    l_fake, fake_cache = _discriminator(D, x_fake)
    d = np.mean(_softplus(-l_real)) + np.mean(_softplus(l_fake))

    # Discriminator. d softplus(a)/da = sigmoid(a), so with the batch means
    # dd/dl_real = -sigmoid(-l_real)/N and dd/dl_fake = sigmoid(l_fake)/N.
    # G(z) is a constant here: x_fake is an input to D, not a function of D.
    gD_real, _ = _discriminator_backward(D, -_sigmoid(-l_real) / n, real_cache)
    gD_fake, _ = _discriminator_backward(D, _sigmoid(l_fake) / n, fake_cache)
    grads_D = {k: gD_real[k] + gD_fake[k] for k in gD_real}

    # Generator loss at the fake logits:
    #   nonsat:  g = mean softplus(-l)  =>  dg/dl = -sigmoid(-l)/N  (= -(1 - D(G(z)))/N)
    #   minimax: g = -mean softplus(l)  =>  dg/dl = -sigmoid(l)/N   (= -D(G(z))/N, vanishes
    #            when D confidently rejects G(z): the saturation of Sec. 3)
    if g_loss == "nonsat":
        g = np.mean(_softplus(-l_fake))
        dl_fake = -_sigmoid(-l_fake) / n
    else:
        g = -np.mean(_softplus(l_fake))
        dl_fake = -_sigmoid(l_fake) / n
    # through the frozen discriminator down to its input x_fake = G(z)
    _, dx = _discriminator_backward(D, dl_fake, fake_cache)
    z, a1, r1, x = g_cache
    # x = sigmoid(s), s = r1 W2 + b2  =>  ds = dx * x (1 - x)
    ds = dx * x * (1 - x)
    # s = r1 W2 + b2  =>  dW2 = r1^T ds, db2 = sum_n ds, dr1 = ds W2^T
    dr1 = ds @ G["W2"].T
    # r1 = relu(a1)  =>  da1 = dr1 * [a1 > 0]
    da1 = dr1 * (a1 > 0)
    # a1 = z W1 + b1  =>  dW1 = z^T da1, db1 = sum_n da1
    grads_G = {"W1": z.T @ da1, "b1": da1.sum(axis=0), "W2": r1.T @ ds, "b2": ds.sum(axis=0)}
    return (d, g), {"D": grads_D, "G": grads_G}
