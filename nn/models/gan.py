"""Generative adversarial nets as functions over pytrees.

Four games on one pair of networks ``params = {"G": generator, "D": discriminator}``:

- ``"gan"``: Goodfellow et al. (2014), MLPs, Algorithm 1 with ``k`` discriminator steps per
  generator step, minimax or non-saturating generator loss, all from logits (softplus).
- ``"dcgan"``: the same game with a small DCGAN-style pair (Radford et al. 2016): transposed
  convolutions, batch norm and ReLU in G; strided convolutions and leaky ReLU in D.
- ``"wgan"``: Arjovsky et al. (2017), Algorithm 1: a critic without sigmoid, its weights
  clipped to [-c, c] after each RMSProp step.
- ``"wgan-gp"``: Gulrajani et al. (2017), Algorithm 1: the critic loss adds
  ``lambda (||grad_x D(x_hat)||_2 - 1)^2`` on interpolates, so its gradient is a gradient of
  a gradient through the whole critic.

The architecture is read from the keys: an MLP ``{"W1", "b1", ..., "WL", "bL"}`` (with one
hidden layer and no batch norm, exactly the layout of ``benchmarks/manual/SPEC.md``; a G
with batch norm also has ``"bn1", ..., "bn{L-1}"``), a conv net ``{"fc", "bn0", "up1", "bn1",
"up2"}`` (G) or ``{"conv1", "conv2", "fc"}`` (D). Images are in [0, 1]: MLPs see
``(N, 784)``, conv nets ``(N, 1, 28, 28)``. Hyper-parameters are in ``CONFIGS``.

>>> cfg = config("gan", g_hidden=[8], d_hidden=[8])
>>> rng = np.random.default_rng(0)
>>> state = init_state(rng, cfg)
>>> state, metrics = train_step(state, [rng.random((4, 784))], rng, cfg)
>>> sorted(metrics)
['d_loss', 'g_loss']
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

import autodiff.numpy as anp
from autodiff import grad, tree_map, value_and_grad

from .. import init as _init
from .. import optim
from ..activations import leaky_relu, relu, sigmoid, softplus
from ..layers import (
    batch_norm,
    conv2d,
    conv_transpose2d,
    dense,
    dropout,
    init_batch_norm,
    init_conv2d,
    init_conv_transpose2d,
    init_dense,
)

__all__ = [
    "MODELS",
    "CONFIGS",
    "config",
    "optimizer",
    "init",
    "init_state",
    "sample_noise",
    "generator",
    "discriminator",
    "gradient_penalty",
    "d_loss",
    "g_loss",
    "losses",
    "loss_and_grads",
    "d_step",
    "g_step",
    "train_step",
]

MODELS = ("gan", "dcgan", "wgan", "wgan-gp")
_SLOPE = 0.2  # leaky ReLU slope of every discriminator (SPEC.md; Radford et al. 2016)
_IMAGE = (1, 28, 28)

# Hyper-parameters from Algorithm 1 of each paper (REFERENCE.md d)). The 2014 paper used SGD
# with momentum and a maxout D with dropout; here Adam(2e-4, b1 = 0.5) (Radford et al. 2016), a
# leaky-ReLU D with dropout 0.3 on its hidden units and batch norm in G's hidden layers: without
# it the MLP G collapsed to one speckled image within the first epoch (all else equal).
_GAN = {"loss": "gan", "g_loss": "nonsat", "k": 1, "noise": "uniform", "clip": 0.0, "gp": 0.0,
        "dropout": 0.3, "batch_norm": True, "opt": "adam", "lr": 2e-4, "b1": 0.5,
        "b2": 0.999}  # fmt: skip
_WGAN = {**_GAN, "loss": "wgan", "g_loss": "wgan", "k": 5, "noise": "normal", "dropout": 0.0,
         "batch_norm": False}  # fmt: skip
CONFIGS = {
    "gan": {**_GAN, "arch": "mlp"},
    "dcgan": {**_GAN, "arch": "conv", "dropout": 0.0},
    # Arjovsky et al. (2017): alpha = 5e-5, c = 0.01, m = 64, n_critic = 5, RMSProp
    "wgan": {**_WGAN, "arch": "mlp", "clip": 0.01, "opt": "rmsprop", "lr": 5e-5},
    # Gulrajani et al. (2017): lambda = 10, n_critic = 5, Adam(1e-4, b1 = 0, b2 = 0.9)
    "wgan-gp": {**_WGAN, "arch": "mlp", "gp": 10.0, "lr": 1e-4, "b1": 0.0, "b2": 0.9},
}
_SIZES = {"z_dim": 100, "batch_size": 64, "g_hidden": [256, 512], "d_hidden": [512, 256],
          "g_channels": [64, 32], "d_channels": [32, 64]}  # fmt: skip


def config(model: str, **overrides: Any) -> dict:
    """The hyper-parameters of ``model`` (a JSON-serialisable dict), updated by ``overrides``.

    >>> config("wgan-gp")["gp"], config("gan", k=2)["k"]
    (10.0, 2)
    """
    if model not in CONFIGS:
        raise ValueError(f"gan: unknown model {model!r}; choose one of {', '.join(MODELS)}.")
    cfg = {"model": model, **_SIZES, **CONFIGS[model]}
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise ValueError(f"gan.config: unknown settings {sorted(unknown)}; known: {sorted(cfg)}.")
    cfg.update(overrides)
    if cfg["g_loss"] not in ("nonsat", "minimax", "wgan") or (cfg["g_loss"] == "wgan") != (
        cfg["loss"] == "wgan"
    ):
        raise ValueError(
            f"gan.config: g_loss {cfg['g_loss']!r} does not fit loss {cfg['loss']!r}; use "
            '"nonsat" or "minimax" with the GAN loss, "wgan" with the Wasserstein one.'
        )
    return cfg


def optimizer(cfg: dict) -> optim.Optimizer:
    """The optimiser of ``cfg`` (the same for G and D, each with its own state)."""
    if cfg["opt"] == "rmsprop":
        return optim.rmsprop(cfg["lr"])
    return optim.adam(cfg["lr"], b1=cfg["b1"], b2=cfg["b2"])


# ----------------------------------------------------------------------------- networks


def _init_mlp(rng, sizes, bn=False):
    p = {}
    for i, (a, b) in enumerate(itertools.pairwise(sizes), 1):
        layer = init_dense(rng, a, b, weight_init=_init.glorot_normal)
        p[f"W{i}"], p[f"b{i}"] = layer["w"], layer["b"]
        if bn and i < len(sizes) - 1:
            p[f"bn{i}"] = init_batch_norm(b)[0]
    return p


def _depth(p):
    return sum(key.startswith("W") for key in p)


def init(rng: np.random.Generator, cfg: dict) -> dict:
    """``{"G": ..., "D": ...}`` for ``cfg["arch"]``: Glorot-normal weights, zero biases.

    >>> p = init(np.random.default_rng(0), config("gan", g_hidden=[128], d_hidden=[128]))
    >>> p["G"]["W2"].shape, p["D"]["W2"].shape
    ((128, 784), (128, 1))
    """
    d = int(np.prod(_IMAGE))
    if cfg["arch"] == "mlp":
        return {
            "G": _init_mlp(rng, [cfg["z_dim"], *cfg["g_hidden"], d], cfg["batch_norm"]),
            "D": _init_mlp(rng, [d, *cfg["d_hidden"], 1]),
        }
    if cfg["arch"] != "conv":
        raise ValueError(f'gan.init: arch must be "mlp" or "conv", got {cfg["arch"]!r}.')
    g1, g2 = cfg["g_channels"]
    d1, d2 = cfg["d_channels"]
    w = _init.glorot_normal
    G = {
        "fc": init_dense(rng, cfg["z_dim"], g1 * 7 * 7, weight_init=w),
        "bn0": init_batch_norm(g1)[0],
        "up1": init_conv_transpose2d(rng, g1, g2, 4, weight_init=w),  # 7 -> 14
        "bn1": init_batch_norm(g2)[0],
        "up2": init_conv_transpose2d(rng, g2, 1, 4, weight_init=w),  # 14 -> 28
    }
    D = {
        "conv1": init_conv2d(rng, 1, d1, 4, weight_init=w),  # 28 -> 14
        "conv2": init_conv2d(rng, d1, d2, 4, weight_init=w),  # 14 -> 7
        "fc": init_dense(rng, d2 * 7 * 7, 1, weight_init=w),
    }
    return {"G": G, "D": D}


def _bn(x, p):
    # batch statistics always (sampling too, in batches): no running averages to carry
    c = p["gamma"].shape[0]
    return batch_norm(x, p, init_batch_norm(c, p["gamma"].dtype)[1], train=True)[0]


def generator(G: dict, z):
    """Images in [0, 1] from noise z (N, Z): (N, 784) for an MLP, (N, 1, 28, 28) for a conv G.

    MLP: ReLU hidden layers (batch-normalised if G has "bn1", ...) and a sigmoid output
    (SPEC.md). Conv: dense to 7x7 maps, then two stride-2 transposed convolutions (kernel 4,
    padding 1) to 14x14 and 28x28, batch norm and ReLU between them.
    """
    if "W1" in G:
        n = _depth(G)
        h = z
        for i in range(1, n):
            h = dense(h, G[f"W{i}"], G[f"b{i}"])
            h = relu(_bn(h, G[f"bn{i}"]) if f"bn{i}" in G else h)
        return sigmoid(dense(h, G[f"W{n}"], G[f"b{n}"]))
    h = dense(z, **G["fc"])
    h = relu(_bn(anp.reshape(h, (h.shape[0], -1, 7, 7)), G["bn0"]))
    h = relu(_bn(conv_transpose2d(h, **G["up1"], stride=2, padding=1), G["bn1"]))
    return sigmoid(conv_transpose2d(h, **G["up2"], stride=2, padding=1))


def discriminator(D: dict, x, rng: np.random.Generator | None = None, rate: float = 0.0):
    """Logits (GAN) or critic values (WGAN), shape (N,), of images x.

    MLP: leaky ReLU (0.2) hidden layers, linear output. Conv: two stride-2 convolutions
    (kernel 4, padding 1) with leaky ReLU, then a dense layer. No batch norm, so each output
    depends on its own input only, as the gradient penalty requires (Gulrajani et al., Sec. 4).
    Given ``rng``, hidden units are dropped with probability ``rate`` (training, Sec. 5).
    """

    def drop(h):
        return dropout(rng, h, rate, train=rng is not None)

    if "W1" in D:
        n = _depth(D)
        h = x
        for i in range(1, n):
            h = drop(leaky_relu(dense(h, D[f"W{i}"], D[f"b{i}"]), _SLOPE))
        return dense(h, D[f"W{n}"], D[f"b{n}"])[:, 0]
    h = drop(leaky_relu(conv2d(x, **D["conv1"], stride=2, padding=1), _SLOPE))
    h = drop(leaky_relu(conv2d(h, **D["conv2"], stride=2, padding=1), _SLOPE))
    return dense(anp.reshape(h, (h.shape[0], -1)), **D["fc"])[:, 0]


def sample_noise(rng: np.random.Generator, n: int, cfg: dict) -> np.ndarray:
    """z (n, Z): U[-1, 1] (Goodfellow et al.) or N(0, I) (the WGAN papers)."""
    if cfg["noise"] == "uniform":
        return rng.uniform(-1.0, 1.0, (n, cfg["z_dim"]))
    return rng.standard_normal((n, cfg["z_dim"]))


# ------------------------------------------------------------------------------- losses


def gradient_penalty(D: dict, x_real, x_fake, eps):
    """``mean_n (||grad_x D(x_hat_n)||_2 - 1)^2``, x_hat = eps x_real + (1 - eps) x_fake.

    Gulrajani et al. (2017), Eq. (3) and Algorithm 1; ``eps`` (N,) ~ U[0, 1]. The critic
    treats samples independently, so the gradient of ``sum_n D(x_hat_n)`` holds each
    sample's own gradient. Differentiating this in ``D`` differentiates that gradient.
    """
    e = anp.reshape(eps, (-1,) + (1,) * (np.ndim(x_real) - 1))
    x_hat = e * x_real + (1 - e) * x_fake
    g = grad(lambda xh: anp.sum(discriminator(D, xh)))(x_hat)
    g = anp.reshape(g, (g.shape[0], -1))
    norm = anp.sqrt(anp.sum(g * g, axis=1))
    return anp.mean((norm - 1) ** 2)


def d_loss(D: dict, x_real, x_fake, cfg: dict, eps=None, rng=None):
    """The loss D descends, with G(z) = ``x_fake`` held fixed.

    GAN: ``mean softplus(-l_real) + mean softplus(l_fake)`` = -V(D, G) of Eq. (1), as
    -log D(x) = softplus(-logit) and -log(1 - D(x)) = softplus(logit). WGAN: ``mean f(x_fake) -
    mean f(x_real)`` (the estimate of -W), plus ``gp`` times the gradient penalty (needs eps).
    Given ``rng``, D drops units at rate ``cfg["dropout"]``.
    """
    l_real = discriminator(D, x_real, rng, cfg["dropout"])
    l_fake = discriminator(D, x_fake, rng, cfg["dropout"])
    if cfg["loss"] == "gan":
        return anp.mean(softplus(-l_real)) + anp.mean(softplus(l_fake))
    loss = anp.mean(l_fake) - anp.mean(l_real)
    if cfg["gp"]:
        loss = loss + cfg["gp"] * gradient_penalty(D, x_real, x_fake, eps)
    return loss


def g_loss(G: dict, D: dict, z, cfg: dict, rng=None):
    """The loss G descends, through the (frozen) discriminator.

    ``"nonsat"``: ``mean softplus(-l)`` = -mean log D(G(z)) (Sec. 3); ``"minimax"``:
    ``-mean softplus(l)`` = mean log(1 - D(G(z))) (Eq. 1); ``"wgan"``: ``-mean f(G(z))``.
    """
    logits = discriminator(D, generator(G, z), rng, cfg["dropout"])
    if cfg["g_loss"] == "nonsat":
        return anp.mean(softplus(-logits))
    if cfg["g_loss"] == "minimax":
        return -anp.mean(softplus(logits))
    return -anp.mean(logits)


def losses(params: dict, batch: tuple, cfg: dict) -> tuple:
    """``(d_loss, g_loss)`` on ``batch = (x_real, z)`` or ``(x_real, z, eps)`` (WGAN-GP)."""
    x_real, z, *eps = batch
    x_fake = generator(params["G"], z)
    return (
        d_loss(params["D"], x_real, x_fake, cfg, *eps),
        g_loss(params["G"], params["D"], z, cfg),
    )


def loss_and_grads(params: dict, batch: tuple, cfg: dict) -> tuple:
    """``((d_loss, g_loss), {"D": dd_loss/dD, "G": dg_loss/dG})``, as
    ``benchmarks.manual.gan.loss_and_grads`` returns them.

    >>> cfg = config("gan", g_hidden=[3], d_hidden=[3])
    >>> p = init(np.random.default_rng(0), cfg)
    >>> (d, g), grads = loss_and_grads(p, (np.ones((2, 784)), np.ones((2, 100))), cfg)
    >>> grads["G"]["W2"].shape
    (3, 784)
    """
    x_real, z, *eps = batch
    G, D = params["G"], params["D"]
    x_fake = generator(G, z)
    d, gD = value_and_grad(lambda D: d_loss(D, x_real, x_fake, cfg, *eps))(D)
    g, gG = value_and_grad(lambda G: g_loss(G, D, z, cfg))(G)
    return (d, g), {"D": gD, "G": gG}


# ----------------------------------------------------------------------------- training


def init_state(rng: np.random.Generator, cfg: dict) -> dict:
    """``{"params": {"G", "D"}, "opt": {"G", "D"}}``, fresh."""
    params = init(rng, cfg)
    opt = optimizer(cfg)
    return {"params": params, "opt": {k: opt.init(v) for k, v in params.items()}}


def d_step(state: dict, x_real: np.ndarray, rng: np.random.Generator, cfg: dict) -> tuple:
    """One discriminator (critic) update on a real batch and as many fresh samples of G.

    WGAN clips every critic parameter to [-c, c] afterwards (Arjovsky et al., Algorithm 1).
    """
    params = state["params"]
    n = len(x_real)
    x_fake = generator(params["G"], sample_noise(rng, n, cfg))
    eps = (rng.random(n) if cfg["gp"] else None,)
    loss, gD = value_and_grad(lambda D: d_loss(D, x_real, x_fake, cfg, *eps, rng))(params["D"])
    D, opt_D = optimizer(cfg).update(gD, state["opt"]["D"], params["D"])
    if cfg["clip"]:
        c = cfg["clip"]
        D = tree_map(lambda v: np.clip(v, -c, c), D)
    new = {"params": {**params, "D": D}, "opt": {**state["opt"], "D": opt_D}}
    return new, float(loss)


def g_step(state: dict, n: int, rng: np.random.Generator, cfg: dict) -> tuple:
    """One generator update on ``n`` fresh noise vectors, back through the frozen D."""
    params = state["params"]
    z = sample_noise(rng, n, cfg)
    loss, gG = value_and_grad(lambda G: g_loss(G, params["D"], z, cfg, rng))(params["G"])
    G, opt_G = optimizer(cfg).update(gG, state["opt"]["G"], params["G"])
    new = {"params": {**params, "G": G}, "opt": {**state["opt"], "G": opt_G}}
    return new, float(loss)


def train_step(
    state: dict, x_reals: Sequence[np.ndarray], rng: np.random.Generator, cfg: dict
) -> tuple:
    """Algorithm 1: one D step per real batch in ``x_reals`` (k of them), then one G step.

    Returns ``(state, {"d_loss": mean over the D steps, "g_loss": ...})``.
    """
    d_losses = []
    for x_real in x_reals:
        state, loss = d_step(state, x_real, rng, cfg)
        d_losses.append(loss)
    state, gl = g_step(state, len(x_reals[0]), rng, cfg)
    return state, {"d_loss": float(np.mean(d_losses)), "g_loss": gl}
