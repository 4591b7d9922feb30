"""Write the runner's results: ``report.md``, ``report.json`` and two plots.

``time_ratios.png``: AD (and peer) gradient time over the hand-written one, per model, one
panel per dtype, with the targets. ``checker_errors.png``: the derivation checker's relative
error of every parameter leaf, per model, against the 1e-8 (float64) bound.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.runner import format_table, to_json

__all__ = ["write", "plot_ratios", "plot_errors"]

_BOUND = {"float64": 1e-8, "float32": 1e-3}


def _peers(results: dict) -> list[str]:
    return sorted({p for r in results["models"] for p in r["peers"]})


def plot_ratios(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtypes = sorted({r["dtype"] for r in results["models"]}, reverse=True)
    peers = _peers(results)
    fig, axes = plt.subplots(len(dtypes), 1, figsize=(11, 3.4 * len(dtypes)), squeeze=False)
    for ax, dtype in zip(axes[:, 0], dtypes, strict=True):
        rows = [r for r in results["models"] if r["dtype"] == dtype]
        x = np.arange(len(rows))
        series = [("autodiff", [r["ad_over_hand"] for r in rows])]
        series += [(p, [r["peers"].get(p, np.nan) for r in rows]) for p in peers]
        width = 0.8 / len(series)
        for k, (label, vals) in enumerate(series):
            ax.bar(x + (k - (len(series) - 1) / 2) * width, vals, width, label=label)
        for i, r in enumerate(rows):
            if r["target"]:
                ax.hlines(r["target"], i - 0.45, i + 0.45, colors="k", linestyles="--")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_xticks(x, [r["model"] for r in rows], rotation=35, ha="right")
        ax.set_ylabel("gradient time / hand-written")
        ax.set_title(f"{dtype} (dashed: issue 7 targets)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_errors(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtypes = sorted({r["dtype"] for r in results["models"]}, reverse=True)
    fig, axes = plt.subplots(len(dtypes), 1, figsize=(11, 3.4 * len(dtypes)), squeeze=False)
    for ax, dtype in zip(axes[:, 0], dtypes, strict=True):
        rows = [r for r in results["models"] if r["dtype"] == dtype]
        for i, r in enumerate(rows):
            errs = np.maximum(np.array(list(r["leaves"].values()), float), 1e-18)
            jitter = np.linspace(-0.25, 0.25, len(errs)) if len(errs) > 1 else [0.0]
            ax.scatter(i + np.asarray(jitter), errs, s=12)
        ax.axhline(_BOUND[dtype], color="r", ls="--", label=f"bound {_BOUND[dtype]:g}")
        ax.set_yscale("log")
        ax.set_xticks(range(len(rows)), [r["model"] for r in rows], rotation=35, ha="right")
        ax.set_ylabel("max rel error per leaf\n(exact agreement drawn at 1e-18)")
        ax.set_title(f"derivation checker, AD vs hand, every parameter leaf ({dtype})")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _targets(results: dict) -> list[str]:
    lines = ["| model | dtype | AD/hand | target | grad/fwd (<= 3) | AD mem/hand (<= 1.2) |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for r in results["models"]:
        if r["target"] is None:
            continue
        ok = r["ad_over_hand"] <= r["target"]
        lines.append(
            f"| {r['model']} | {r['dtype']} | {r['ad_over_hand']:.2f} | <= {r['target']} "
            f"{'met' if ok else '**missed**'} | {r['ad_grad_over_fwd']:.2f} "
            f"{'met' if r['ad_grad_over_fwd'] <= 3 else '**missed**'} | "
            f"{r.get('mem_ad_over_hand', float('nan')):.2f} "
            f"{'met' if r.get('mem_ad_over_hand', 0) <= 1.2 else '**missed**'} |"
        )
    return lines


def _peer_errors(results: dict) -> str:
    errs = {}
    for r in results["models"]:
        for p, e in r.get("peer_max_rel_err", {}).items():
            key = (p, r["dtype"])
            errs[key] = max(errs.get(key, 0.0), e)
    if not errs:
        return ""
    return (
        "The peers' gradients are checked the same way; largest relative errors: "
        + ", ".join(f"{p} {d} {e:.1e}" for (p, d), e in sorted(errs.items()))
        + "."
    )


def _jax_note(peers: list[str], env: dict) -> str:
    if "jax" not in peers:
        return ""
    return (
        " JAX is timed as its users run it, `jax.jit(jax.value_and_grad(loss))` compiled "
        "before timing, each call waiting for its results (`block_until_ready`), in float64 "
        f"with `jax_enable_x64`; XLA's thread pool is started on {env['blas_threads'] or 'all'} "
        "CPU(s) (`benchmarks.peers.set_threads`, Linux only)."
    )


def _load(avg) -> str:
    return "?" if avg is None else ", ".join(f"{a:.1f}" for a in avg)


def markdown(results: dict) -> str:
    env = results["environment"]
    peers = _peers(results)
    rows = results["models"]
    worst64 = max((r["max_rel_err"] for r in rows if r["dtype"] == "float64"), default=0.0)
    out = [
        f"# Benchmarks: hand-derived backprop vs the tape ({results['config']})",
        "",
        f"{env['date']}; Python {env['python']}, NumPy {env['numpy']}, {env['cpus']} CPUs "
        f"({env['processor']}), BLAS threads: {env['blas_threads'] or 'default'}; peers: "
        + (", ".join(f"{k} {v}" for k, v in env["peers"].items()) or "none installed")
        + " (HIPS autograd, PyTorch and JAX each get a column when installed).",
        "",
        f"Times ({results.get('clock', 'wall')} clock) are the best of several interleaved "
        "rounds (all functions of a model in turn, each run once untimed before its timed "
        "calls, each round starting one function later); ratios are against the hand-written NumPy "
        "of `benchmarks/manual` in the same run. Memory is the tracemalloc peak of one "
        f"gradient call. Load average (1, 5, 15 min) at the start: "
        f"{_load(env.get('load_average_start'))}, at the end: {_load(env.get('load_average_end'))}"
        " (2 cores shared with other jobs). Malloc: "
        f"{env.get('malloc', 'default')} (`benchmarks.runner.steady_malloc`: the same "
        "allocator state for every model, whatever ran before it)." + _jax_note(peers, env),
        "",
        "## Targets (issue 7)",
        "",
        *_targets(results),
        "",
        f"Largest relative error AD vs hand over every float64 leaf: {worst64:.1e} "
        f"({'within' if worst64 <= 1e-8 else '**above**'} the 1e-8 bound; the checker's "
        "relative error floors a leaf's scale at 1e-6 of the largest gradient entry, so a "
        "gradient that is zero in theory, such as zca's b0 after centring, compares its "
        "rounding noise to that). " + _peer_errors(results),
        "",
        "## All models",
        "",
        format_table(rows, peers, markdown=True),
        "",
        "![time ratios](time_ratios.png)",
        "",
        "![checker errors](checker_errors.png)",
        "",
    ]
    if results.get("planted"):
        out += [
            "## The derivation checker on planted BPTT mistakes",
            "",
            "`benchmarks.manual.rnn.lstm_loss_and_grads_planted` reproduces two LSTM mistakes "
            "attributed to popular hand derivations (dropping the recurrent term da_t Wh^T from "
            "dh_{t-1}; dropping dc_{t-1} = dc_t f_t). `autodiff.derivcheck.check_derivation` "
            "(4 sequences of 12 steps, hidden 8) finds both and the first time step where "
            "they go wrong; the correct derivation passes:",
            "",
        ]
        for name, rep in results["planted"].items():
            out += [f"### {name}", "", "```", rep["text"], "```", ""]
    epoch = results.get("lenet5_epoch")
    if epoch:
        how = ("a full epoch" if epoch["measured_steps"] == epoch["batches"]
               else f"{epoch['measured_steps']} steps, scaled to {epoch['batches']}")  # fmt: skip
        out += [
            "## LeNet-5 training on MNIST",
            "",
            f"Seconds per epoch ({epoch.get('clock', 'wall')} clock; 60,000 images, batch "
            f"{epoch['batch_size']}, SGD; {how}): "
            f"autodiff {epoch['ad_s_per_epoch']:.1f} s, "
            f"hand-written {epoch['hand_s_per_epoch']:.1f} s.",
            "",
        ]  # fmt: skip
    if results.get("core"):
        out += ["## Core engine benchmarks (benchmarks/core.py)", ""]
        for name, res in results["core"].items():
            out.append(f"- {name}: " + ", ".join(f"{k} {v:.3g}" for k, v in res.items()))
        out.append("")
    if results.get("profiles"):
        out += [
            "## Where the AD time goes (benchmarks/opprofile.py, microseconds per gradient)",
            "",
        ]
        for name, table in results["profiles"].items():
            out += [f"### {name}", "", "| label | us | calls |", "|---|---|---|"]
            out += [f"| {lab} | {us:.0f} | {calls:g} |" for lab, us, calls in table]
            out.append("")
    return "\n".join(out)


def write(results: dict, out: Path) -> None:
    """report.md, report.json, time_ratios.png and checker_errors.png in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    to_json(results, out / "report.json")
    plot_ratios(results, out / "time_ratios.png")
    plot_errors(results, out / "checker_errors.png")
    (out / "report.md").write_text(markdown(results))
