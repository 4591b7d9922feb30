"""AD twins of the hand derivations in ``benchmarks/manual``: the same loss from the same params.

Each function is the forward pass only, written with ``autodiff.numpy`` (and ``nn``); the
tape supplies the gradient. No derivative rules here. Models that ``nn`` already provides
(LeNet-5: ``nn.models.lenet5.loss``; the RNN cells: ``nn.models.rnn.sequence_loss``; the GAN:
``nn.models.gan``) are used from there; ``lstm_loss`` below is a second LSTM that hoists the
input projection out of the time loop, as the hand derivation does.

>>> import numpy as np
>>> from benchmarks.manual import mlp
>>> rng = np.random.default_rng(0)
>>> p, (x, y) = mlp.init_params(rng, (4, 3, 2)), mlp.make_batch(rng, 5, (4, 3, 2))
>>> bool(np.isclose(mlp_loss(p, x, y), mlp.loss(p, (x, y))))
True
"""

from __future__ import annotations

import numpy as np

import autodiff.numpy as anp
from autodiff import value_and_grad, vjp
from nn.activations import leaky_relu, relu, sigmoid, softplus
from nn.layers import conv2d, conv_transpose2d, max_pool2d
from nn.losses import softmax_cross_entropy

__all__ = [
    "cross_entropy",
    "mlp_loss",
    "gan_loss_and_grads",
    "whitening_loss",
    "regression_loss",
    "deep_loss",
    "vgg_loss",
    "autoencoder_loss",
    "dni_loss",
    "dni_train_step",
    "lstm_loss",
]


def cross_entropy(logits, y):
    """Mean softmax cross-entropy of logits (N, K) and integer labels y (N,): one primitive,
    ``nn.losses.softmax_cross_entropy``, whose rule is the hand derivations' (p - onehot) / N."""
    return softmax_cross_entropy(logits, y)


def _mlp_logits(params, x):
    n_layers = len(params) // 2
    h = x
    for layer in range(1, n_layers):
        h = anp.tanh(h @ params[f"W{layer}"] + params[f"b{layer}"])
    return h @ params[f"W{n_layers}"] + params[f"b{n_layers}"]


def mlp_loss(params, x, y):
    """``benchmarks.manual.mlp``: tanh MLP, mean softmax cross-entropy."""
    return cross_entropy(_mlp_logits(params, x), y)


# GAN ----------------------------------------------------------------------------------------
def _generator(G, z):
    return sigmoid(relu(z @ G["W1"] + G["b1"]) @ G["W2"] + G["b2"])


def _discriminator(D, x):
    return leaky_relu(x @ D["W1"] + D["b1"], 0.2) @ D["W2"] + D["b2"]


def _gan_losses(D, x_real, x_fake, g_loss):
    l_real, l_fake = _discriminator(D, x_real), _discriminator(D, x_fake)
    d = anp.mean(softplus(-l_real)) + anp.mean(softplus(l_fake))
    g = anp.mean(softplus(-l_fake)) if g_loss == "nonsat" else -anp.mean(softplus(l_fake))
    return d, g


def gan_loss_and_grads(params, x_real, z, g_loss="nonsat"):
    """``benchmarks.manual.gan``: ((d_loss, g_loss), {"D": dd/dD, "G": dg/dG}).

    One forward of G and of D on the fakes, as the hand derivation: the VJP of (d, g) in
    (D, x_fake) is pulled back twice, (1, 0) for D's gradient and (0, 1) for the fakes' one,
    which G's VJP takes down to G.
    """
    x_fake, g_vjp = vjp(lambda G: _generator(G, z), params["G"])
    (d, g), losses_vjp = vjp(lambda D, xf: _gan_losses(D, x_real, xf, g_loss), params["D"], x_fake)
    one, zero = np.ones_like(d), np.zeros_like(d)
    grad_d, _ = losses_vjp((one, zero))
    _, grad_x = losses_vjp((zero, one))
    (grad_g,) = g_vjp(grad_x)
    return (d, g), {"D": grad_d, "G": grad_g}


# Whitening ----------------------------------------------------------------------------------
def whitening_loss(params, x, y, whiten=True, eps=1e-5):
    """``benchmarks.manual.whitening``: ZCA whitening (or centring) after the first layer."""
    h0 = x @ params["W0"] + params["b0"]
    n, width = h0.shape
    c = h0 - anp.mean(h0, axis=0)
    if whiten:
        sigma = c.T @ c / n + eps * np.eye(width, dtype=x.dtype)
        lam, U = anp.linalg.eigh(sigma)
        c = c @ ((U * lam**-0.5) @ U.T)  # c Sigma^{-1/2}
    t1 = anp.tanh(anp.tanh(c) @ params["W1"] + params["b1"])
    return cross_entropy(t1 @ params["W2"] + params["b2"], y)


# Regression ---------------------------------------------------------------------------------
def regression_loss(params, x, y, loss="l2", reg=None, lam=1e-3):
    """``benchmarks.manual.regression``: arctan/identity net, L1/L2 loss, L1/L2 penalty."""
    h1 = anp.arctan(x @ params["W1"] + params["b1"])
    h2 = h1 @ params["W2"] + params["b2"]
    h3 = anp.arctan(h2 @ params["W3"] + params["b3"])
    r = h3 @ params["W4"] + params["b4"] - y
    value = anp.mean(anp.abs(r)) if loss == "l1" else 0.5 * anp.mean(r * r)
    weights = [params[k] for k in ("W1", "W2", "W3", "W4")]
    if reg == "l1":
        value = value + lam * sum(anp.sum(anp.abs(w)) for w in weights)
    elif reg == "l2":
        value = value + 0.5 * lam * sum(anp.sum(w * w) for w in weights)
    return value


# Highway and residual -----------------------------------------------------------------------
def _highway(p, h):
    H = anp.tanh(h @ p["WH"] + p["bH"])
    T = sigmoid(h @ p["WT"] + p["bT"])
    return H * T + h * (1 - T)


def _residual(p, h):
    return h + relu(h @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]


def deep_loss(params, x, y):
    """``benchmarks.manual.deep``: highway or residual blocks between two linear layers."""
    model = "highway" if "highway" in params else "residual"
    block = _highway if model == "highway" else _residual
    h = x @ params["in"]["W"] + params["in"]["b"]
    for p in params[model]:
        h = block(p, h)
    return cross_entropy(h @ params["out"]["W"] + params["out"]["b"], y)


# Convnets -----------------------------------------------------------------------------------
def vgg_loss(params, x, y):
    """``benchmarks.manual.convnets`` (vgg): two conv-conv-pool blocks, two dense layers."""
    a = x
    for block in (("conv1", "conv2"), ("conv3", "conv4")):
        for name in block:
            a = relu(conv2d(a, params[name]["w"], params[name]["b"], padding=1))
        a = max_pool2d(a, 2)
    h = relu(anp.reshape(a, (a.shape[0], -1)) @ params["fc1"]["W"] + params["fc1"]["b"])
    return cross_entropy(h @ params["fc2"]["W"] + params["fc2"]["b"], y)


def autoencoder_loss(params, x):
    """``benchmarks.manual.convnets`` (autoencoder): 0.5 sum (xhat - x)^2 / N."""
    p = params
    e = relu(conv2d(x, p["enc1"]["w"], p["enc1"]["b"], stride=2, padding=1))
    e = relu(conv2d(e, p["enc2"]["w"], p["enc2"]["b"], stride=2, padding=1))
    d = relu(conv_transpose2d(e, p["dec1"]["w"], p["dec1"]["b"], stride=2, padding=1))
    xhat = sigmoid(conv_transpose2d(d, p["dec2"]["w"], p["dec2"]["b"], stride=2, padding=1))
    r = xhat - x
    return 0.5 * anp.sum(r * r) / x.shape[0]


# Decoupled neural interfaces ----------------------------------------------------------------
def _dni_layer1(params, x):
    return anp.tanh(x @ params["W1"] + params["b1"])


def _dni_upper(params, h1, y):
    h2 = anp.tanh(h1 @ params["W2"] + params["b2"])
    return cross_entropy(h2 @ params["W3"] + params["b3"], y)


def dni_loss(params, x, y):
    """``benchmarks.manual.dni.loss``: the 3-layer tanh MLP trained by ordinary backprop."""
    return _dni_upper(params, _dni_layer1(params, x), y)


def dni_train_step(params, sg_params, batch, lr, sg_lr=None, noise=None):
    """``benchmarks.manual.dni.train_step`` with every gradient from the tape.

    Layer 1 takes the synthetic gradient delta_hat / N at once through its VJP; layers 2-3
    the true gradient; the true dL/dh1 (from the same tape) is the synthetic model's target.
    ``noise(grads) -> grads`` perturbs the network's gradients before the step.
    """
    sg_lr = lr if sg_lr is None else sg_lr
    x, y = batch
    n = x.shape[0]
    lower = {k: params[k] for k in ("W1", "b1")}
    upper = {k: params[k] for k in ("W2", "b2", "W3", "b3")}
    h1, layer1_vjp = vjp(lambda p: _dni_layer1(p, x), lower)
    delta_hat = h1 @ sg_params["Phi"] + sg_params["phi"]
    (g_lower,) = layer1_vjp(delta_hat / n)
    value, (g_upper, dh1) = value_and_grad(_dni_upper, argnums=(0, 1))(upper, h1, y)
    delta = dh1 * n  # per-example true gradient, the regression target

    def sg_loss(sg):
        err = h1 @ sg["Phi"] + sg["phi"] - delta
        return 0.5 * anp.sum(err * err) / n

    sg_value, g_sg = value_and_grad(sg_loss)(sg_params)
    grads = {**g_lower, **g_upper}
    if noise is not None:
        grads = noise(grads)
    new_params = {k: params[k] - lr * grads[k] for k in params}
    new_sg = {k: sg_params[k] - sg_lr * g_sg[k] for k in sg_params}
    na, nb = np.linalg.norm(delta_hat), np.linalg.norm(delta)
    cosine = float(np.vdot(delta_hat, delta) / (na * nb)) if na > 0 and nb > 0 else 0.0
    stats = {"loss": float(value), "sg_loss": float(sg_value), "cosine": cosine}
    return new_params, new_sg, stats


# LSTM with the input projection hoisted out of the time loop ---------------------------------
def lstm_loss(params, x, targets):
    """``benchmarks.manual.rnn`` LSTM (loss at every step), x (N, T, D), targets (N, T, O).

    Like the hand derivation: x_t Wx + b is one product for all t (time-major rows, split
    into the T steps by one ``split``), each step's gates are one sigmoid over the whole
    pre-activation (its g block unused), split into blocks, and the read-out is one product.
    The sigmoid is ``nn.activations.sigmoid`` (one primitive, the tanh form of the hand code).
    """
    cp, out = params["cell"], params["out"]
    N, T, D = x.shape
    H = cp["Wh"].shape[0]
    xt = np.ascontiguousarray(np.swapaxes(x, 0, 1)).reshape(T * N, D)
    xa = anp.split(xt @ cp["Wx"] + cp["b"], T, axis=0)  # T blocks (N, 4H)
    h = c = np.zeros((N, H), x.dtype)
    hs = []
    for t in range(T):
        a = xa[t] + h @ cp["Wh"]
        f, i, _, o = anp.split(sigmoid(a), 4, axis=1)
        c = f * c + i * anp.tanh(a[:, 2 * H : 3 * H])
        h = o * anp.tanh(c)
        hs.append(h)
    z = anp.concatenate(hs, axis=0) @ out["W"] + out["b"]  # (T N, O), time-major
    r = z - np.swapaxes(targets, 0, 1).reshape(T * N, -1)
    return 0.5 * anp.sum(r * r) / N
