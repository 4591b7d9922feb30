"""Evaluating GANs: the Parzen-window estimate of Goodfellow et al. (2014) and a classifier score.

Parzen window (Sec. 5, Table 1, after Breuleux et al. 2011): fit a Gaussian kernel density
``p(x) = (1/K) sum_k N(x; g_k, sigma^2 I)`` on K = 10,000 generated samples g_k, choose sigma
on a validation split, report the mean test log-likelihood and its standard error over the
test examples. The paper's MNIST figure is 225 +- 2 (REFERENCE.md d)). It is a weak measure
(Theis, van den Oord & Bethge 2016): it rewards sharp samples near the data, not coverage.

Classifier score: the share of generated digits a trained LeNet-5 (``nn.models.lenet5``)
labels with confidence above 0.9, and how the predicted classes spread over the ten digits
(histogram and entropy in bits, at most log2 10 = 3.32): a collapsed generator shows a few
tall bars and a low entropy.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import checkpoint
from ..data import lenet_input
from . import gan, lenet5

__all__ = [
    "PAPER_MNIST",
    "SIGMAS",
    "parzen_log_likelihood",
    "parzen_estimate",
    "generate",
    "load_classifier",
    "class_probabilities",
    "classifier_score",
    "evaluate",
    "report",
]

PAPER_MNIST = (225.0, 2.0)  # Goodfellow et al. (2014), Table 1, adversarial nets on MNIST
SIGMAS = np.logspace(-1, 0, 20)  # candidate windows, 0.1 .. 1 (pixels in [0, 1])


def parzen_log_likelihood(
    samples: ArrayLike, x: ArrayLike, sigmas: ArrayLike, batch_size: int = 500
) -> np.ndarray:
    """``log p_sigma(x_m)`` (S, M) for every window in ``sigmas`` (S,) and point of x (M, D).

    ``p_sigma(x) = (1/K) sum_k N(x; samples_k, sigma^2 I)`` with samples (K, D). Squared
    distances come from one matrix product per batch of x and are shared by all windows;
    the sum over k is a log-sum-exp shifted by its maximum.

    >>> float(parzen_log_likelihood(np.zeros((1, 1)), np.zeros((1, 1)), [1.0])[0, 0])
    -0.9189385332046727
    """
    mu = np.asarray(samples, np.float64).reshape(len(samples), -1)
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    sigmas = np.atleast_1d(np.asarray(sigmas, np.float64))
    k, d = mu.shape
    sq_mu = np.einsum("kd,kd->k", mu, mu)
    out = np.empty((len(sigmas), len(x)))
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        d2 = np.einsum("md,md->m", xb, xb)[:, None] + sq_mu[None, :] - 2.0 * xb @ mu.T
        d2 = np.maximum(d2, 0.0)
        for i, s in enumerate(sigmas):
            a = d2 / (-2.0 * s * s)
            m = a.max(axis=1)
            lse = m + np.log(np.exp(a - m[:, None]).sum(axis=1))
            out[i, start : start + len(xb)] = (
                lse - math.log(k) - 0.5 * d * math.log(2 * math.pi * s * s)
            )
    return out


def parzen_estimate(
    samples: ArrayLike, x_test: ArrayLike, x_val: ArrayLike, sigmas: ArrayLike = SIGMAS
) -> dict:
    """Choose sigma maximising the mean validation log-likelihood; the test mean and its SE.

    >>> rng = np.random.default_rng(0)
    >>> r = parzen_estimate(rng.random((50, 2)), rng.random((20, 2)), rng.random((20, 2)))
    >>> sorted(r)
    ['mean', 'se', 'sigma', 'validation']
    """
    sigmas = np.asarray(sigmas, np.float64)
    val = parzen_log_likelihood(samples, x_val, sigmas).mean(axis=1)
    best = int(np.argmax(val))
    ll = parzen_log_likelihood(samples, x_test, sigmas[best])[0]
    return {
        "mean": float(ll.mean()),
        "se": float(ll.std(ddof=1) / math.sqrt(len(ll))) if len(ll) > 1 else float("nan"),
        "sigma": float(sigmas[best]),
        "validation": {f"{s:.4g}": float(v) for s, v in zip(sigmas, val, strict=True)},
    }


def generate(G: dict, cfg: dict, n: int, rng: np.random.Generator, batch: int = 500) -> np.ndarray:
    """n samples (n, 784) in [0, 1], generated in batches (a conv G's batch norm sees each)."""
    out = [
        np.asarray(gan.generator(G, gan.sample_noise(rng, min(batch, n - i), cfg))).reshape(-1, 784)
        for i in range(0, n, batch)
    ]
    return np.concatenate(out)


def load_classifier(path: str | Path) -> tuple[dict, float]:
    """LeNet-5 ``params`` and its rubbish-class constant j from a checkpoint of
    ``python -m nn.lenet5 train`` (a tree holding ``"params"``, or the params themselves)."""
    tree, meta = checkpoint.load(path)
    params = tree.get("params", tree) if isinstance(tree, dict) else None
    if not isinstance(params, dict) or "C1" not in params:
        raise ValueError(
            f"load_classifier: {path} holds no LeNet-5 parameters (no 'params/C1'); pass a "
            "checkpoint written by `python -m nn.lenet5 train`."
        )
    j = meta.get("j", meta.get("config", {}).get("j", 1.0)) if isinstance(meta, dict) else 1.0
    return params, float(j)


def class_probabilities(params: dict, images: ArrayLike, j: float = 1.0, batch: int = 1000):
    """(N, 10) class probabilities of images (N, 28, 28) or (N, 784) in [0, 1].

    Modern LeNet-5: softmax of the logits. Faithful: the posterior that the loss of eq. (9)
    maximises, ``exp(-y_i) / (exp(-j) + sum_k exp(-y_k))``, so the rubbish class takes its
    share and a digit far from every RBF centre gets low confidence. As every penalty is
    >= 0, that posterior never exceeds ``1 / (1 + exp(-j))`` (0.73 for j = 1): use the modern
    variant for the "confidence > 0.9" score.
    """
    x = lenet_input(np.asarray(images).reshape(-1, 28, 28) * 255.0)
    faithful = lenet5.variant_of(params) == "faithful"
    probs = []
    for i in range(0, len(x), batch):
        z = np.asarray(lenet5.apply(params, x[i : i + batch]))
        if faithful:
            z = np.concatenate([-z, np.full((len(z), 1), -j)], axis=1)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        probs.append((z / z.sum(axis=1, keepdims=True))[:, :10])
    return np.concatenate(probs)


def _entropy_bits(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum() if counts.sum() else np.zeros(0)
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0: no "-0.0" for an empty histogram


def classifier_score(
    params: dict, images: ArrayLike, j: float = 1.0, threshold: float = 0.9
) -> dict:
    """Share of images classified with confidence > ``threshold``; class histograms and their
    entropies (bits) over all images and over the confident ones."""
    probs = class_probabilities(params, images, j)
    pred, conf = probs.argmax(axis=1), probs.max(axis=1)
    confident = conf > threshold
    hist_all = np.bincount(pred, minlength=10)
    hist_conf = np.bincount(pred[confident], minlength=10)
    return {
        "confident_share": float(confident.mean()),
        "histogram": hist_all.tolist(),
        "entropy_bits": _entropy_bits(hist_all),
        "confident_histogram": hist_conf.tolist(),
        "confident_entropy_bits": _entropy_bits(hist_conf),
    }


def evaluate(
    ckpt: str | Path,
    classifier: str | Path | None = None,
    data: str | None = None,
    n_samples: int = 10000,
    seed: int = 1,
) -> dict[str, Any]:
    """Parzen estimate (and classifier score if a LeNet-5 checkpoint is given) of a GAN checkpoint.

    The classifier score of the real test images is reported beside it as the reference.
    """
    from ..gan import load_images

    tree, meta = checkpoint.load(ckpt)
    cfg = meta["config"]
    samples = generate(tree["state"]["params"]["G"], cfg, n_samples, np.random.default_rng(seed))
    x_val = load_images(data, "validation")
    x_test = load_images(data, "test")
    result: dict[str, Any] = {
        "model": cfg["model"],
        "epochs": meta["epoch"],
        "generator_iterations": len(tree["history"]["g_loss"]),
        "n_samples": n_samples,
        "parzen": parzen_estimate(samples, x_test, x_val),
        "paper_parzen_mnist": list(PAPER_MNIST),
    }
    if classifier is not None:
        params, j = load_classifier(classifier)
        result["classifier_variant"] = lenet5.variant_of(params)
        result["classifier"] = classifier_score(params, samples, j)
        result["classifier_test_images"] = classifier_score(params, x_test, j)
    return result


def report(result: dict) -> str:
    """A few readable lines from ``evaluate``'s result."""
    p = result["parzen"]
    lines = [
        f"{result['model']}: {result['epochs']} epochs, {result['generator_iterations']} "
        f"generator iterations, {result['n_samples']} samples",
        f"Parzen log-likelihood of the test set: {p['mean']:.1f} +- {p['se']:.1f} "
        f"(sigma {p['sigma']:.3f} chosen on validation); paper (adversarial nets, MNIST): "
        f"{PAPER_MNIST[0]:.0f} +- {PAPER_MNIST[1]:.0f}",
    ]
    for key, what in (("classifier", "generated"), ("classifier_test_images", "test images")):
        if key in result:
            c = result[key]
            lines.append(
                f"LeNet-5 on {what}: {100 * c['confident_share']:.1f}% with confidence > 0.9; "
                f"classes {c['histogram']}, entropy {c['entropy_bits']:.3f} bits (max 3.322)"
            )
    if result.get("classifier_variant") == "faithful":
        lines.append("(faithful LeNet-5: its posterior is capped at 1 / (1 + exp(-j)) < 0.9)")
    if "classifier" not in result:
        lines.append("classifier score: not computed (no --classifier checkpoint)")
    return "\n".join(lines)
