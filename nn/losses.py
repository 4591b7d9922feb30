"""Losses and penalties over ``autodiff.numpy``; batch losses are means over N.

``log_softmax`` is ``autodiff.scipy.special.log_softmax``, one primitive (max-shifted, so
stable for any logit size, with the rule ``g - softmax * sum g``). Softmax cross-entropy with
integer labels is one primitive too (``OPS["nn.softmax_cross_entropy"]``), with the textbook
rule ``(softmax - onehot) / N``: one node where the composition (log-softmax, pick, mean,
negate) records four.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff.numpy as anp
from autodiff import defop, stop_gradient, tree_leaves
from autodiff.primitive import Traced
from autodiff.scipy.special import log_softmax as _log_softmax
from autodiff.scipy.special import softmax as _softmax

__all__ = [
    "l1",
    "l2",
    "mse",
    "log_softmax",
    "softmax_cross_entropy",
    "binary_cross_entropy_with_logits",
    "l1_penalty",
    "l2_penalty",
    "lenet5_map_loss",
]


def l1(pred, target):
    """Mean absolute error ``mean |pred - target|`` (derivative 0 where they are equal).

    >>> l1(np.array([1.0, -2.0]), np.array([0.0, 0.0]))
    np.float64(1.5)
    """
    return anp.mean(anp.abs(pred - target))


def mse(pred, target):
    """Mean squared error ``mean (pred - target)^2``.

    >>> mse(np.array([1.0, -2.0]), np.zeros(2))
    np.float64(2.5)
    """
    d = pred - target
    return anp.mean(d * d)


l2 = mse


def log_softmax(logits, axis: int = -1):
    """``logits - logsumexp(logits)`` along ``axis``, stable for any logit size.

    >>> np.exp(log_softmax(np.array([1000.0, 1000.0])))
    array([0.5, 0.5])
    """
    return _log_softmax(logits, axis=axis)


def softmax_cross_entropy(logits, labels):
    """Mean over the batch of ``-log softmax(logits)[label]``.

    Args:
        logits: (N, K).
        labels: integer classes (N,), or target distributions (N, K) such as one-hot rows.
            Leading batch axes beyond N work the same way; the mean runs over all of them.

    >>> softmax_cross_entropy(np.array([[0.0, 0.0]]), np.array([1]))
    np.float64(0.6931471805599453)
    """
    plain = labels if type(labels) is np.ndarray else np.asarray(stop_gradient(labels))
    if plain.dtype.kind in "iu":
        labels = plain
        if labels.shape != logits.shape[:-1]:
            raise ValueError(
                f"softmax_cross_entropy: integer labels of shape {labels.shape} do not match "
                f"logits of shape {logits.shape}; expected labels of shape {logits.shape[:-1]}."
            )
        k = logits.shape[-1]
        if labels.size and (_min(labels, axis=None) < 0 or _max(labels, axis=None) >= k):
            raise ValueError(
                f"softmax_cross_entropy: labels must be classes 0..{k - 1} for {k} logits, got "
                f"values from {labels.min()} to {labels.max()}."
            )
        # a traced call keeps the forward's log-softmax for the rule (the tape holds it)
        return _xent_int(logits, labels, res=[] if isinstance(logits, Traced) else None)
    if labels.shape != logits.shape:
        raise ValueError(
            f"softmax_cross_entropy: target distributions of shape {labels.shape} must match "
            f"logits of shape {logits.shape} (or pass integer labels)."
        )
    return -anp.mean(anp.sum(labels * log_softmax(logits, axis=-1), axis=-1))


_min, _max = np.minimum.reduce, np.maximum.reduce


def _label_entries(labels):
    """The index of each label's entry in the (M, K) rows of (..., K) logits."""
    return np.arange(labels.size), labels.ravel()


def _xent_int_fwd(logits, labels, res=None):
    logp = _log_softmax(logits, axis=-1)
    if res is not None:
        res.append(logp)
    picked = logp.reshape(-1, logp.shape[-1])[_label_entries(labels)]
    if not picked.size:
        return -np.mean(picked)  # NaN with NumPy's warning, as the mean of nothing
    return -(np.add.reduce(picked, axis=None) / picked.size)


def _onehot(labels, k, dtype):
    return np.eye(k, dtype=dtype)[labels]


def _xent_int_vjp(g, ans, logits, labels, res=None):
    # d/dlogits of mean_n -log softmax(z_n)[y_n] = (softmax(z_n) - onehot(y_n)) / N
    scale = g / labels.size
    if type(logits) is np.ndarray and (type(g) is np.ndarray or isinstance(g, np.generic)):
        # plain values (first order): the softmax, from the forward's log-softmax of these
        # same logits when it kept it (``res``), then everything in place
        if res is not None and len(res) == 1 and type(res[0]) is np.ndarray:
            p = np.exp(res[0])
        else:
            p = _log_softmax(logits, axis=-1)
            np.exp(p, out=p)
        p.reshape(-1, p.shape[-1])[_label_entries(labels)] -= 1
        p *= scale
        return p
    p = _softmax(logits, axis=-1)  # traced: written to be differentiated again
    return scale * (p - _onehot(labels, p.shape[-1], p.dtype))


def _xent_int_jvp(t, ans, logits, labels, res=None):
    rows = anp.reshape(t, (-1, t.shape[-1]))
    picked = rows[_label_entries(labels)]
    return (anp.sum(_softmax(logits, axis=-1) * t) - anp.sum(picked)) / labels.size


_xent_int = defop(
    _xent_int_fwd, name="nn.softmax_cross_entropy", vjp=(_xent_int_vjp, None),
    jvp=(_xent_int_jvp, None),
)  # fmt: skip


def binary_cross_entropy_with_logits(logits, targets):
    """Mean of ``-t log sigmoid(z) - (1 - t) log(1 - sigmoid(z))`` = ``softplus(z) - t z``.

    ``softplus`` is ``logaddexp(0, z)``, so no exponential overflows for large ``|z|``.

    >>> binary_cross_entropy_with_logits(np.array([1000.0, -1000.0]), np.array([1.0, 0.0]))
    np.float64(0.0)
    """
    return anp.mean(anp.logaddexp(0, logits) - targets * logits)


def l1_penalty(params: Any):
    """``sum |w|`` over every leaf of the pytree ``params`` (pass a sub-tree to skip biases).

    >>> l1_penalty({"w": np.array([1.0, -2.0]), "b": np.array(3.0)})
    np.float64(6.0)
    """
    return sum(anp.sum(anp.abs(w)) for w in tree_leaves(params))


def l2_penalty(params: Any):
    """``0.5 sum w^2`` over every leaf of ``params``, so its gradient is ``w`` (weight decay).

    >>> l2_penalty({"w": np.array([1.0, -2.0]), "b": np.array(3.0)})
    np.float64(7.0)
    """
    return sum(0.5 * anp.sum(w * w) for w in tree_leaves(params))


def lenet5_map_loss(penalties, labels, j: float = 1.0):
    """Discriminative criterion of LeCun et al. (1998), eq. (9), averaged over the batch.

    ``E_n = y_{D_n} + log(exp(-j) + sum_i exp(-y_i))`` with ``penalties`` y (N, K) the RBF
    outputs, ``labels`` D (N,) the correct classes and ``j`` the "rubbish class" constant.
    The log-sum-exp runs over the K + 1 terms ``{-j, -y_0, ...}`` after subtracting their
    (constant) maximum.

    >>> bool(lenet5_map_loss(np.zeros((1, 10)), np.array([3]), j=0.0) == np.log(11))
    True
    """
    labels = np.asarray(stop_gradient(labels))
    j = float(j)  # a Python float keeps float32 penalties float32 (NEP 50)
    neg = -penalties
    m = np.maximum(np.max(stop_gradient(neg), axis=1), -j)  # (N,), a constant shift
    log_z = anp.log(np.exp(-j - m) + anp.sum(anp.exp(neg - m[:, None]), axis=1)) + m
    return anp.mean(penalties[np.arange(len(labels)), labels] + log_z)
