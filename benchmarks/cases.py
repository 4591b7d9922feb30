"""The benchmark cases: each hand derivation of ``benchmarks/manual`` paired with its AD twin.

A ``Case`` builds parameters and a batch at a given size and dtype, and exposes the four
functions the runner times: the hand-derived gradient, the AD gradient, and the forward pass
of each (the AD forward is the same ``autodiff.numpy`` code on plain arrays, no tape).
Sizes: ``"tiny"`` for tests, ``"bench"`` the sizes of issue 7 (MLP 784-256-256-10 and
LeNet-5 at batch 64; LSTM input 32, hidden 128, batch 32, T = 50).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autodiff import value_and_grad
from benchmarks import models
from benchmarks.manual import convnets, deep, dni, gan, lenet5, mlp, regression, rnn, whitening
from benchmarks.peers import PEERS as PEER_NAMES

__all__ = ["Case", "CASES", "QUICK", "get_case"]


@dataclass(frozen=True)
class Case:
    """One model: ``make(rng, dtype, size) -> (params, batch)`` and the functions to time.

    ``hand``/``ad`` map ``(params, batch)`` to ``(loss, grads)``; ``hand_forward`` and
    ``ad_forward`` to the loss. ``target`` is issue 7's bound on AD / hand gradient time.
    ``time_axis`` marks sequence models for the derivation checker.
    """

    name: str
    what: str
    make: Callable[[np.random.Generator, Any, str], tuple]
    hand: Callable
    hand_forward: Callable
    ad: Callable
    ad_forward: Callable
    target: float | None = None
    time_axis: int | None = None
    peers: tuple[str, ...] = field(default=())  # the peers of benchmarks.peers that run it


def _from_loss(loss: Callable) -> tuple[Callable, Callable]:
    """(ad, ad_forward) for a loss ``loss(params, *batch)``."""
    vg = value_and_grad(loss)
    return (lambda p, b: vg(p, *b)), (lambda p, b: loss(p, *b))


def _dense_case(name, what, module, init_kw, batch_kw, loss, hand_kw=None, **case_kw) -> Case:
    """A case whose manual module has init_params(rng, **kw) and make_batch(rng, **kw)."""
    hand_kw = hand_kw or {}
    ad, ad_forward = _from_loss(functools.partial(loss, **hand_kw) if hand_kw else loss)

    def make(rng, dtype, size):
        params = module.init_params(rng, dtype=dtype, **init_kw[size])
        return params, module.make_batch(rng, dtype=dtype, **batch_kw[size])

    return Case(
        name,
        what,
        make,
        lambda p, b: module.loss_and_grads(p, b, **hand_kw),
        lambda p, b: module.loss(p, b, **hand_kw),
        ad,
        ad_forward,
        **case_kw,
    )


# MLP ----------------------------------------------------------------------------------------
_MLP = _dense_case(
    "mlp", "MLP 784-256-256-10, tanh, softmax CE, batch 64", mlp,
    {"tiny": {"sizes": (12, 8, 6, 4)}, "bench": {}},
    {"tiny": {"n": 5, "sizes": (12, 8, 6, 4)}, "bench": {"n": 64}},
    models.mlp_loss, target=1.10, peers=PEER_NAMES,
)  # fmt: skip


# LeNet-5 (nn.models.lenet5) ------------------------------------------------------------------
def _lenet_make(rng, dtype, size):
    return lenet5.init_params(rng, dtype=dtype), lenet5.make_batch(
        rng, 3 if size == "tiny" else 64, dtype=dtype
    )


@functools.cache
def _lenet_ad():
    from nn.models import lenet5 as nn_lenet5

    vg = value_and_grad(nn_lenet5.loss)
    return (lambda p, b: vg(p, b)), nn_lenet5.loss


_LENET = Case(
    "lenet5", "LeNet-5 (1998), faithful: C3 table, RBF, eq. (9) loss; batch 64",
    _lenet_make, lenet5.loss_and_grads, lenet5.loss,
    lambda p, b: _lenet_ad()[0](p, b), lambda p, b: _lenet_ad()[1](p, b),
    target=1.10, peers=PEER_NAMES,
)  # fmt: skip


# RNNs ---------------------------------------------------------------------------------------
_RNN_SIZES = {"tiny": dict(N=3, T=5, D=4, H=5, O=2), "bench": dict(N=32, T=50, D=32, H=128, O=16)}


def _rnn_make(cell, last_only=False):
    def make(rng, dtype, size):
        s = dict(_RNN_SIZES[size])
        if cell == "plusrnn":
            s["D"] = s["H"]
        if cell == "convugrnn":
            s = {"tiny": dict(N=2, T=3, D=2, H=3, O=0), "bench": dict(N=8, T=10, D=2, H=8, O=0)}
            s = s[size]
        params = rnn.init_params(rng, cell, s["D"], s["H"], s["O"], dtype=dtype)
        spatial = {"tiny": (5, 5), "bench": (12, 12)}[size]
        batch = rnn.make_batch(rng, cell, s["N"], s["T"], s["D"], s["H"], s["O"], dtype=dtype,
                               last_only=last_only, spatial=spatial)  # fmt: skip
        return params, batch

    return make


def _rnn_case(cell, last_only=False, **kw) -> Case:
    from nn.models.rnn import sequence_loss

    def loss(p, x, t):
        return sequence_loss(p, x, t, cell, last_only=last_only)

    ad, ad_forward = _from_loss(loss)
    name = cell + ("-last" if last_only else "")
    return Case(
        name,
        f"{cell} RNN (nn.models.rnn), loss at {'the last step' if last_only else 'every step'}"
        + ("" if cell == "convugrnn" else "; input 32, hidden 128, batch 32, T 50"),
        _rnn_make(cell, last_only),
        lambda p, b: rnn.loss_and_grads(p, b, cell, last_only=last_only),
        lambda p, b: rnn.loss(p, b, cell, last_only=last_only),
        ad,
        ad_forward,
        time_axis=1,
        **kw,
    )


_LSTM = _rnn_case("lstm", target=1.3)
_ad, _ad_fwd = _from_loss(models.lstm_loss)
_LSTM_HOISTED = Case(
    "lstm-hoisted", "LSTM as benchmarks.models.lstm_loss: x Wx for all t in one product",
    _rnn_make("lstm"), _LSTM.hand, _LSTM.hand_forward, _ad, _ad_fwd,
    target=1.3, time_axis=1, peers=PEER_NAMES,
)  # fmt: skip


# GAN ----------------------------------------------------------------------------------------
def _gan_make(rng, dtype, size):
    dims = {"tiny": (3, 4, 6, 5), "bench": (64, 128, 784, 128)}[size]
    params = gan.init_params(rng, *dims, dtype=dtype)
    n = {"tiny": 4, "bench": 64}[size]
    return params, gan.make_batch(rng, n, dims[2], dims[0], dtype=dtype)


_GAN = Case(
    "gan", "GAN (2014) MLPs: D grads of d_loss, G grads of g_loss through D; batch 64",
    _gan_make, gan.loss_and_grads, gan.loss,
    lambda p, b: models.gan_loss_and_grads(p, *b),
    lambda p, b: models._gan_losses(p["D"], b[0], models._generator(p["G"], b[1]), "nonsat"),
)  # fmt: skip

# Whitening, regression, deep nets, DNI ------------------------------------------------------
_WHITEN = [
    _dense_case(
        name, what, whitening,
        {"tiny": dict(d_in=6, width=3, hidden=5, n_classes=3), "bench": {}},
        {"tiny": dict(n=12, d_in=6, n_classes=3), "bench": {}},
        models.whitening_loss, hand_kw={"whiten": whiten},
    )
    for name, what, whiten in (
        ("zca", "ZCA-whitening layer (gradient through eigh), 64-16-64-10, batch 256", True),
        ("centring", "centring layer, 64-16-64-10, batch 256", False),
    )
]  # fmt: skip

_REGRESSION = [
    _dense_case(
        f"regress-{loss}-{reg or 'none'}",
        f"4-layer arctan/identity regression, {loss.upper()} loss, "
        f"{reg.upper() + ' penalty' if reg else 'no penalty'}; batch 256",
        regression,
        {"tiny": dict(d_in=3, hidden=5, d_out=2), "bench": {}},
        {"tiny": dict(n=6, d_in=3, d_out=2), "bench": {}},
        models.regression_loss, hand_kw={"loss": loss, "reg": reg},
    )
    for loss in ("l1", "l2")
    for reg in (None, "l1", "l2")
]  # fmt: skip

_DEEP = [
    _dense_case(
        model, f"{model} network, 3 blocks of width 32; batch 128", deep,
        {"tiny": dict(model=model, d_in=5, width=4, n_classes=3), "bench": dict(model=model)},
        {"tiny": dict(n=6, d_in=5, n_classes=3), "bench": {}},
        models.deep_loss,
    )
    for model in ("highway", "residual")
]  # fmt: skip

_CONV = [
    _dense_case(
        model, what, convnets,
        {"tiny": dict(model=model, channels=(2, 3), size=8, hidden=5, n_classes=3),
         "bench": dict(model=model)},
        {"tiny": dict(model=model, n=2, size=8, n_classes=3), "bench": dict(model=model)},
        loss,
    )
    for model, what, loss in (
        ("vgg", "VGG-style convnet: 4 conv 3x3 + 2 max-pool + 2 dense, 16x16, batch 32",
         models.vgg_loss),
        ("autoencoder", "conv autoencoder: 2 strided convs, 2 transposed convs, 16x16, batch 32",
         models.autoencoder_loss),
    )
]  # fmt: skip

_DNI = _dense_case(
    "dni", "DNI's 3-layer tanh MLP 64-64-64-10 (ordinary backprop); batch 256", dni,
    {"tiny": dict(d_in=5, hidden=(4, 3), n_classes=3), "bench": {}},
    {"tiny": dict(n=6, d_in=5, n_classes=3), "bench": {}},
    models.dni_loss,
)  # fmt: skip

CASES: dict[str, Case] = {
    c.name: c
    for c in [
        _MLP,
        _LENET,
        _LSTM,
        _LSTM_HOISTED,
        *[_rnn_case(cell) for cell in ("vanilla", "gru", "ugrnn", "plusrnn", "convugrnn")],
        _rnn_case("lstm", last_only=True),
        _GAN,
        *_WHITEN,
        *_REGRESSION,
        *_DEEP,
        *_CONV,
        _DNI,
    ]
}

# --quick runs one case of each family; --full runs all of CASES
QUICK = ("mlp", "lenet5", "lstm", "lstm-hoisted", "gru", "gan", "zca", "regress-l1-l2",
         "highway", "residual", "vgg", "autoencoder", "dni")  # fmt: skip


def get_case(name: str) -> Case:
    if name not in CASES:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(CASES)}.")
    return CASES[name]
