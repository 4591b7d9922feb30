"""Run every case: check AD against the hand derivation, time both, and write the report.

For each model and dtype: the parameter count, the derivation checker's errors per leaf,
gradient and forward times of the hand-written code, of the tape and of the peer libraries
(all in one interleaved round-robin, best of ``repeats``), and the peak memory (tracemalloc)
of each gradient. ``run`` returns the results as a dict and writes ``report.md``,
``report.json`` and the plots into ``out``.
"""

from __future__ import annotations

import datetime
import functools
import importlib.util
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from autodiff import tree_leaves
from autodiff.derivcheck import compare_grads
from benchmarks import peers as _peers
from benchmarks.cases import CASES, QUICK, get_case
from benchmarks.timing import interleaved_times, peak_memory

__all__ = ["CONFIGS", "measure", "run", "format_table", "steady_malloc"]

# repeats: timing rounds; min_time: seconds a round of the slowest function lasts at least
CONFIGS = {
    "tiny": {"size": "tiny", "repeats": 2, "min_time": 0.0, "models": ("mlp", "regress-l1-l2")},
    "quick": {"size": "bench", "repeats": 5, "min_time": 0.03, "models": QUICK},
    "full": {"size": "bench", "repeats": 15, "min_time": 0.2, "models": tuple(CASES)},
}
DTYPES = ("float64", "float32")


def _value(v: Any) -> float:
    v = v[0] if isinstance(v, tuple) else v  # the GAN returns (d_loss, g_loss)
    return float(np.asarray(v))


def cpu_times(fns: dict, repeats: int = 7, min_time: float = 0.0) -> dict[str, float]:
    """``interleaved_times`` on the process CPU clock instead of the wall clock.

    On a shared machine the wall clock also counts the time other processes hold the core;
    CPU time counts only this process's own work, so ratios stay put under load. It assumes
    single-threaded BLAS (the command line's default): idle BLAS threads spin and would count.
    """
    return interleaved_times(fns, repeats=repeats, min_time=min_time, clock=time.process_time)


def measure(name: str, dtype: str, size: str = "bench", repeats: int = 5, min_time: float = 0.0,
            peers: tuple[str, ...] = (), memory: bool = True, seed: int = 0,
            clock: str = "cpu") -> dict:  # fmt: skip
    """All numbers of one case in one dtype (see the module docstring)."""
    case = get_case(name)
    params, batch = case.make(np.random.default_rng(seed), np.dtype(dtype), size)
    hand_value, hand_grads = case.hand(params, batch)
    ad_value, ad_grads = case.ad(params, batch)
    check = compare_grads(ad_grads, hand_grads)
    out_dtypes = {str(np.asarray(g).dtype) for g in tree_leaves(ad_grads)}
    fns = {
        "hand": lambda: case.hand(params, batch),
        "ad": lambda: case.ad(params, batch),
        "hand_fwd": lambda: case.hand_forward(params, batch),
        "ad_fwd": lambda: case.ad_forward(params, batch),
    }
    peer_errors = {}
    for peer in peers:
        if peer in case.peers and importlib.util.find_spec(peer) is not None:
            fns[peer] = _peers.build(peer, name, params, batch)
            peer_errors[peer] = compare_grads(fns[peer]()[1], hand_grads).max_rel
    timer = cpu_times if clock == "cpu" else interleaved_times
    times = timer(fns, repeats=repeats, min_time=min_time)
    res = {
        "model": name,
        "what": case.what,
        "dtype": dtype,
        "params": int(sum(np.size(v) for v in tree_leaves(params))),
        "loss_hand": _value(hand_value),
        "loss_ad": _value(ad_value),
        "grad_dtypes": sorted(out_dtypes),
        "max_rel_err": check.max_rel,
        "leaves": {lf.path: lf.max_rel for lf in check.leaves},
        "ok": check.ok,
        "times": times,
        "ad_over_hand": times["ad"] / times["hand"],
        "ad_grad_over_fwd": times["ad"] / times["ad_fwd"],
        "hand_grad_over_fwd": times["hand"] / times["hand_fwd"],
        "peers": {p: times[p] / times["hand"] for p in peer_errors},
        "peer_max_rel_err": peer_errors,
        "target": case.target,
    }
    if memory:
        mem = {k: peak_memory(f) for k, f in fns.items() if k in ("hand", "ad", "ad_fwd")}
        if "autograd" in fns:
            mem["autograd"] = peak_memory(fns["autograd"])
        res["memory"] = mem
        res["mem_ad_over_hand"] = mem["ad"] / max(mem["hand"], 1)
    return res


def _lenet5_epoch(full: bool, steps: int = 20, clock: str = "cpu") -> dict | None:
    """Seconds per epoch of LeNet-5 on MNIST's 60,000 training images, batch 64, plain SGD.

    ``full`` runs a whole epoch (AD and hand); otherwise ``steps`` steps are timed and scaled.
    """
    try:
        from nn.data import lenet_input, load_mnist

        images, labels = load_mnist(split="train")
    except (OSError, ValueError):
        return None
    from benchmarks.manual import lenet5

    case = get_case("lenet5")
    x_all, batch_size = lenet_input(images), 64
    n_batches = math.ceil(len(x_all) / batch_size)
    run_steps = n_batches if full else steps
    now = time.process_time if clock == "cpu" else time.perf_counter
    res = {"batches": n_batches, "measured_steps": run_steps, "batch_size": batch_size,
           "clock": clock}  # fmt: skip
    for who, grads_fn in (("ad", case.ad), ("hand", case.hand)):
        params = lenet5.init_params(np.random.default_rng(0))
        order = np.random.default_rng(1).permutation(len(x_all))
        start = now()
        for k in range(run_steps):
            idx = order[k * batch_size : (k + 1) * batch_size]
            _, g = grads_fn(params, (x_all[idx], labels[idx].astype(np.intp)))
            params = {
                m: {k2: v - 0.01 * g[m][k2] for k2, v in pm.items()} for m, pm in params.items()
            }
        res[f"{who}_s_per_epoch"] = (now() - start) / run_steps * n_batches
    return res


def planted_checks() -> dict:
    """The derivation checker on the hand LSTM with each planted BPTT mistake (and without)."""
    from autodiff.derivcheck import check_derivation
    from benchmarks.manual import rnn
    from nn.models.rnn import sequence_loss

    rng = np.random.default_rng(0)
    params = rnn.init_params(rng, "lstm", 3, 8, 2)
    x, t = rnn.make_batch(rng, "lstm", 4, 12, 3, 8, 2)

    def loss(p, x, t):
        return sequence_loss(p, x, t, "lstm")

    hands = {"correct": lambda p, x, t: rnn.loss_and_grads(p, (x, t), "lstm")}
    for mistake in ("dh_recurrent", "dc_forget"):
        hands[mistake] = lambda p, x, t, m=mistake: rnn.lstm_loss_and_grads_planted(
            p, (x, t), mistake=m
        )
    out = {}
    for name, hand in hands.items():
        report = check_derivation(loss, hand, params, x, t, time_axis=1)
        out[name] = {**report.to_dict(), "text": str(report)}
    return out


def _core(quick: bool) -> dict:
    from benchmarks import core

    return {
        "overhead (2,000-op chain, 10 elements)": core.overhead(repeats=5 if quick else 15),
        "large arrays (20 ops, 2e6 float64)": core.large_arrays(repeats=2 if quick else 7),
        "checkpoint (16 blocks of 30 ops, 2e5 float64)": core.checkpoint_memory(),
    }


# glibc's mallopt parameters, and the values its own dynamic thresholds reach once a
# process has freed a 32 MiB block (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_STEADY_MMAP, _STEADY_TRIM = 32 << 20, 64 << 20


def steady_malloc() -> str:
    """Fix glibc malloc's mmap and trim thresholds; returns what was done, for the report.

    glibc raises both thresholds each time the process frees a block larger than the
    current one (up to 32 MiB). Until then, arrays of 128 KiB or more are mapped afresh and
    a free top of heap over 128 KiB is returned to the system, so the next gradient faults
    its pages in again. A model's times thus depended on which models had run before it in
    the process (measured: the hand GRU 13.2-13.4 ms first, 11.1-11.5 ms after LeNet-5).
    Fixing them at the values the dynamic thresholds reach times every model, alone or in
    a full run, in the same state, the one a long training process settles into. Other C
    libraries are left as they are.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or not name:
        return "default (not glibc)"
    libc = ctypes.CDLL(name)
    ok = libc.mallopt(_M_MMAP_THRESHOLD, _STEADY_MMAP) and libc.mallopt(
        _M_TRIM_THRESHOLD, _STEADY_TRIM
    )
    if not ok:
        return "default (mallopt failed)"
    return (
        f"glibc, mmap threshold {_STEADY_MMAP >> 20} MiB, trim threshold {_STEADY_TRIM >> 20} MiB"
    )


def _environment(threads: int | None) -> dict:
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "blas_threads": threads,
        "load_average_start": os.getloadavg(),
        "peers": {p: _version(p) for p in _peers.available()},
    }


def _version(module: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return "?"


def run(config: str = "quick", models: tuple[str, ...] | None = None, out: str | Path | None = None,
        dtypes: tuple[str, ...] = DTYPES, peers: tuple[str, ...] | None = None,
        core: bool = True, lenet_epoch: bool = True, profile: bool = False,
        threads: int | None = None, progress: bool = True, clock: str = "cpu") -> dict:  # fmt: skip
    """Measure ``models`` (default: the config's) in ``dtypes``; write the report into ``out``."""
    cfg = CONFIGS[config]
    models = tuple(models or cfg["models"])
    for m in models:
        get_case(m)
    peers = tuple(_peers.available() if peers is None else peers)
    if threads:
        _peers.set_threads(threads, peers)
    env = {**_environment(threads), "malloc": steady_malloc()}
    tasks = [(m, d) for m in models for d in dtypes]
    bar = _progress(len(tasks) + core + lenet_epoch, progress)
    results: dict[str, Any] = {"config": config, "clock": clock,
                               "environment": env}  # fmt: skip
    rows = []
    for m, d in tasks:
        bar.set_description(f"{m} {d}")
        rows.append(measure(m, d, cfg["size"], cfg["repeats"], cfg["min_time"], peers, clock=clock))
        bar.update()
    results["models"] = rows
    results["planted"] = planted_checks()
    if core:
        bar.set_description("core benchmarks")
        results["core"] = _core(config != "full")
        bar.update()
    if lenet_epoch:
        bar.set_description("LeNet-5 epoch")
        results["lenet5_epoch"] = _lenet5_epoch(config == "full", clock=clock)
        bar.update()
    if profile:
        targets = [m for m in models if get_case(m).target]
        results["profiles"] = _profiles(targets, cfg["size"], clock)
    bar.close()
    results["environment"]["load_average_end"] = os.getloadavg()
    if out is not None:
        from benchmarks import report

        report.write(results, Path(out))
    return results


def _profiles(models: list[str], size: str, clock: str = "cpu") -> dict:
    """Per-op time tables (benchmarks.opprofile) of the AD gradient and the hand gradient."""
    from benchmarks.opprofile import profile

    profiles = {}
    for m in models:
        case = get_case(m)
        for dtype in DTYPES:
            params, batch = case.make(np.random.default_rng(0), np.dtype(dtype), size)
            fn = functools.partial(case.ad, params, batch)
            runs = max(3, int(0.5 / max(_once(fn), 1e-4)))
            now = time.thread_time if clock == "cpu" else time.perf_counter
            profiles[f"{m} {dtype}"] = profile(fn, runs=runs, top=25, clock=now)
    return profiles


def _once(f, clock=time.perf_counter) -> float:
    start = clock()
    f()
    return clock() - start


class _NoBar:
    def set_description(self, s: str) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, unit="task", leave=False)


def _fmt_ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def format_table(rows: list[dict], peers: list[str], markdown: bool = False) -> str:
    """The results as an aligned text table (or a Markdown table)."""
    head = ["model", "dtype", "params", "max rel err", "hand grad ms", "AD/hand"]
    head += [f"{p}/hand" for p in peers]
    head += ["fwd ms hand/AD", "AD grad/fwd", "hand grad/fwd", "peak MB hand/AD", "AD mem/hand",
             "target"]  # fmt: skip
    lines = []
    for r in rows:
        t = r["target"]
        verdict = "-" if t is None else ("ok" if r["ad_over_hand"] <= t else "MISSED") + f" <={t}"
        cells = [r["model"], r["dtype"], f"{r['params']:,}", f"{r['max_rel_err']:.1e}",
                 f"{r['times']['hand'] * 1e3:.3f}", _fmt_ratio(r["ad_over_hand"])]  # fmt: skip
        cells += [_fmt_ratio(r["peers"].get(p)) for p in peers]
        t_ = r["times"]
        mem = r.get("memory", {})
        cells += [f"{t_['hand_fwd'] * 1e3:.3f}/{t_['ad_fwd'] * 1e3:.3f}",
                  _fmt_ratio(r["ad_grad_over_fwd"]), _fmt_ratio(r["hand_grad_over_fwd"]),
                  f"{mem['hand'] / 2**20:.2f}/{mem['ad'] / 2**20:.2f}" if mem else "-",
                  _fmt_ratio(r.get("mem_ad_over_hand")), verdict]  # fmt: skip
        lines.append(cells)
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(out + ["| " + " | ".join(c) + " |" for c in lines])
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*head), *(fmt.format(*c) for c in lines)])


def to_json(results: dict, path: Path) -> None:
    path.write_text(json.dumps(results, indent=1, default=_json_default))


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")
