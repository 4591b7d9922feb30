"""The benchmark runner end to end on a tiny configuration, and its command line."""

import json
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import __main__ as cli
from benchmarks.opprofile import profile
from benchmarks.runner import format_table, measure, run
from benchmarks.timing import interleaved_times

ROOT = Path(__file__).resolve().parents[2]


def test_run_tiny_writes_report_json_and_plots(tmp_path):
    results = run("tiny", out=tmp_path, core=False, lenet_epoch=False, progress=False)
    for name in ("report.md", "report.json", "time_ratios.png", "checker_errors.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    data = json.loads((tmp_path / "report.json").read_text())
    assert {r["model"] for r in data["models"]} == {"mlp", "regress-l1-l2"}
    assert {r["dtype"] for r in data["models"]} == {"float64", "float32"}
    for r in results["models"]:
        bound = 1e-8 if r["dtype"] == "float64" else 1e-3
        assert r["max_rel_err"] <= bound and r["ok"]
        assert r["grad_dtypes"] == [r["dtype"]]
        assert r["ad_over_hand"] > 0 and r["memory"]["ad"] > 0
    text = (tmp_path / "report.md").read_text()
    assert "| mlp | float64 |" in text and "time_ratios.png" in text
    planted = data["planted"]
    assert planted["correct"]["ok"] and planted["correct"]["first_bad_step"] is None
    for mistake in ("dh_recurrent", "dc_forget"):
        assert not planted[mistake]["ok"] and planted[mistake]["first_bad_step"] == 1
    assert "first disagreeing time step: t = 1" in text
    assert data["environment"]["malloc"] in text


_FAULTS = """
import resource, sys
import numpy as np
from benchmarks.runner import steady_malloc
what = steady_malloc() if sys.argv[1] == "steady" else "default"
for _ in range(3):  # 64 arrays of 64 KiB freed (as a backward sweep frees a tape), then made again
    a = [np.ones(1 << 13) for _ in range(64)]
    del a
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = [np.ones(1 << 13) for _ in range(64)]
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del a
print(faults)
print(what)
"""


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt"
)
def test_steady_malloc_keeps_freed_memory_in_the_heap():
    def faults(mode):
        out = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True,
                             text=True, check=True, cwd=ROOT)  # fmt: skip
        n, what = out.stdout.splitlines()
        return int(n), what

    # by default glibc returns the freed top of the heap to the system: most of 1024 pages
    assert faults("default")[0] > 256
    n, what = faults("steady")
    assert "mmap threshold 32 MiB" in what and n < 16


def test_measure_with_autograd_peer_checks_its_gradient_too():
    res = measure("mlp", "float64", "tiny", repeats=1, peers=("autograd",), memory=False)
    if "autograd" in res["peers"]:
        assert res["peer_max_rel_err"]["autograd"] < 1e-8
    assert "mlp" in format_table([res], sorted(res["peers"]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_measure_with_jax_peer_checks_its_jitted_gradient(dtype):
    pytest.importorskip("jax", reason="JAX is an optional peer, not installed here")
    res = measure("mlp", dtype, "tiny", repeats=1, peers=("jax",), memory=False)
    assert res["peer_max_rel_err"]["jax"] < (1e-12 if dtype == "float64" else 1e-5)
    assert res["peers"]["jax"] > 0 and "jax/hand" in format_table([res], ["jax"])


def test_jax_peer_keeps_the_dtype_of_every_leaf():
    pytest.importorskip("jax", reason="JAX is an optional peer, not installed here")
    from autodiff import tree_leaves
    from benchmarks import peers
    from benchmarks.cases import get_case

    for dtype in ("float64", "float32"):
        params, batch = get_case("lstm-hoisted").make(np.random.default_rng(0), dtype, "tiny")
        value, grads = peers.build("jax", "lstm-hoisted", params, batch)()
        assert {g.dtype for g in tree_leaves(grads)} == {value.dtype} == {np.dtype(dtype)}


def test_cli_lists_models(capsys):
    assert cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "lenet5" in out and "lstm" in out


def test_opprofile_charges_time_to_rules():
    import autodiff.numpy as anp
    from autodiff import grad

    rows = profile(lambda: grad(lambda x: anp.sum(anp.tanh(x) * x))(np.ones(5)), runs=3)
    labels = {r[0] for r in rows}
    assert {"vjp:tanh[0]", "fwd:tanh", "sweep", "other"} <= labels


def test_interleaved_times_warms_each_function_and_rotates_the_order():
    calls = []
    ticks = iter(range(10_000))
    fns = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    best = interleaved_times(fns, repeats=3, number=2, clock=lambda: next(ticks))
    assert set(best) == set("abc")
    rounds = calls[3:]  # after the initial warm-up of every function
    assert len(rounds) == 3 * 3 * 3
    blocks = [rounds[k : k + 3] for k in range(0, len(rounds), 3)]
    # each timed block of 2 calls follows one untimed call of the same function
    assert all(len(set(b)) == 1 for b in blocks)
    # the first function of a round changes from round to round
    assert [blocks[3 * r][0] for r in range(3)] == ["a", "b", "c"]
