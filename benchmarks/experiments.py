"""Reproductions of the "only NumPy" tutorials' experiments, with the tape doing the gradients.

``python -m benchmarks.experiments optimizers|regression|dni [--steps N] [--out DIR]``

- ``optimizers``: 12 optimisers (``nn.optim``) training the 3-layer elu / tanh / sigmoid net
  on MNIST 0-vs-1 (binary cross-entropy); loss curves and test accuracy.
- ``regression``: the 4-layer arctan regression net of ``benchmarks.manual.regression`` with
  L1 or L2 loss and no, L1 or L2 weight penalty; loss curves and the sum of |weights| per case
  (L1 penalties drive it down the most).
- ``dni``: the MLP of ``benchmarks.manual.dni`` on MNIST trained by plain backprop, by
  synthetic gradients (DNI), and by DNI with annealed gradient noise; test accuracy and the
  cosine similarity of the synthetic gradient with the true one (from the tape) over training.

Each writes ``<name>.png`` and ``<name>.json`` into ``--out`` (default
``benchmarks/results/<date>/experiments``) and prints a summary table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
from pathlib import Path

import numpy as np

import autodiff.numpy as anp
from autodiff import tree_map, value_and_grad
from benchmarks import models
from benchmarks.manual import dni, regression
from nn import optim
from nn.activations import elu

__all__ = ["optimizers", "regression_penalties", "synthetic_gradients", "main"]


def _mnist(digits=None, n_train=None, seed=0):
    """Flattened MNIST in [0, 1]: (x_train, y_train, x_test, y_test), optionally some digits."""
    from nn.data import load_mnist

    out = []
    for split in ("train", "test"):
        images, labels = load_mnist(split=split)
        keep = np.ones(len(labels), bool) if digits is None else np.isin(labels, digits)
        x = images[keep].reshape(int(keep.sum()), -1) / 255.0
        out += [x, labels[keep].astype(np.intp)]
    if n_train is not None:
        idx = np.random.default_rng(seed).permutation(len(out[0]))[:n_train]
        out[0], out[1] = out[0][idx], out[1][idx]
    return tuple(out)


# 12 optimisers on MNIST 0-vs-1 ---------------------------------------------------------------
def _binary_net_init(rng, sizes=(784, 64, 32, 1)):
    params = {}
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = rng.standard_normal((m, n)) * np.sqrt(2.0 / (m + n))
        params[f"b{i}"] = np.zeros(n)
    return params


def _binary_logits(p, x):
    h = elu(x @ p["W1"] + p["b1"])
    h = anp.tanh(h @ p["W2"] + p["b2"])
    return (h @ p["W3"] + p["b3"])[:, 0]  # sigmoid(logit) is the output unit


def _binary_loss(p, x, y):
    z = _binary_logits(p, x)
    return anp.mean(anp.logaddexp(0, z) - y * z)  # binary cross-entropy of sigmoid(z)


OPTIMIZERS = {
    "SGD": lambda: optim.sgd(0.1),
    "momentum": lambda: optim.momentum(0.05, 0.9),
    "Nesterov": lambda: optim.nesterov(0.05, 0.9),
    "Adagrad": lambda: optim.adagrad(0.05),
    "Adadelta": lambda: optim.adadelta(1.0),
    "RMSProp": lambda: optim.rmsprop(1e-3),
    "Adam": lambda: optim.adam(1e-3),
    "Nadam": lambda: optim.nadam(2e-3),
    "SGD + noise": lambda: optim.gradient_noise(optim.sgd(0.1), eta=0.01, rng=1),
    "momentum + noise": lambda: optim.gradient_noise(optim.momentum(0.05), eta=0.01, rng=2),
    "noisy Adam": lambda: optim.gradient_noise(optim.adam(1e-3), eta=0.01, rng=3),
    "SGD, 1/t decay": lambda: optim.sgd(optim.inverse_time(0.1, 0.01, 1)),
}


def optimizers(steps: int = 300, batch_size: int = 64, seed: int = 0) -> dict:
    """Train the binary net with each of ``OPTIMIZERS``; loss per step and test accuracy."""
    x, y, x_test, y_test = _mnist(digits=(0, 1))
    y, y_test = y.astype(float), y_test.astype(float)
    vg = value_and_grad(_binary_loss)
    out = {}
    for name, make in OPTIMIZERS.items():
        rng = np.random.default_rng(seed)  # same init and batches for every optimiser
        params, opt = _binary_net_init(rng), make()
        state, losses = opt.init(params), []
        for _ in range(steps):
            idx = rng.integers(0, len(x), batch_size)
            value, g = vg(params, x[idx], y[idx])
            params, state = opt.update(g, state, params)
            losses.append(float(value))
        acc = float(np.mean((_binary_logits(params, x_test) > 0) == (y_test > 0.5)))
        out[name] = {"loss": losses, "test_accuracy": acc, "test_size": len(y_test)}
    return out


# L1/L2 loss x none/L1/L2 penalty -------------------------------------------------------------
def regression_penalties(steps: int = 2000, lam: float = 1e-4, seed: int = 0) -> dict:
    """Adam on each (loss, penalty) pair; loss curve, final data loss and sum |W| per case."""
    rng = np.random.default_rng(seed)
    x, y = regression.make_batch(rng, 512)
    init = regression.init_params(rng)
    out = {}
    for loss in ("l1", "l2"):
        for reg in (None, "l1", "l2"):
            params, opt = tree_map(np.copy, init), optim.adam(3e-3)
            state, curve = opt.init(params), []
            vg = value_and_grad(models.regression_loss)
            for _ in range(steps):
                value, g = vg(params, x, y, loss=loss, reg=reg, lam=lam)
                params, state = opt.update(g, state, params)
                curve.append(float(value))
            data = float(models.regression_loss(params, x, y, loss=loss))
            abs_w = float(sum(np.abs(params[k]).sum() for k in ("W1", "W2", "W3", "W4")))
            out[f"{loss} loss, {reg or 'no'} penalty"] = {
                "loss": curve, "data_loss": data, "sum_abs_weights": abs_w,
            }  # fmt: skip
    return out


# Decoupled neural interfaces -----------------------------------------------------------------
def synthetic_gradients(steps: int = 600, batch_size: int = 128, lr: float = 0.1,
                        sg_lr: float = 0.05, seed: int = 0) -> dict:  # fmt: skip
    """Backprop vs DNI vs DNI with gradient noise: test accuracy and cosine(synthetic, true).

    The synthetic-gradient model is linear in h1 and sees no label (DNI, not cDNI), so it can
    only predict the label-independent part of the per-example gradient. Plain SGD on its
    regression diverges above sg_lr of about 0.1 here.
    """
    x, y, x_test, y_test = _mnist(n_train=20000, seed=seed)
    runs = {}
    for name in ("backprop", "DNI", "DNI + gradient noise"):
        rng = np.random.default_rng(seed)
        params = dni.init_params(rng, d_in=784, hidden=(128, 64), n_classes=10)
        sg = dni.init_sg_params(params)
        noise_rng = np.random.default_rng(seed + 1)
        vg = value_and_grad(models.dni_loss)
        record = {"step": [], "test_accuracy": [], "cosine": [], "loss": []}
        for step in range(steps):
            idx = rng.integers(0, len(x), batch_size)
            batch = (x[idx], y[idx])
            if name == "backprop":
                value, g = vg(params, *batch)
                params = {k: params[k] - lr * g[k] for k in params}
                stats = {"loss": float(value), "cosine": 1.0}
            else:
                sigma = math.sqrt(0.01 / (1 + step) ** 0.55)  # Neelakantan et al. (2015)

                def noise(g, sigma=sigma, noise_rng=noise_rng):
                    return {k: v + sigma * noise_rng.standard_normal(v.shape) for k, v in g.items()}

                params, sg, stats = models.dni_train_step(
                    params, sg, batch, lr, sg_lr, noise=noise if "noise" in name else None
                )
            if step % 20 == 0 or step == steps - 1:
                logits = models._mlp_logits(params, x_test[:2000])
                record["step"].append(step)
                record["test_accuracy"].append(float(np.mean(logits.argmax(1) == y_test[:2000])))
                record["cosine"].append(stats["cosine"])
                record["loss"].append(stats["loss"])
        runs[name] = record
    return runs


# Plots and command line ----------------------------------------------------------------------
def _plot(name: str, res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    if name == "optimizers":
        colors = plt.cm.tab20(np.linspace(0, 1, 20))[::-1]
        for k, (label, r) in enumerate(res.items()):
            curve = np.convolve(r["loss"], np.ones(10) / 10, mode="valid")
            axes[0].plot(curve, color=colors[k], label=f"{label} ({r['test_accuracy']:.4f})")
        axes[0].set(yscale="log", xlabel="step", ylabel="training loss (10-step mean)",
                    title="MNIST 0 vs 1, elu-tanh-sigmoid net")  # fmt: skip
        axes[0].legend(fontsize=7, title="optimizer (test accuracy)", title_fontsize=7)
        names = list(res)
        errors = [round((1 - res[k]["test_accuracy"]) * res[k]["test_size"]) for k in names]
        axes[1].barh(names, errors, color=colors[: len(names)])
        axes[1].set(xlabel=f"misclassified test digits (of {res[names[0]]['test_size']})",
                    title="test errors after training")  # fmt: skip
    elif name == "regression":
        for label, r in res.items():
            axes[0].plot(r["loss"], label=label)
        axes[0].set(yscale="log", xlabel="step", ylabel="training objective")
        axes[0].legend(fontsize=8)
        names = list(res)
        axes[1].barh(names, [res[k]["sum_abs_weights"] for k in names])
        axes[1].set(xlabel="sum of |weights| after training", title="weight size per case")
    else:
        for label, r in res.items():
            axes[0].plot(r["step"], r["test_accuracy"], label=label)
            if label != "backprop":
                axes[1].plot(r["step"], r["cosine"], label=label)
        axes[0].set(xlabel="step", ylabel="test accuracy", title="MNIST, 784-128-64-10 MLP")
        axes[1].set(xlabel="step", ylabel="cosine(synthetic, true dL/dh1)",
                    title="synthetic vs true gradient (true one from the tape)")  # fmt: skip
        axes[0].legend()
        axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _summary(name: str, res: dict) -> str:
    if name == "optimizers":
        rows = [f"{k:18s} final loss {v['loss'][-1]:.4g}  test accuracy {v['test_accuracy']:.4f}"
                for k, v in res.items()]  # fmt: skip
    elif name == "regression":
        rows = [f"{k:24s} data loss {v['data_loss']:.4g}  sum|W| {v['sum_abs_weights']:.2f}"
                for k, v in res.items()]  # fmt: skip
    else:
        rows = [f"{k:22s} test accuracy {v['test_accuracy'][-1]:.4f}  "
                f"cosine first/last {v['cosine'][0]:.3f} / {v['cosine'][-1]:.3f}"
                for k, v in res.items()]  # fmt: skip
    return "\n".join(rows)


EXPERIMENTS = {"optimizers": optimizers, "regression": regression_penalties,
               "dni": synthetic_gradients}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.experiments", description=__doc__)
    p.add_argument("experiment", choices=list(EXPERIMENTS))
    p.add_argument("--steps", type=int, help="training steps (default: the experiment's)")
    p.add_argument("--out", help="output folder")
    args = p.parse_args(argv)
    out = Path(args.out) if args.out else (
        Path(__file__).parent / "results" / str(datetime.date.today()) / "experiments"
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    kw = {} if args.steps is None else {"steps": args.steps}
    res = EXPERIMENTS[args.experiment](**kw)
    (out / f"{args.experiment}.json").write_text(json.dumps(res))
    _plot(args.experiment, res, out / f"{args.experiment}.png")
    print(_summary(args.experiment, res))
    print(f"\nplot: {out / (args.experiment + '.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
