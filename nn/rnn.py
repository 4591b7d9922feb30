"""Train and inspect the recurrent cells of ``nn.models.rnn`` from the command line.

    python -m nn.rnn adding --cell lstm --T 50            # the adding problem
    python -m nn.rnn smnist --cell gru --epochs 3         # MNIST read row by row
    python -m nn.rnn smnist --cell slstm --patch 4        # MNIST as a 2-D grid of patches
    python -m nn.rnn compare --task adding --T 50         # all cells, one figure
    python -m nn.rnn gradflow --T 100                     # |dLoss/dh_t| against t per cell
    python -m nn.rnn memory --T 100 1000                  # peak memory, with/without checkpoint

Every command takes ``--quick`` (tiny sizes, seconds) and ``--out DIR`` (default
``runs/rnn/<command>``) and writes a JSON record and a PNG plot there.

The 2-D spatial LSTM (``--cell slstm``, Theis & Bethge 2015) reads an MNIST image as a grid
of ``--patch`` x ``--patch`` tiles, one tile per position, and classifies from its state at
the bottom-right position, the only one whose causal region is the whole image. The default
4 x 4 patches give a 7 x 7 grid with D = 16: 49 positions, 13 on any path from the top-left
tile to the read-out, so a training step costs about as much as the LSTM's 28 rows (a
14 x 14 grid of 2 x 2 tiles is about 4x slower per step). Its two forget gates add up
(c = g i + f^c c_left + f^r c_up): with ``--forget-bias 1`` both are ~0.73 and c grows like
1.46^k over the k diagonals, which saturates h on a 14 x 14 grid so that it does not learn,
so slstm's default is ``--forget-bias 0`` (docs/rnn_results.md). On the adding problem the
sLSTM runs over a 1 x T strip: its upper neighbours are the zero boundary, so it is an LSTM
variant with h = tanh(o c). ``gradflow`` and ``memory`` need time steps: no slstm there.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from autodiff import value_and_grad
from nn import optim
from nn.checkpoint import load, save
from nn.data import batches
from nn.models import rnn
from nn.tasks import ADDING_BASELINE_MSE, adding_problem, patch_grid, sequential_mnist

__all__ = ["main", "train", "gradient_flow", "peak_memory"]

_CONV_GRID = (4, 4)  # the adding problem's two inputs, broadcast over a grid for convugrnn
CELLS = (*rnn.KINDS, "slstm")  # adding, smnist and compare; gradflow and memory: rnn.KINDS


def _conv_input(x: np.ndarray, task: str) -> np.ndarray:
    """Image-shaped steps for convugrnn: smnist rows as (1, 1, 28), adding as (2, 4, 4)."""
    if task == "smnist":
        return x[:, :, None, None, :]
    return np.broadcast_to(x[..., None, None], (*x.shape, *_CONV_GRID))


def _model_input(x: np.ndarray, kind: str, task: str, args: argparse.Namespace) -> np.ndarray:
    """x as the cell reads it: image steps for convugrnn, a grid (N, R, C, D) for slstm."""
    if kind == "convugrnn":
        return _conv_input(x, task)
    if kind == "slstm":
        return patch_grid(x, args.patch) if task == "smnist" else x[:, None]
    return x


def _spatial(task: str) -> tuple[int, int]:
    return (1, 28) if task == "smnist" else _CONV_GRID


def _init(args: argparse.Namespace, kind: str, task: str, D: int, O: int) -> dict:  # noqa: E741
    rng = np.random.default_rng(args.seed)
    H = args.channels if kind == "convugrnn" else args.hidden
    return rnn.init_model(
        rng,
        kind,
        D,
        H,
        O,
        args.layers,
        spatial=_spatial(task),
        dtype=args.dtype,
        forget_bias=_forget_bias(args, kind),
        orthogonal=args.orthogonal,
    )


def _grads(params, x, y, kind, args, loss):
    kw = {"last_only": True, "loss": loss}
    if args.tbptt:
        return rnn.truncated_value_and_grad(params, x, y, kind, args.tbptt, **kw)
    return value_and_grad(rnn.sequence_loss)(params, x, y, kind, checkpoint=args.checkpoint, **kw)


def _evaluate(params, x, y, kind, task, size=500) -> float:
    """Test MSE (adding) or accuracy (smnist), in chunks of ``size`` sequences."""
    outs = [rnn.predict(params, x[i : i + size], kind) for i in range(0, len(x), size)]
    z = np.concatenate(outs)
    if task == "smnist":
        return float(np.mean(np.argmax(z, axis=1) == y))
    return float(np.mean((z - y) ** 2))


def _forget_bias(args: argparse.Namespace, kind: str) -> float:
    """``--forget-bias``, by default 1 (Jozefowicz et al. 2015), 0 for slstm (see above)."""
    if args.forget_bias is not None:
        return args.forget_bias
    return 0.0 if kind == "slstm" else 1.0


def train(task: str, kind: str, args: argparse.Namespace) -> tuple[dict, dict]:
    """Train one cell on ``task``; returns (record: config, curves, final metric; params)."""
    rng = np.random.default_rng(args.seed + 1)
    if task == "adding":
        x_test, y_test = adding_problem(rng, args.test_size, args.T, args.dtype)
        params = _init(args, kind, task, 2, 1)
        n_steps, loss = args.steps, "mse"
    else:
        x_all, y_all = sequential_mnist(args.data, "train", args.train_size, rng, args.dtype)
        x_test, y_test = sequential_mnist(args.data, "test", args.test_size, rng, args.dtype)
        D = {"convugrnn": 1, "slstm": args.patch**2}.get(kind, 28)
        params = _init(args, kind, task, D, 10)
        per_epoch = math.ceil(len(x_all) / args.batch)
        n_steps, loss = args.epochs * per_epoch, "xent"
    x_test = _model_input(x_test, kind, task, args)
    opt = optim.adam(args.lr)
    state = opt.init(params)
    record = {"task": task, "cell": kind, "metric": "accuracy" if task == "smnist" else "mse"}
    record["config"] = {
        k: v if isinstance(v, int | float | str | None) else str(v) for k, v in vars(args).items()
    }
    record["config"]["forget_bias"] = _forget_bias(args, kind)
    curve, evals = [], []
    order = iter(())
    t0 = time.perf_counter()
    bar = tqdm(range(n_steps), desc=f"{task} {kind}", file=sys.stderr, dynamic_ncols=True)
    for step in bar:
        if task == "adding":
            x, y = adding_problem(rng, args.batch, args.T, args.dtype)
        else:
            idx = next(order, None)
            if idx is None:
                order = batches(rng, len(x_all), args.batch)
                idx = next(order)
            x, y = x_all[idx], y_all[idx]
        x = _model_input(x, kind, task, args)
        value, grads = _grads(params, x, y, kind, args, loss)
        norm = optim.global_norm(grads)
        if args.clip:
            grads = optim.clip_by_global_norm(grads, args.clip)
        params, state = opt.update(grads, state, params)
        curve.append([step + 1, float(value), norm])
        if (step + 1) % args.eval_every == 0 or step + 1 == n_steps:
            evals.append([step + 1, _evaluate(params, x_test, y_test, kind, task)])
            bar.set_postfix(loss=f"{float(value):.4f}", test=f"{evals[-1][1]:.4f}")
    record.update(train=curve, eval=evals, final=evals[-1][1], seconds=time.perf_counter() - t0)
    return record, params


def _write(out: Path, name: str, record: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(record, indent=1))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _smooth(v: np.ndarray, n: int = 25) -> np.ndarray:
    n = max(1, min(n, len(v) // 5))
    return np.convolve(v, np.ones(n) / n, mode="valid") if len(v) >= n else v


def _plot_runs(records: list[dict], path: Path, title: str) -> None:
    """Training loss (smoothed) and test metric against step, one line per cell."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for r in records:
        train = np.asarray(r["train"])
        s = _smooth(train[:, 1])
        ax1.plot(train[len(train) - len(s) :, 0], s, label=r["cell"])
        ev = np.asarray(r["eval"])
        ax2.plot(ev[:, 0], ev[:, 1], label=f"{r['cell']} ({r['final']:.4g})")
    metric = records[0]["metric"]
    if records[0]["task"] == "adding":
        for ax in (ax1, ax2):
            ax.axhline(ADDING_BASELINE_MSE, color="k", ls="--", lw=0.8, label="predict mean")
            ax.set_yscale("log")
    ax1.set(xlabel="step", ylabel="training loss (smoothed)")
    ax2.set(xlabel="step", ylabel=f"test {metric}")
    ax2.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _run_name(task: str, kind: str, args: argparse.Namespace) -> str:
    return f"{task}_{kind}" + (f"_T{args.T}" if task == "adding" else "")


def _train_and_save(task: str, kind: str, args: argparse.Namespace) -> dict:
    record, params = train(task, kind, args)
    name = _run_name(task, kind, args)
    _write(args.out, name, record)
    save(args.out / f"{name}.params.npz", params, {"cell": kind, "task": task})
    _plot_runs([record], args.out / f"{name}.png", f"{name}: {record['seconds']:.0f} s")
    print(f"{name}: test {record['metric']} {record['final']:.4f} ({record['seconds']:.0f} s)")
    return record


def _flow(params: dict, kind: str, x: np.ndarray, y: np.ndarray) -> list[float]:
    """||dLoss/dh_t|| for each t (norm over batch and state), loss = MSE at the last step."""
    xk = _conv_input(x, "adding") if kind == "convugrnn" else x
    g = rnn.hidden_grads(params, xk, y, kind, last_only=True, loss="mse")
    return np.sqrt(np.sum(g.reshape(*g.shape[:2], -1) ** 2, axis=(0, 2))).tolist()


def gradient_flow(args: argparse.Namespace) -> dict:
    """||dLoss/dh_t|| against t for each cell on the same adding input: at initialisation and,
    with ``--trained DIR``, with the parameters that ``adding`` saved there."""
    x, y = adding_problem(np.random.default_rng(args.seed), args.batch, args.T, args.dtype)
    panels = {"at initialisation": {}}
    for kind in tqdm(args.cells, desc="gradflow", file=sys.stderr):
        panels["at initialisation"][kind] = _flow(_init(args, kind, "adding", 2, 1), kind, x, y)
        path = args.trained and Path(args.trained) / f"adding_{kind}_T{args.trained_T}.params.npz"
        if path and path.is_file():
            trained = f"trained on T={args.trained_T}"
            panels.setdefault(trained, {})[kind] = _flow(load(path)[0], kind, x, y)
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4.5), squeeze=False)
    for ax, (name, norms) in zip(axes[0], panels.items(), strict=True):
        for kind, v in norms.items():
            v = np.asarray(v)  # +RNN's loss reads y_t, not h_t: dLoss/dh_{T-1} = 0 is not drawn
            ax.semilogy(np.arange(args.T), np.where(v > 0, v, np.nan), label=kind)
        ax.set(xlabel="t", ylabel="||dLoss/dh_t||", title=name)
        ax.legend()
    fig.suptitle(f"Gradient flow, adding problem T={args.T}, loss at t={args.T - 1}")
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / f"gradflow_T{args.T}.png", dpi=120)
    plt.close(fig)
    # how much of the largest gradient (near the loss) reaches t = 0
    ratios = {p: {k: v[0] / max(v) for k, v in n.items()} for p, n in panels.items()}
    record = {"T": args.T, "norms": panels, "first_over_max": ratios}
    _write(args.out, f"gradflow_T{args.T}", record)
    return record


def peak_memory(
    kind: str, T: int, args: argparse.Namespace, checkpoint: bool
) -> tuple[float, float]:
    """(peak MB traced by tracemalloc, seconds) of one value_and_grad of a T-step loss."""
    rng = np.random.default_rng(args.seed)
    params = _init(args, kind, "adding", args.D, 1)
    x = rng.standard_normal((args.batch, T, args.D)).astype(args.dtype)
    y = rng.standard_normal((args.batch, 1)).astype(args.dtype)
    if kind == "convugrnn":
        x = _conv_input(x, "adding")
    tracemalloc.start()
    t0 = time.perf_counter()
    value_and_grad(rnn.sequence_loss)(params, x, y, kind, last_only=True, checkpoint=checkpoint)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return peak, seconds


def _memory(args: argparse.Namespace) -> dict:
    rows = []
    for T in tqdm(args.T, desc="memory", file=sys.stderr):
        for ck in (False, True) if T <= args.max_plain_T else (True,):
            peak, sec = peak_memory(args.cell, T, args, ck)
            rows.append({"T": T, "checkpoint": ck, "peak_MB": peak, "seconds": sec})
            print(f"{args.cell} T={T:5d} checkpoint={ck!s:5}: peak {peak:8.2f} MB, {sec:.2f} s")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for ck in (False, True):
        r = [row for row in rows if row["checkpoint"] is ck]
        label = "checkpointed segments of ceil(sqrt(T))" if ck else "plain tape"
        ax.loglog([row["T"] for row in r], [row["peak_MB"] for row in r], "o-", label=label)
    ax.set(
        xlabel="T",
        ylabel="peak memory (MB, tracemalloc)",
        title=f"{args.cell}, H={args.hidden}, N={args.batch}",
    )
    ax.legend()
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / f"memory_{args.cell}.png", dpi=120)
    plt.close(fig)
    record = {
        "cell": args.cell,
        "hidden": args.hidden,
        "batch": args.batch,
        "D": args.D,
        "rows": rows,
    }
    _write(args.out, f"memory_{args.cell}", record)
    return record


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nn.rnn", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, T=50):
        p.add_argument("--hidden", type=int, default=64, help="state size H of the dense cells")
        p.add_argument("--channels", type=int, default=8, help="state channels K of convugrnn")
        p.add_argument("--layers", type=int, default=1)
        p.add_argument(
            "--forget-bias",
            type=float,
            help="added to carry-gate biases (default 1; 0 for slstm, whose two forget gates add)",
        )
        p.add_argument("--orthogonal", action="store_true", help="orthogonal Wh blocks")
        p.add_argument("--batch", type=int, default=50)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--dtype", default="float64", choices=("float64", "float32"))
        p.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
        p.add_argument("--out", type=Path, help="output folder (default runs/rnn/<command>)")
        if T is not None:
            p.add_argument("--T", type=int, default=T, help="sequence length")

    def training(p):
        p.add_argument("--lr", type=float, default=1e-3)
        p.add_argument("--clip", type=float, default=1.0, help="max global gradient norm (0: off)")
        p.add_argument("--checkpoint", action="store_true", help="checkpoint sqrt(T) segments")
        p.add_argument("--tbptt", type=int, default=0, help="truncated BPTT length k1 = k2")
        p.add_argument("--eval-every", type=int, default=100)
        p.add_argument("--steps", type=int, default=3000, help="adding: training steps")
        p.add_argument("--test-size", type=int, default=1000)
        p.add_argument("--data", help="MNIST folder (smnist; default: see nn.data)")
        p.add_argument("--train-size", type=int, default=None, help="smnist: training subset")
        p.add_argument("--epochs", type=int, default=3, help="smnist: passes over the subset")
        p.add_argument("--patch", type=int, default=4, help="smnist slstm: p x p tiles, 28/p grid")

    for name in ("adding", "smnist"):
        p = sub.add_parser(name, help=f"train one cell on {name}")
        common(p)
        training(p)
        p.add_argument("--cell", default="lstm", choices=CELLS)
    p = sub.add_parser("compare", help="train every cell, one comparison figure")
    common(p)
    training(p)
    p.add_argument("--task", default="adding", choices=("adding", "smnist"))
    p.add_argument("--cells", nargs="+", choices=CELLS, help="default: all, slstm on smnist only")
    p.add_argument("--plot-only", action="store_true", help="plot the JSON records in --out")
    p = sub.add_parser("gradflow", help="|dLoss/dh_t| against t, every cell")
    common(p, T=100)
    p.add_argument("--cells", nargs="+", default=list(rnn.KINDS), choices=rnn.KINDS)
    p.add_argument("--trained", help="folder of an `adding` run's .params.npz files")
    p.add_argument("--trained-T", type=int, default=50, help="T those were trained on")
    p = sub.add_parser("memory", help="peak memory of BPTT with and without checkpointing")
    common(p, T=None)
    p.add_argument("--T", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--cell", default="lstm", choices=rnn.KINDS)
    p.add_argument("--D", type=int, default=32, help="input size")
    p.add_argument("--max-plain-T", type=int, default=1000, help="longer T: checkpointed only")
    return parser


def _quick(args: argparse.Namespace) -> None:
    """Tiny sizes: a smoke test of the whole pipeline in seconds."""
    args.hidden, args.channels, args.batch = 4, 2, 4
    tiny = {"steps": 2, "eval_every": 1, "test_size": 8, "train_size": 8, "epochs": 1}
    for name, value in tiny.items():
        if hasattr(args, name):
            setattr(args, name, value)
    if args.command == "memory":
        args.T = [min(T, 16) for T in args.T]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.dtype = np.dtype(args.dtype)
    if args.quick:
        _quick(args)
    args.out = Path(args.out) if args.out else Path("runs") / "rnn" / args.command
    if args.command in ("adding", "smnist"):
        _train_and_save(args.command, args.cell, args)
    elif args.command == "compare":
        if args.cells is None:
            args.cells = list(CELLS if args.task == "smnist" else rnn.KINDS)
        if args.plot_only:
            paths = [args.out / f"{_run_name(args.task, k, args)}.json" for k in args.cells]
            records = [json.loads(p.read_text()) for p in paths]
        else:
            records = [_train_and_save(args.task, k, args) for k in args.cells]
        name = f"compare_{args.task}" + (f"_T{args.T}" if args.task == "adding" else "")
        _plot_runs(records, args.out / f"{name}.png", name)
        _write(args.out, name, {r["cell"]: r["final"] for r in records})
        for r in records:
            print(f"{r['cell']:10s} test {r['metric']} {r['final']:.4f}")
    elif args.command == "gradflow":
        gradient_flow(args)
    else:
        _memory(args)
    print(f"outputs in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
