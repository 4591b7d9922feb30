"""Core engine benchmarks (issue 2): per-operation overhead, large arrays, checkpointing.

Run ``python -m benchmarks.core``. Every number is a ratio against hand-written NumPy
measured in the same run (interleaved, best of several repeats).
"""

from __future__ import annotations

import argparse
import importlib.util

import numpy as np

import autodiff.numpy as anp
from autodiff import checkpoint, value_and_grad

from .timing import interleaved_times, peak_memory

# --- 1. per-operation overhead: a 2,000-op chain of sin / multiply / add on 10 elements ---


def chain_ad(x, n_ops=2000):
    for _ in range(n_ops // 3):
        x = anp.sin(x)
        x = x * 1.01
        x = x + 0.1
    return anp.sum(x)


def chain_hand(x, n_ops=2000):
    """Hand-written forward and backward of ``chain_ad``: d sin = cos, d(ax) = a."""
    saved = []
    for _ in range(n_ops // 3):
        saved.append(x)
        x = np.sin(x)
        x = x * 1.01
        x = x + 0.1
    value = np.sum(x)
    g = np.ones_like(x)
    for xi in reversed(saved):
        g = g * 1.01
        g = g * np.cos(xi)
    return value, g


def _peer_chains(n_ops):
    peers = {}
    if importlib.util.find_spec("autograd"):
        import autograd
        import autograd.numpy as agnp

        def chain_ag(x):
            for _ in range(n_ops // 3):
                x = agnp.sin(x)
                x = x * 1.01
                x = x + 0.1
            return agnp.sum(x)

        peers["autograd"] = (autograd.value_and_grad(chain_ag), lambda x: x)
    if importlib.util.find_spec("torch"):
        import torch

        def chain_torch(x):
            x = x.clone().requires_grad_(True)
            y = x
            for _ in range(n_ops // 3):
                y = torch.sin(y)
                y = y * 1.01
                y = y + 0.1
            s = y.sum()
            s.backward()
            return s, x.grad

        peers["torch"] = (chain_torch, lambda x: torch.from_numpy(x))
    return peers


def overhead(n_ops: int = 2000, repeats: int = 15) -> dict:
    x = np.linspace(0.1, 1.0, 10)
    vg = value_and_grad(lambda v: chain_ad(v, n_ops))
    np.testing.assert_allclose(vg(x)[1], chain_hand(x, n_ops)[1], rtol=1e-12)
    fns = {"hand": lambda: chain_hand(x, n_ops), "autodiff": lambda: vg(x)}
    for name, (f, conv) in _peer_chains(n_ops).items():
        xi = conv(x)
        fns[name] = lambda f=f, xi=xi: f(xi)
    t = interleaved_times(fns, repeats=repeats)
    res = {"hand_us_per_op": t["hand"] / n_ops * 1e6}
    for name, v in t.items():
        if name != "hand":
            res[f"{name}_over_hand"] = v / t["hand"]
    return res


# --- 2. large arrays: 20 elementwise ops on 2,000,000 float64 -----------------------------


def big_ad(x):
    for _ in range(4):
        x = anp.sin(x)
        x = x * 1.01
        x = anp.tanh(x)
        x = x + 0.1
        x = anp.exp(x)
    return anp.sum(x)


def big_hand(x):
    """Forward keeping only what the backward needs, then the backward, as one writes it."""
    cache = []
    for _ in range(4):
        cache.append(x)  # sin needs its input
        x = np.sin(x)
        x = x * 1.01
        x = np.tanh(x)
        cache.append(x)  # tanh needs its output
        x = x + 0.1
        x = np.exp(x)
        cache.append(x)  # exp needs its output
    value = np.sum(x)
    g = np.ones_like(x)
    while cache:
        e = cache.pop()
        g = g * e  # d exp
        t = cache.pop()
        g = g * (1 - t * t)  # d tanh
        g = g * 1.01
        s = cache.pop()
        g = g * np.cos(s)  # d sin
    return value, g


def large_arrays(n: int = 2_000_000, repeats: int = 5) -> dict:
    x = np.random.default_rng(0).uniform(-1, 1, n)
    vg = value_and_grad(big_ad)
    np.testing.assert_allclose(vg(x)[1], big_hand(x)[1], rtol=1e-10)
    t = interleaved_times({"hand": lambda: big_hand(x), "autodiff": lambda: vg(x)}, repeats)
    m_hand = peak_memory(lambda: big_hand(x))
    m_ad = peak_memory(lambda: vg(x))
    return {
        "hand_ms": t["hand"] * 1e3,
        "time_over_hand": t["autodiff"] / t["hand"],
        "hand_peak_MB": m_hand / 2**20,
        "memory_over_hand": m_ad / m_hand,
    }


# --- 3. checkpoint: memory of a deep chain with and without rematerialisation ---------------


def _block(x):
    for _ in range(10):
        x = anp.tanh(x * 1.1 + 0.1)
    return x


def checkpoint_memory(n: int = 200_000, blocks: int = 16) -> dict:
    x = np.random.default_rng(0).uniform(-1, 1, n)
    cblock = checkpoint(_block)

    def plain(v):
        for _ in range(blocks):
            v = _block(v)
        return anp.sum(v)

    def ckpt(v):
        for _ in range(blocks):
            v = cblock(v)
        return anp.sum(v)

    g1 = value_and_grad(plain)
    g2 = value_and_grad(ckpt)
    np.testing.assert_allclose(g1(x)[1], g2(x)[1], rtol=1e-12)
    m1 = peak_memory(lambda: g1(x))
    m2 = peak_memory(lambda: g2(x))
    t = interleaved_times({"plain": lambda: g1(x), "checkpoint": lambda: g2(x)}, repeats=3)
    return {
        "plain_peak_MB": m1 / 2**20,
        "checkpoint_peak_MB": m2 / 2**20,
        "memory_saved": 1 - m2 / m1,
        "time_over_plain": t["checkpoint"] / t["plain"],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    reps = 5 if args.quick else 15
    results = {
        "overhead (2,000-op chain, 10 elements)": overhead(repeats=reps),
        "large arrays (20 ops, 2e6 float64)": large_arrays(repeats=3 if args.quick else 7),
        "checkpoint (16 blocks of 30 ops, 2e5 float64)": checkpoint_memory(),
    }
    for name, res in results.items():
        print(name)
        for k, v in res.items():
            print(f"  {k:>22s}: {v:.3f}")
    return results


if __name__ == "__main__":
    main()
