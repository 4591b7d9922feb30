"""Train and evaluate the GANs of ``nn.models.gan`` on MNIST (or any IDX set of 28x28 images).

    python -m nn.gan train --model {gan,dcgan,wgan,wgan-gp} [--epochs N] [--quick]
                           [--out DIR] [--data DIR] [--resume CKPT]
    python -m nn.gan eval --ckpt CKPT [--classifier LENET_CKPT] [--data DIR]
    python -m nn.gan time [--arch {mlp,conv}] [--batch-size 64]

Training shows a progress bar and writes into ``--out`` after every epoch: the samples of a
fixed batch of noise as ``samples_epochNNN.png`` (so frames are comparable), all of them as
``samples.gif``, ``losses.png``, and ``checkpoint.npz``, from which ``--resume`` continues
exactly where it stopped (parameters, optimiser states, random generator, loss history).
The last ``min(10000, N // 6)`` training images are held out as the validation split the
Parzen window width is chosen on (MNIST: 50,000 / 10,000, as Goodfellow et al. 2014).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import checkpoint
from .data import load_mnist
from .models import gan

__all__ = ["load_images", "split", "train", "sample_grid", "main"]

_QUICK_IMAGES, _QUICK_EPOCHS, _DEFAULT_EPOCHS = 1024, 2, 25


def split(n: int) -> tuple[slice, slice]:
    """(train, validation) slices of n training images: the last min(10000, n // 6) validate.

    >>> split(60000)
    (slice(0, 50000, None), slice(50000, 60000, None))
    """
    n_val = min(10000, n // 6)
    return slice(0, n - n_val), slice(n - n_val, n)


def load_images(data: str | None, which: str, arch: str = "mlp") -> np.ndarray:
    """Images in [0, 1] of ``which`` ("train", "validation" or "test"), (N, 784) for an MLP
    and (N, 1, 28, 28) for a conv net."""
    images, _ = load_mnist(data, "test" if which == "test" else "train")
    if which != "test":
        images = images[split(len(images))[0 if which == "train" else 1]]
    x = images.astype(np.float64) / 255.0
    return x.reshape(len(x), -1) if arch == "mlp" else x[:, None]


def sample_grid(images: np.ndarray, cols: int = 8, pad: int = 2) -> np.ndarray:
    """uint8 grid image of ``images`` (N, ...) in [0, 1] reshaped to 28x28, gray padding."""
    x = np.clip(np.asarray(images).reshape(-1, 28, 28), 0, 1)
    rows = -(-len(x) // cols)
    grid = np.full((rows * (28 + pad) + pad, cols * (28 + pad) + pad), 0.5)
    for i, im in enumerate(x):
        r, c = divmod(i, cols)
        grid[pad + r * (28 + pad) :][:28, pad + c * (28 + pad) :][:, :28] = im
    return (grid * 255).round().astype(np.uint8)


def _save_gif(out: Path) -> None:
    from PIL import Image

    frames = [Image.open(p).convert("P") for p in sorted(out.glob("samples_epoch*.png"))]
    if frames:
        frames[0].save(
            out / "samples.gif", save_all=True, append_images=frames[1:], duration=400, loop=0
        )


def _save_losses(out: Path, history: dict, model: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    window = max(1, len(history["d_loss"]) // 100)
    for key, color in (("d_loss", "C0"), ("g_loss", "C1")):
        y = np.asarray(history[key])
        ax.plot(y, color=color, alpha=0.25, lw=0.5)
        if len(y) >= window:
            smooth = np.convolve(y, np.ones(window) / window, mode="valid")
            ax.plot(np.arange(window - 1, len(y)), smooth, color=color, label=key)
    for e in history["epoch_end"]:
        ax.axvline(e, color="0.85", lw=0.5, zorder=0)
    ax.set(xlabel="generator iteration", ylabel="loss", title=f"{model} (mean of each window)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "losses.png", dpi=100)
    plt.close(fig)


def _fresh(model: str, quick: bool, seed: int, data: str | None, overrides: dict) -> tuple:
    cfg = gan.config(model, **overrides)
    rng = np.random.default_rng(seed)
    n_train = len(load_images(data, "train", cfg["arch"]))
    return {
        "state": gan.init_state(rng, cfg),
        "fixed_z": gan.sample_noise(rng, 64, cfg),
        "rng": checkpoint.rng_state(rng),
        "history": {"d_loss": np.zeros(0), "g_loss": np.zeros(0), "epoch_end": np.zeros(0, int)},
    }, {"config": cfg, "epoch": 0, "n_train": min(n_train, _QUICK_IMAGES) if quick else n_train}


def train(
    model: str | None = None,
    epochs: int | None = None,
    quick: bool = False,
    out: str | Path | None = None,
    data: str | None = None,
    resume: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
    **overrides: Any,
) -> tuple[dict, dict]:
    """Train ``model`` (default "gan") to ``epochs`` epochs in total; returns the checkpoint
    ``(tree, metadata)``.

    ``quick`` trains on the first 1024 images (default 2 epochs); ``overrides`` go to
    ``gan.config`` (``batch_size``, ``k``, ``g_hidden``, ...). With ``resume`` the model, its
    settings and the data subset come from the checkpoint.
    """
    from PIL import Image
    from tqdm import tqdm

    if resume is not None:
        tree, meta = checkpoint.load(resume)
        if model is not None and meta["config"]["model"] != model:
            raise ValueError(
                f"train: --model {model} but {resume} holds a {meta['config']['model']} model; "
                "drop --model or pass the matching one."
            )
        out = Path(out) if out is not None else Path(resume).parent
    else:
        model = model or "gan"
        tree, meta = _fresh(model, quick, seed, data, overrides)
        out = Path(out) if out is not None else Path("runs") / f"gan-{model}"
    # settings added since the checkpoint was written take their defaults
    cfg = gan.config(**meta["config"])
    if epochs is None:
        epochs = _QUICK_EPOCHS if quick else _DEFAULT_EPOCHS
    out.mkdir(parents=True, exist_ok=True)
    x = load_images(data, "train", cfg["arch"])[: meta["n_train"]]
    bs, k = cfg["batch_size"], cfg["k"]
    steps = len(x) // bs // k
    if steps == 0:
        raise ValueError(
            f"train: {len(x)} images make no full step of k={k} batches of {bs}; "
            "use more images or a smaller --batch-size."
        )
    rng = checkpoint.rng_from_state(tree["rng"])
    state, history = tree["state"], {key: list(v) for key, v in tree["history"].items()}
    for epoch in range(meta["epoch"], epochs):
        order = rng.permutation(len(x))
        bar = tqdm(
            range(steps),
            desc=f"{cfg['model']} {epoch + 1}/{epochs}",
            disable=not progress,
            mininterval=2.0,
        )
        for s in bar:
            batches = [x[order[(s * k + j) * bs : (s * k + j + 1) * bs]] for j in range(k)]
            state, metrics = gan.train_step(state, batches, rng, cfg)
            history["d_loss"].append(metrics["d_loss"])
            history["g_loss"].append(metrics["g_loss"])
            if s % 20 == 0:
                bar.set_postfix(d=f"{metrics['d_loss']:.3f}", g=f"{metrics['g_loss']:.3f}")
        history["epoch_end"].append(len(history["d_loss"]))
        samples = gan.generator(state["params"]["G"], tree["fixed_z"])
        grid = Image.fromarray(sample_grid(samples))
        grid = grid.resize((2 * grid.width, 2 * grid.height), Image.NEAREST)
        grid.save(out / f"samples_epoch{epoch + 1:03d}.png")
        _save_gif(out)
        _save_losses(out, history, cfg["model"])
        tree = {
            **tree,
            "state": state,
            "rng": checkpoint.rng_state(rng),
            "history": {
                "d_loss": np.asarray(history["d_loss"], np.float64),
                "g_loss": np.asarray(history["g_loss"], np.float64),
                "epoch_end": np.asarray(history["epoch_end"], np.int64),
            },
        }
        meta = {**meta, "epoch": epoch + 1}
        checkpoint.save(out / "checkpoint.npz", tree, meta)
    return tree, meta


def time_critic_step(arch: str = "mlp", batch_size: int = 64, repeat: int = 20) -> dict:
    """Seconds per WGAN-GP critic step (batch ``batch_size``) with and without the penalty.

    The two variants alternate and the fastest of ``repeat`` steps counts, so that a load
    that changes during the measurement affects both alike.
    """
    runs = {}
    for key, gp in (("with_penalty", gan.config("wgan-gp")["gp"]), ("without_penalty", 0.0)):
        cfg = gan.config("wgan-gp", arch=arch, gp=gp, batch_size=batch_size)
        rng = np.random.default_rng(0)
        state = gan.init_state(rng, cfg)
        shape = (batch_size, 784) if cfg["arch"] == "mlp" else (batch_size, 1, 28, 28)
        runs[key] = (state, rng.random(shape), rng, cfg)
        gan.d_step(*runs[key])  # warm-up
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for key, args in runs.items():
            t0 = time.perf_counter()
            gan.d_step(*args)
            best[key] = min(best[key], time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m nn.gan", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train a GAN; writes samples, GIF, losses, checkpoint")
    tr.add_argument("--model", choices=gan.MODELS, default=None, help="default gan")
    tr.add_argument("--epochs", type=int, help=f"total epochs (default {_DEFAULT_EPOCHS})")
    tr.add_argument("--quick", action="store_true", help=f"first {_QUICK_IMAGES} images only")
    tr.add_argument("--out", help="output folder (default runs/gan-MODEL)")
    tr.add_argument("--data", help="folder of the IDX files (default: see nn.data)")
    tr.add_argument("--resume", help="checkpoint.npz to continue from")
    tr.add_argument("--arch", choices=("mlp", "conv"), help="override the model's architecture")
    tr.add_argument("--batch-size", type=int)
    tr.add_argument("--g-loss", choices=("nonsat", "minimax"), help="GAN generator loss")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--no-progress", action="store_true")
    ev = sub.add_parser("eval", help="Parzen log-likelihood and classifier score")
    ev.add_argument("--ckpt", required=True, help="a GAN checkpoint.npz")
    ev.add_argument("--classifier", help="LeNet-5 checkpoint (from python -m nn.lenet5 train)")
    ev.add_argument("--data", help="folder of the IDX files")
    ev.add_argument("--samples", type=int, default=10000, help="generated samples (10000)")
    ev.add_argument("--seed", type=int, default=1)
    ev.add_argument("--json", help="also write the results to this file")
    tm = sub.add_parser("time", help="time a WGAN-GP critic step with and without the penalty")
    tm.add_argument("--arch", choices=("mlp", "conv"), default="mlp")
    tm.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            overrides = {
                key: v
                for key, v in (
                    ("arch", args.arch),
                    ("batch_size", args.batch_size),
                    ("g_loss", args.g_loss),
                )
                if v is not None
            }
            _, meta = train(
                args.model, args.epochs, args.quick, args.out, args.data, args.resume,
                args.seed, not args.no_progress, **overrides,
            )  # fmt: skip
            print(f"trained {meta['config']['model']} for {meta['epoch']} epochs")
        elif args.command == "eval":
            from .models import gan_eval

            result = gan_eval.evaluate(
                args.ckpt, args.classifier, args.data, args.samples, args.seed
            )
            print(gan_eval.report(result))
            if args.json:
                Path(args.json).write_text(json.dumps(result, indent=1))
        else:
            t = time_critic_step(args.arch, args.batch_size)
            print(
                f"WGAN-GP {args.arch} critic step, batch {args.batch_size}: with penalty "
                f"{1e3 * t['with_penalty']:.1f} ms, without {1e3 * t['without_penalty']:.1f} ms "
                f"(x{t['with_penalty'] / t['without_penalty']:.2f})"
            )
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
