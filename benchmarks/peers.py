"""The same workloads in other AD libraries, when installed: HIPS autograd, PyTorch and JAX (CPU).

Each model is written the way a user of that library would write it (PyTorch's native
``conv2d``, ``sigmoid`` and ``cross_entropy``; autograd's NumPy wrapper; JAX's ``lax.conv``,
``lax.scan`` and ``jax.nn.log_softmax``), computing the same loss from the same parameters as
``benchmarks.manual``. ``build(peer, case, params, batch)`` converts the arrays once and
returns a function that computes ``(loss, grads)``; ``grads`` come back as NumPy pytrees so
the runner can check them too. A peer has a column only where it is importable
(``available()``); none of them is a dependency of the project.

JAX runs as its users run it: ``jax.jit(jax.value_and_grad(loss))``, compiled before timing,
each call waiting for its results (``block_until_ready``; dispatch is asynchronous), with
``jax_enable_x64`` on so float64 is float64 (float32 inputs stay float32).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable

import numpy as np

__all__ = ["PEERS", "available", "build", "set_threads"]

PEERS = ("autograd", "torch", "jax")
_A, _S = 1.7159, 2.0 / 3.0  # LeNet-5's f(a) = A tanh(S a)


def available() -> list[str]:
    """The peer libraries importable here."""
    return [p for p in PEERS if importlib.util.find_spec(p) is not None]


def set_threads(n: int, peers: tuple[str, ...] = PEERS) -> None:
    """Use ``n`` intra-op threads in PyTorch and JAX, as BLAS does for NumPy (OPENBLAS_NUM_THREADS).

    XLA's CPU client sizes its thread pool from the CPUs the process may use when JAX's
    backend starts, and has no setting for it (``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false``
    leaves the pool working in jaxlib 0.10, measured), so the backend is started here with the
    process pinned to ``n`` CPUs, then every thread is unpinned. Call this before JAX first
    runs; on systems without ``os.sched_setaffinity`` (not Linux) XLA keeps its default.
    """
    if "torch" in peers and importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(n)
    if "jax" in peers and importlib.util.find_spec("jax") is not None:
        import jax

        if not hasattr(os, "sched_setaffinity"):
            return
        cpus = os.sched_getaffinity(0)
        os.sched_setaffinity(0, sorted(cpus)[:n])
        try:
            jax.devices("cpu")  # starts the backend: its pool gets the n CPUs allowed now
        finally:
            for tid in os.listdir("/proc/self/task"):
                with contextlib.suppress(ProcessLookupError):  # a thread that just ended
                    os.sched_setaffinity(int(tid), cpus)


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


# JAX ------------------------------------------------------------------------------------------
def _jax_models() -> dict[str, Callable]:
    import jax
    import jax.numpy as jx
    from jax import lax

    def mlp(p, x, y):
        h = jx.tanh(x @ p["W1"] + p["b1"])
        h = jx.tanh(h @ p["W2"] + p["b2"])
        logp = jax.nn.log_softmax(h @ p["W3"] + p["b3"])
        return -jx.mean(jx.take_along_axis(logp, y[:, None], axis=1))

    def lenet5(p, x, labels, mask, centres, j=1.0):
        def f(a):
            return _A * jx.tanh(_S * a)

        def conv(a, w, b):  # NCHW input, OIHW kernel, valid, stride 1
            return lax.conv(a, w, (1, 1), "VALID") + b[:, None, None]

        def pool(a, q):  # trainable 2x2 sum subsampling
            n, c, h, w = a.shape
            s = a.reshape(n, c, h // 2, 2, w // 2, 2).sum((3, 5))
            return s * q["coef"][:, None, None] + q["b"][:, None, None]

        s2 = f(pool(f(conv(x, p["C1"]["w"], p["C1"]["b"])), p["S2"]))
        s4 = f(pool(f(conv(s2, p["C3"]["w"] * mask, p["C3"]["b"])), p["S4"]))
        c5 = f(conv(s4, p["C5"]["w"], p["C5"]["b"]).reshape(len(x), -1))
        f6 = f(c5 @ p["F6"]["w"] + p["F6"]["b"])
        pen = ((f6[:, None, :] - centres) ** 2).sum(2)
        neg = -pen
        m = jx.maximum(lax.stop_gradient(neg).max(1), -j)
        log_z = m + jx.log(jx.exp(-j - m) + jx.exp(neg - m[:, None]).sum(1))
        return jx.mean(jx.take_along_axis(pen, labels[:, None], axis=1)[:, 0] + log_z)

    def lstm(p, x, targets):
        cp, out = p["cell"], p["out"]
        n = x.shape[0]
        hid = cp["Wh"].shape[0]
        xa = jx.swapaxes(x, 0, 1) @ cp["Wx"] + cp["b"]  # (T, N, 4H)

        def step(carry, xa_t):
            h, c = carry
            a = xa_t + h @ cp["Wh"]
            s = jax.nn.sigmoid(a)
            c = s[:, :hid] * c + s[:, hid : 2 * hid] * jx.tanh(a[:, 2 * hid : 3 * hid])
            h = s[:, 3 * hid :] * jx.tanh(c)
            return (h, c), h

        zeros = jx.zeros((n, hid), x.dtype)
        _, hs = lax.scan(step, (zeros, zeros), xa)  # (T, N, H)
        r = hs @ out["W"] + out["b"] - jx.swapaxes(targets, 0, 1)
        return 0.5 * jx.sum(r * r) / n

    return {"mlp": mlp, "lenet5": lenet5, "lstm-hoisted": lstm}


def _build_jax(case: str, params, batch) -> Callable:
    import jax

    jax.config.update("jax_enable_x64", True)  # else every float64 array becomes float32
    args = [params, *batch]
    if case == "lenet5":
        from benchmarks.manual.lenet5 import c3_mask, rbf_centres

        dtype = params["C1"]["w"].dtype
        args += [c3_mask(dtype), rbf_centres().astype(dtype)]
    args = jax.device_put(args)  # arguments, not closed-over constants XLA could fold
    vg = jax.jit(jax.value_and_grad(_jax_models()[case]))

    def run():
        loss, grads = jax.block_until_ready(vg(*args))
        return np.asarray(loss), jax.tree_util.tree_map(np.asarray, grads)  # views, no copy

    run()  # compile once, before any timing
    return run


def build(peer: str, case: str, params, batch) -> Callable:
    """A zero-argument function computing ``(loss, grads)`` of ``case`` in ``peer``."""
    if peer == "autograd":
        return _build_autograd(case, params, batch)
    if peer == "torch":
        return _build_torch(case, params, batch)
    if peer == "jax":
        return _build_jax(case, params, batch)
    raise ValueError(f"unknown peer {peer!r}; choose from {PEERS}.")
