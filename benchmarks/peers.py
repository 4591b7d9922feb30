"""The same workloads in other AD libraries, when installed: HIPS autograd and PyTorch (CPU).

Each model is written the way a user of that library would write it (PyTorch's native
``conv2d``, ``sigmoid`` and ``cross_entropy``; autograd's NumPy wrapper), computing the same
loss from the same parameters as ``benchmarks.manual``. ``build(peer, case, params, batch)``
converts the arrays once and returns a function that computes ``(loss, grads)``; ``grads``
come back as NumPy pytrees so the runner can check them too. JAX is not installed here, so
it has no column (``available()`` lists what is).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np

__all__ = ["PEERS", "available", "build", "set_threads"]

PEERS = ("autograd", "torch")
_A, _S = 1.7159, 2.0 / 3.0  # LeNet-5's f(a) = A tanh(S a)


def available() -> list[str]:
    """The peer libraries importable here."""
    return [p for p in PEERS if importlib.util.find_spec(p) is not None]


def set_threads(n: int) -> None:
    """Use ``n`` intra-op threads in PyTorch, as BLAS does for NumPy (OPENBLAS_NUM_THREADS)."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(n)


# HIPS autograd --------------------------------------------------------------------------------
def _ag_models() -> dict[str, Callable]:
    import autograd.numpy as ag
    from autograd.tracer import getval  # the plain value: a constant shift, no gradient

    def xent(logits, y):
        z = logits - np.max(getval(logits), 1, keepdims=True)
        logp = z - ag.log(ag.sum(ag.exp(z), axis=1, keepdims=True))
        return -ag.mean(logp[np.arange(len(y)), y])

    def mlp(p, x, y):
        h = ag.tanh(x @ p["W1"] + p["b1"])
        h = ag.tanh(h @ p["W2"] + p["b2"])
        return xent(h @ p["W3"] + p["b3"], y)

    def conv(x, w, b):  # valid, stride 1: im2col by stacking the kernel's shifted views
        n, c, hh, ww = x.shape
        k, _, kh, kw = w.shape
        ho, wo = hh - kh + 1, ww - kw + 1
        cols = ag.stack([x[:, :, i : i + ho, j : j + wo] for i in range(kh) for j in range(kw)], 2)
        out = ag.matmul(ag.reshape(w, (k, -1)), ag.reshape(cols, (n, c * kh * kw, ho * wo)))
        return ag.reshape(out, (n, k, ho, wo)) + ag.reshape(b, (k, 1, 1))

    def pool(x, coef, b):
        s = x[:, :, 0::2, 0::2] + x[:, :, 1::2, 0::2] + x[:, :, 0::2, 1::2] + x[:, :, 1::2, 1::2]
        return s * ag.reshape(coef, (-1, 1, 1)) + ag.reshape(b, (-1, 1, 1))

    def lenet5(p, x, labels, j=1.0):
        from benchmarks.manual.lenet5 import c3_mask, rbf_centres

        def f(a):
            return _A * ag.tanh(_S * a)

        s2 = f(pool(f(conv(x, p["C1"]["w"], p["C1"]["b"])), p["S2"]["coef"], p["S2"]["b"]))
        c3 = f(conv(s2, p["C3"]["w"] * c3_mask(x.dtype), p["C3"]["b"]))
        s4 = f(pool(c3, p["S4"]["coef"], p["S4"]["b"]))
        w5 = ag.reshape(p["C5"]["w"], (120, -1))
        c5 = f(ag.reshape(s4, (len(x), -1)) @ w5.T + p["C5"]["b"])
        f6 = f(c5 @ p["F6"]["w"] + p["F6"]["b"])
        diff = f6[:, None, :] - rbf_centres().astype(x.dtype)
        pen = ag.sum(diff * diff, axis=2)
        neg = -pen
        m = np.maximum(np.max(getval(neg), 1), -j)
        log_z = m + ag.log(np.exp(-j - m) + ag.sum(ag.exp(neg - m[:, None]), axis=1))
        return ag.mean(pen[np.arange(len(labels)), labels] + log_z)

    def lstm(p, x, targets):
        cp, out = p["cell"], p["out"]
        n, t_len, d = x.shape
        hid = cp["Wh"].shape[0]
        xt = np.ascontiguousarray(np.swapaxes(x, 0, 1)).reshape(t_len * n, d)
        xa = ag.reshape(xt @ cp["Wx"] + cp["b"], (t_len, n, 4 * hid))
        h = c = np.zeros((n, hid), x.dtype)
        hs = []
        for t in range(t_len):
            a = xa[t] + h @ cp["Wh"]
            s = 0.5 * (ag.tanh(0.5 * a) + 1)
            c = s[:, :hid] * c + s[:, hid : 2 * hid] * ag.tanh(a[:, 2 * hid : 3 * hid])
            h = s[:, 3 * hid :] * ag.tanh(c)
            hs.append(h)
        z = ag.reshape(ag.stack(hs), (t_len * n, hid)) @ out["W"] + out["b"]
        r = z - np.swapaxes(targets, 0, 1).reshape(t_len * n, -1)
        return 0.5 * ag.sum(r * r) / n

    return {"mlp": mlp, "lenet5": lenet5, "lstm-hoisted": lstm}


def _build_autograd(case: str, params, batch) -> Callable:
    import autograd

    loss = _ag_models()[case]
    vg = autograd.value_and_grad(loss)
    return lambda: vg(params, *batch)


# PyTorch --------------------------------------------------------------------------------------
def _torch_models() -> dict[str, Callable]:
    import torch
    import torch.nn.functional as F

    def mlp(p, x, y):
        h = torch.tanh(x @ p["W1"] + p["b1"])
        h = torch.tanh(h @ p["W2"] + p["b2"])
        return F.cross_entropy(h @ p["W3"] + p["b3"], y)

    def lenet5(p, x, labels, mask, centres, j=1.0):
        def f(a):
            return _A * torch.tanh(_S * a)

        def pool(a, q):  # trainable 2x2 sum subsampling
            return 4 * F.avg_pool2d(a, 2) * q["coef"][:, None, None] + q["b"][:, None, None]

        s2 = f(pool(f(F.conv2d(x, p["C1"]["w"], p["C1"]["b"])), p["S2"]))
        s4 = f(pool(f(F.conv2d(s2, p["C3"]["w"] * mask, p["C3"]["b"])), p["S4"]))
        c5 = f(F.conv2d(s4, p["C5"]["w"], p["C5"]["b"]).flatten(1))
        f6 = f(c5 @ p["F6"]["w"] + p["F6"]["b"])
        pen = ((f6[:, None, :] - centres) ** 2).sum(2)
        neg = -pen
        m = torch.clamp(neg.detach().max(1).values, min=-j)
        log_z = m + torch.log(torch.exp(-j - m) + torch.exp(neg - m[:, None]).sum(1))
        return (pen[torch.arange(len(labels)), labels] + log_z).mean()

    def lstm(p, x, targets):
        cp, out = p["cell"], p["out"]
        n, t_len, d = x.shape
        hid = cp["Wh"].shape[0]
        xa = (x.transpose(0, 1).reshape(t_len * n, d) @ cp["Wx"] + cp["b"]).view(t_len, n, -1)
        h = c = torch.zeros(n, hid, dtype=x.dtype)
        hs = []
        for t in range(t_len):
            a = xa[t] + h @ cp["Wh"]
            s = torch.sigmoid(a)
            c = s[:, :hid] * c + s[:, hid : 2 * hid] * torch.tanh(a[:, 2 * hid : 3 * hid])
            h = s[:, 3 * hid :] * torch.tanh(c)
            hs.append(h)
        z = torch.stack(hs).reshape(t_len * n, hid) @ out["W"] + out["b"]
        r = z - targets.transpose(0, 1).reshape(t_len * n, -1)
        return 0.5 * (r * r).sum() / n

    return {"mlp": mlp, "lenet5": lenet5, "lstm-hoisted": lstm}


def _build_torch(case: str, params, batch) -> Callable:
    import torch

    from autodiff import tree_flatten, tree_unflatten

    leaves, td = tree_flatten(params)
    tensors = [torch.tensor(v, requires_grad=True) for v in leaves]
    tparams = tree_unflatten(td, tensors)
    tbatch = [torch.from_numpy(np.ascontiguousarray(b)) for b in batch]
    extra = []
    if case == "lenet5":
        from benchmarks.manual.lenet5 import c3_mask, rbf_centres

        dtype = leaves[0].dtype
        extra = [torch.from_numpy(c3_mask(dtype)), torch.from_numpy(rbf_centres().astype(dtype))]
    loss_fn = _torch_models()[case]

    def run():
        loss = loss_fn(tparams, *tbatch, *extra)
        grads = torch.autograd.grad(loss, tensors)
        return loss.detach().numpy(), tree_unflatten(td, [g.numpy() for g in grads])

    return run


def build(peer: str, case: str, params, batch) -> Callable:
    """A zero-argument function computing ``(loss, grads)`` of ``case`` in ``peer``."""
    if peer == "autograd":
        return _build_autograd(case, params, batch)
    if peer == "torch":
        return _build_torch(case, params, batch)
    raise ValueError(f"unknown peer {peer!r}; choose from {PEERS}.")
