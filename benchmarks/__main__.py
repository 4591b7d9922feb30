"""``python -m benchmarks [--quick | --full] [--out DIR] [--models ...]``.

Checks every hand derivation of ``benchmarks/manual`` against the tape and times both (and
HIPS autograd / PyTorch / JAX when installed); prints a table and writes
``benchmarks/results/<date>/report.md``, ``report.json`` and plots. BLAS runs one thread by
default (``--threads``): on a shared machine multi-threaded BLAS timings swing by 10x when
another process takes a core, and both sides of every ratio use the same BLAS. Times are
process CPU time by default (``--clock wall`` for the wall clock): other processes' load
inflates it much less than the wall clock (it still shares caches with them).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="one model per family (default)")
    mode.add_argument("--full", action="store_true", help="every model, more repeats")
    p.add_argument("--out", help="output folder (default benchmarks/results/<date>)")
    p.add_argument("--models", nargs="+", help="only these models (see --list)")
    p.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    p.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="time on the process CPU clock (default; robust to load) or wall clock",
    )
    p.add_argument("--no-core", action="store_true", help="skip benchmarks/core.py")
    p.add_argument("--no-peers", action="store_true", help="skip the autograd/PyTorch/JAX columns")
    p.add_argument("--no-epoch", action="store_true", help="skip the LeNet-5 MNIST epoch")
    p.add_argument("--profile", action="store_true", help="per-op AD time of the target models")
    p.add_argument("--list", action="store_true", help="list the models and exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))  # before NumPy loads BLAS

    from benchmarks.cases import CASES
    from benchmarks.runner import format_table, run

    if args.list:
        for name, case in CASES.items():
            print(f"{name:16s} {case.what}")
        return 0
    config = "full" if args.full else "quick"
    unknown = [m for m in args.models or () if m not in CASES]
    if unknown:
        print(f"unknown model(s) {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    out = (
        Path(args.out)
        if args.out
        else Path(__file__).parent / "results" / str(datetime.date.today())
    )
    results = run(
        config,
        models=tuple(args.models) if args.models else None,
        out=out,
        dtypes=tuple(args.dtypes),
        peers=() if args.no_peers else None,
        core=not args.no_core,
        lenet_epoch=not args.no_epoch,
        profile=args.profile,
        threads=int(os.environ["OPENBLAS_NUM_THREADS"]),
        clock=args.clock,
    )
    peers = sorted({p for r in results["models"] for p in r["peers"]})
    print(format_table(results["models"], peers))
    print(f"\nreport: {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
