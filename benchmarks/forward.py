"""Forward vs reverse mode (issue 3): full Jacobians and Hessian-vector products.

``python -m benchmarks.forward [--plot PATH]``. For f: R^n -> R^m, ``jacfwd`` pushes all
n input directions at once (cost ~ n), ``jacobian`` sweeps the tape once per output
(cost ~ m); forward mode should win when n << m and reverse when n >> m.
"""

from __future__ import annotations

import argparse

import numpy as np

import autodiff.numpy as anp
from autodiff import grad, hvp, jacfwd, jacobian

from .timing import interleaved_times


def make_f(n: int, m: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(size=(m, n)) / np.sqrt(n)
    W2 = rng.normal(size=(m, m)) / np.sqrt(m)
    c = rng.normal(size=m)

    def f(x):
        h = anp.tanh(W1 @ x)
        return anp.sin(W2 @ h) * c + h

    return f, rng.normal(size=n)


def jacobian_times(n: int, m: int, repeats: int = 3) -> dict:
    f, x = make_f(n, m)
    jf, jr = jacfwd(f), jacobian(f)
    np.testing.assert_allclose(jf(x), jr(x), rtol=1e-10, atol=1e-12)
    t = interleaved_times({"jacfwd": lambda: jf(x), "jacobian": lambda: jr(x)}, repeats)
    return {"n": n, "m": m, "jacfwd_ms": t["jacfwd"] * 1e3, "jacobian_ms": t["jacobian"] * 1e3}


def hvp_cost(n: int = 500, repeats: int = 7) -> dict:
    rng = np.random.default_rng(1)
    W = rng.normal(size=(n, n)) / np.sqrt(n)
    b = rng.normal(size=n)

    def loss(x):
        h = anp.tanh(W @ x + b)
        return anp.sum(anp.log1p(anp.exp(W @ h))) + 0.5 * anp.sum(x * x)

    x, v = rng.normal(size=n), rng.normal(size=n)
    g = grad(loss)
    t = interleaved_times({"grad": lambda: g(x), "hvp": lambda: hvp(loss, (x,), (v,))}, repeats)
    return {
        "grad_ms": t["grad"] * 1e3,
        "hvp_ms": t["hvp"] * 1e3,
        "hvp_over_grad": t["hvp"] / t["grad"],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plot", default=None, help="write the crossover plot (PNG) here")
    args = parser.parse_args(argv)
    wide, tall = jacobian_times(4, 1000), jacobian_times(1000, 4)
    for r in (wide, tall):
        print(
            f"n={r['n']:>4}, m={r['m']:>4}: jacfwd {r['jacfwd_ms']:8.2f} ms, "
            f"jacobian {r['jacobian_ms']:8.2f} ms, jacobian/jacfwd "
            f"{r['jacobian_ms'] / r['jacfwd_ms']:.3g}"
        )
    h = hvp_cost()
    print(f"hvp {h['hvp_ms']:.2f} ms vs grad {h['grad_ms']:.2f} ms: {h['hvp_over_grad']:.2f}x")
    sweep = [jacobian_times(n, 64, repeats=2) for n in (4, 8, 16, 32, 64, 128, 256, 512)]
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ns = [s["n"] for s in sweep]
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.loglog(ns, [s["jacfwd_ms"] for s in sweep], "o-", label="jacfwd (forward)")
        ax.loglog(ns, [s["jacobian_ms"] for s in sweep], "s-", label="jacobian (reverse)")
        ax.axvline(64, color="grey", ls=":", label="n = m = 64")
        ax.set_xlabel("inputs n (outputs m = 64)")
        ax.set_ylabel("time for the full Jacobian (ms)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
    return {"wide": wide, "tall": tall, "hvp": h, "sweep": sweep}


if __name__ == "__main__":
    main()
