"""Training LeNet-5 on MNIST: ``python -m nn.lenet5 train [--quick] [--out DIR] ...``.

Faithful recipe (LeCun et al. 1998, Sec. III-B and App. C): the paper's fan-in
initialisation, eq. (9) with the rubbish-class constant ``j``, 20 passes with the per-pass
global rate eta of ``nn.optim.lenet5_schedule``, and stochastic diagonal Levenberg-Marquardt
steps ``eta / (mu + h_kk)``, mu = 0.02, with h_kk re-estimated on 500 random training
patterns before each pass (``lenet5.gauss_newton_diag``).

Mini-batches, not per-pattern updates: the paper updates after every pattern, which here
would cost 60,000 tape recordings per pass (several times the time of batches of 32, all
Python overhead). With the loss averaged over a batch of B patterns, one step of
``B eta / (mu + h)`` moves the weights as far as B per-pattern steps would when the gradient
changes little within the batch (the linear scaling rule), so the paper's rates are
multiplied by B (default 32).

Two departures, both measured (float32, first pass): (1) at the paper's rates even
per-pattern updates diverge within ten patterns here (the loss jumps from 83 to 200+ and the
tanh units saturate). At initialisation the C5 and F6 weights are small and the residual
dE/dF6 is large, so the Gauss-Newton diagonal, which drops the residual term, misses the
strong coupling of the two layers: SDLM on C5 alone or on F6 alone is stable, on both
together it diverges. A warm-up fixes it: the rate starts at 1% and doubles every 100 steps
(full after about 660 steps, 21,000 patterns), with h_kk re-estimated every 100 steps while
it lasts, since it grows by orders of magnitude as the top weights grow. (2) ``rate_scale``
0.3 multiplies the rates: after one pass, 2.9% test error against 5.2% at 1.0 (2,000 test
digits), and a steadily falling loss against a noisy one.

The constant j of eq. (9) (not given in the paper): the loss pushes a wrong class's penalty
up with weight ``exp(-y_i) / (exp(-j) + sum_k exp(-y_k))``, which is at most
``exp(j - y_i)``: penalties well above j are left alone. Penalties live on the scale of
|F6 - c|^2: about 84 at initialisation, 4 per F6 unit off by a full +-1, so a j of a few
units means "a wrong class is far enough once its bitmap is clearly not matched". j = 1
(SPEC.md's default) also keeps the loss near eq. (8) (the penalty of the correct class,
shifted by -j) early in training, when every penalty is far above j; a very large j turns
eq. (9) into softmax cross-entropy on ``-y``. ``--j`` changes it; its measured effect is in
the note of the training run.

Distortions (``--distort``, off by default): every training pattern of every pass is a fresh
random planar affine distortion (translation, scaling, squeezing, shearing; ``nn.distort``,
ranges in ``nn.distort.DEFAULT_RANGES``) of its original, as the paper's 0.8% run, which
trained on 540,000 distorted copies plus the 60,000 originals (Sec. III-C; REFERENCE.md). The
h_kk of SDLM are then estimated on distorted patterns too, the training error on the
originals. The ranges are part of the configuration (``--distort translate=2,scale=0.15``
changes some of them) and so of each checkpoint.

Modern variant: Adam (Kingma & Ba 2015) on softmax cross-entropy, its rate following the same
per-pass shape scaled to start at 1e-3 (``2 * lenet5_schedule``), He initialisation.

Each pass ends with the train and test error, a checkpoint ``checkpoints/epoch_NNN.npz``
(parameters, optimiser state, the RNG state and the history) and ``history.json``; resuming
from a checkpoint gives exactly the parameters of an uninterrupted run. The report (PNG plots)
is written at the end, or from any checkpoint with ``python -m nn.lenet5 report CKPT``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from autodiff import value_and_grad

from .. import checkpoint, optim
from ..data import batches, lenet_input, load_mnist
from ..distort import DEFAULT_RANGES, distort
from . import lenet5

__all__ = ["Config", "train", "evaluate", "write_report", "main"]

# --quick: a subset that trains in about a minute on 2 cores (float32, 3 passes)
QUICK = {"train_size": 10000, "test_size": 2000, "epochs": 3, "dtype": "float32"}


@dataclasses.dataclass
class Config:
    """Everything that determines a training run (saved in each checkpoint)."""

    variant: str = "faithful"
    epochs: int = 20
    batch_size: int = 32
    optimizer: str = ""  # "" picks sdlm (faithful) or adam (modern)
    j: float = 1.0
    mu: float = 0.02
    hessian_patterns: int = 500
    rate_scale: float = 0.0  # multiplies the per-pass rates; 0 picks 0.3 (sdlm) or 1 (adam)
    warmup_start: float = 0.01  # SDLM rate multiplier at step 0, doubled every warmup_steps
    warmup_steps: int = 100
    seed: int = 0
    dtype: str = "float64"
    train_size: int = 0  # 0: all
    test_size: int = 0
    # False, or the ranges of nn.distort (True: DEFAULT_RANGES; a dict updates them)
    distort: bool | dict = False

    def __post_init__(self):
        if self.distort is True:
            self.distort = dict(DEFAULT_RANGES)
        elif isinstance(self.distort, dict) and self.distort:
            unknown = sorted(set(self.distort) - set(DEFAULT_RANGES))
            if unknown:
                raise ValueError(
                    f"distort: unknown ranges {unknown}; the names are {list(DEFAULT_RANGES)}."
                )
            self.distort = {k: float(v) for k, v in {**DEFAULT_RANGES, **self.distort}.items()}
            distort(np.zeros((0, 1, 1)), np.random.default_rng(0), **self.distort)  # validates
        elif not self.distort:
            self.distort = False
        else:
            raise TypeError(f"distort must be a bool or a dict of ranges, got {self.distort!r}.")
        if self.variant not in lenet5.VARIANTS:
            raise ValueError(f"variant must be one of {lenet5.VARIANTS}, got {self.variant!r}.")
        if not self.optimizer:
            self.optimizer = "sdlm" if self.variant == "faithful" else "adam"
        if self.optimizer not in ("sdlm", "adam"):
            raise ValueError(f"optimizer must be 'sdlm' or 'adam', got {self.optimizer!r}.")
        if not self.rate_scale:
            self.rate_scale = 0.3 if self.optimizer == "sdlm" else 1.0
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}.")
        if self.batch_size < 1 or self.epochs < 0:
            raise ValueError(f"need batch_size >= 1, epochs >= 0, got {self}.")


def _subset(images, labels, size):
    return (images[:size], labels[:size]) if size else (images, labels)


def _warmup(config: Config, step: int) -> float:
    """SDLM warm-up: ``warmup_start`` doubled every ``warmup_steps`` steps, up to 1."""
    if config.warmup_steps <= 0:
        return 1.0
    return min(1.0, config.warmup_start * 2.0 ** (step / config.warmup_steps))


def _rate(config: Config, step: int, steps_per_epoch: int) -> float:
    """The global rate of update ``step`` (0-based): the paper's rate of its pass, times B
    (SDLM) or scaled to start at 1e-3 (Adam), times ``rate_scale`` and the warm-up."""
    eta = optim.lenet5_schedule(step // steps_per_epoch + 1) * config.rate_scale
    if config.optimizer == "sdlm":
        return config.batch_size * eta * _warmup(config, step)
    return 2.0 * eta


def _optimizer(config: Config, steps_per_epoch: int) -> optim.Optimizer:
    def lr(step):
        return _rate(config, step, steps_per_epoch)

    if config.optimizer == "sdlm":
        return optim.sdlm(lr, mu=config.mu)
    return optim.adam(lr)


def _set_hessian(config, opt_state, params, images, rng, dtype):
    """Re-estimate h_kk on ``hessian_patterns`` random training patterns (App. C)."""
    picks = rng.choice(len(images), min(config.hessian_patterns, len(images)), replace=False)
    hdiag = lenet5.gauss_newton_diag(params, _train_inputs(config, images[picks], rng, dtype),
                                     rng, config.j)  # fmt: skip
    return optim.sdlm_set_hessian(opt_state, hdiag)


def _inputs(images, dtype):
    return lenet_input(images).astype(dtype)


def _train_inputs(config, images, rng, dtype):
    """Training patterns: the inputs, distorted afresh if ``config.distort``."""
    x = _inputs(images, dtype)
    if config.distort:
        x = distort(x, rng, **config.distort, cval=_BACKGROUND)
    return x


_BACKGROUND = float(lenet_input(np.zeros((1, 1, 1), np.uint8))[0, 0, 0, 0])  # -0.1, Sec. II-B


def evaluate(params: dict, images: np.ndarray, labels: np.ndarray, batch_size: int = 1000):
    """``(error rate, predictions)`` of LeNet-5 on MNIST bytes ``images`` (N, 28, 28)."""
    dtype = np.result_type(params["C1"]["w"])
    preds = [
        lenet5.predict(params, _inputs(images[i : i + batch_size], dtype))
        for i in range(0, len(images), batch_size)
    ]
    preds = np.concatenate(preds) if preds else np.zeros(0, np.intp)
    return float(np.mean(preds != labels)) if len(labels) else 0.0, preds


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", leave=False, dynamic_ncols=True)


def train(
    config: Config | None = None,
    *,
    out: str | Path | None = None,
    data: str | Path | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
    report: bool = True,
    log=print,
) -> dict:
    """Train LeNet-5 on MNIST; return ``{"params", "opt_state", "history", "config"}``.

    ``out`` receives ``checkpoints/``, ``history.json`` and ``report/``; ``resume`` continues
    from a checkpoint with its saved configuration (only ``config.epochs`` is taken from the
    argument, as the new total number of passes).
    """
    config = Config() if config is None else config
    start, history = (
        0,
        {k: [] for k in ("epoch", "lr", "loss", "train_error", "test_error", "seconds")},
    )
    saved = None
    if resume is not None:
        saved, meta = checkpoint.load(resume)
        epochs = config.epochs
        config = Config(**meta["config"])
        config.epochs = epochs
        start, history = int(meta["epoch"]), saved["history"]
    dtype = np.dtype(config.dtype)
    train_images, train_labels = _subset(*load_mnist(data, "train"), config.train_size)
    test_images, test_labels = _subset(*load_mnist(data, "test"), config.test_size)
    n = len(train_images)
    steps_per_epoch = -(-n // config.batch_size)
    opt = _optimizer(config, steps_per_epoch)
    if saved is None:
        rng = np.random.default_rng(config.seed)
        params = lenet5.init(rng, config.variant, dtype)
        opt_state = opt.init(params)
    else:
        rng = checkpoint.rng_from_state(saved["rng"])
        params, opt_state = saved["params"], saved["opt_state"]
    out = Path(out) if out is not None else None
    if out is not None:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    step_fn = value_and_grad(lenet5.loss)
    for epoch in range(start, config.epochs):
        t0 = time.perf_counter()
        sdlm = config.optimizer == "sdlm"
        step = int(opt_state["step"])
        if sdlm:
            opt_state = _set_hessian(config, opt_state, params, train_images, rng, dtype)
        bar = _progress(n, f"pass {epoch + 1}/{config.epochs}", progress)
        total, seen, refreshes = 0.0, 0, 0
        for idx in batches(rng, n, config.batch_size):
            if sdlm and 0 < step and step % config.warmup_steps == 0 and _warmup(config, step) < 1:
                # the rate doubles and h_kk grows fast while the warm-up lasts: refresh it
                opt_state = _set_hessian(config, opt_state, params, train_images, rng, dtype)
                refreshes += 1
            lr = _rate(config, step, steps_per_epoch)
            x = _train_inputs(config, train_images[idx], rng, dtype)
            batch = (x, train_labels[idx].astype(np.intp))
            value, grads = step_fn(params, batch, config.j)
            params, opt_state = opt.update(grads, opt_state, params)
            step += 1
            total += float(value) * len(idx)
            seen += len(idx)
            if bar is not None:
                bar.update(len(idx))
                bar.set_postfix(loss=f"{total / seen:.4f}", lr=f"{lr:.2g}", refresh=False)
        note = ""
        if sdlm:
            eps = [_rate(config, step - 1, steps_per_epoch) / config.batch_size / (config.mu + h)
                   for h in _leaves(opt_state["hdiag"])]  # fmt: skip
            note = (
                f"  eps/pattern [{min(e.min() for e in eps):.2g}, {max(e.max() for e in eps):.2g}]"
            )
            note += f", h_kk re-estimated {refreshes} more times" if refreshes else ""
        if bar is not None:
            bar.close()
        if not np.isfinite(total):
            raise FloatingPointError(
                f"pass {epoch + 1}: the loss became {total / seen}; lower the rate."
            )
        train_err, _ = evaluate(params, train_images, train_labels)
        test_err, _ = evaluate(params, test_images, test_labels)
        seconds = time.perf_counter() - t0
        row = dict(epoch=epoch + 1, lr=lr, loss=total / seen, train_error=train_err,
                   test_error=test_err, seconds=seconds)  # fmt: skip
        for key, v in row.items():  # by name: a loaded history has its keys sorted
            history[key].append(v)
        log(
            f"pass {epoch + 1:2d}/{config.epochs}  lr {lr:.2g}  loss {total / seen:.4f}  "
            f"train error {train_err:.2%}  test error {test_err:.2%}  {seconds:.1f}s{note}"
        )
        if out is not None:
            state = {
                "params": params,
                "opt_state": opt_state,
                "rng": checkpoint.rng_state(rng),
                "history": history,
            }
            meta = {"epoch": epoch + 1, "config": dataclasses.asdict(config)}
            checkpoint.save(out / "checkpoints" / f"epoch_{epoch + 1:03d}.npz", state, meta)
            (out / "history.json").write_text(
                json.dumps({"config": meta["config"], **history}, indent=1)
            )
    if out is not None and report:
        paths = write_report(out / "report", params, history, test_images, test_labels)
        log(f"report: {', '.join(str(p) for p in paths)}")
    return {"params": params, "opt_state": opt_state, "history": history, "config": config}


def _leaves(tree: Any) -> list:
    from autodiff import tree_leaves

    return [np.asarray(v) for v in tree_leaves(tree)]


def write_report(folder, params: dict, history: dict, test_images, test_labels) -> list[Path]:
    """Learning curves, confusion matrix, misclassified test digits, and the feature maps of
    C1, S2, C3, S4 for the first test digit (as Fig. 7 of the paper); returns the PNG paths."""
    from .. import report as rep

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    err, preds = evaluate(params, test_images, test_labels)
    dtype = np.result_type(params["C1"]["w"])
    feats = lenet5.features(params, _inputs(test_images[:1], dtype))
    return [
        rep.plot_learning_curves(history, folder / "learning_curves.png"),
        rep.plot_confusion_matrix(
            rep.confusion_matrix(test_labels, preds), folder / "confusion_matrix.png"
        ),
        rep.plot_misclassified(test_images, test_labels, preds, folder / "misclassified.png"),
        rep.plot_feature_maps(
            feats,
            folder / "feature_maps.png",
            label=int(test_labels[0]) if len(test_labels) else None,
        ),
    ]


def _ranges(text: str) -> dict:
    """``"translate=2,scale=0.15"`` -> ``{"translate": 2.0, "scale": 0.15}`` (for --distort)."""
    try:
        return {k.strip(): float(v) for k, v in (kv.split("=") for kv in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE,... with names in {list(DEFAULT_RANGES)}, got {text!r}"
        ) from None


def main(argv=None) -> int:
    """The ``lenet5`` command: ``train`` and ``report``."""
    parser = argparse.ArgumentParser(prog="python -m nn.lenet5", description="LeNet-5 on MNIST.")
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train (and write checkpoints and a report)")
    tr.add_argument("--quick", action="store_true", help=f"a one-minute run: {QUICK}")
    tr.add_argument("--out", default="lenet5-run", help="output folder (default ./lenet5-run)")
    tr.add_argument("--data", help="MNIST folder (default: nn.data.find_mnist_dir)")
    tr.add_argument("--epochs", type=int, help="number of passes (default 20, --quick 3)")
    tr.add_argument("--variant", choices=lenet5.VARIANTS, default="faithful")
    tr.add_argument("--resume", help="continue from this checkpoint (its settings are kept)")
    tr.add_argument("--batch-size", type=int, default=Config.batch_size)
    tr.add_argument("--optimizer", choices=("sdlm", "adam"), default="")
    tr.add_argument("--j", type=float, default=Config.j, help="rubbish-class constant of eq. (9)")
    tr.add_argument("--rate-scale", type=float, default=Config.rate_scale)
    tr.add_argument("--dtype", choices=("float32", "float64"))
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--train-size", type=int, help="use the first N training images")
    tr.add_argument("--test-size", type=int, help="use the first N test images")
    tr.add_argument("--distort", nargs="?", const=True, default=False, type=_ranges,
                    metavar="NAME=VALUE,...", help="train on randomly distorted patterns, "
                    f"ranges {DEFAULT_RANGES} unless given (see nn.distort)")  # fmt: skip
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    rp = sub.add_parser("report", help="write the report PNGs from a checkpoint")
    rp.add_argument("checkpoint")
    rp.add_argument("--out", help="report folder (default: report/ beside checkpoints/)")
    rp.add_argument("--data", help="MNIST folder")
    args = parser.parse_args(argv)
    try:
        if args.command == "report":
            saved, meta = checkpoint.load(args.checkpoint)
            cfg = Config(**meta["config"])
            folder = (
                Path(args.out)
                if args.out
                else Path(args.checkpoint).resolve().parents[1] / "report"
            )
            images, labels = _subset(*load_mnist(args.data, "test"), cfg.test_size)
            for p in write_report(folder, saved["params"], saved["history"], images, labels):
                print(p)
            return 0
        settings = dict(QUICK) if args.quick else {}
        for key in ("epochs", "dtype", "train_size", "test_size"):
            if getattr(args, key) is not None:
                settings[key] = getattr(args, key)
        config = Config(
            variant=args.variant,
            batch_size=args.batch_size,
            optimizer=args.optimizer,
            j=args.j,
            rate_scale=args.rate_scale,
            seed=args.seed,
            distort=args.distort,
            **settings,
        )
        train(
            config, out=args.out, data=args.data, resume=args.resume, progress=not args.no_progress
        )
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
