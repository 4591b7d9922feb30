"""The tutorial reproductions run end to end (a few steps each) and write their plots."""

import json

import pytest

from benchmarks import experiments


def _mnist_available():
    try:
        from nn.data import find_mnist_dir

        find_mnist_dir()
    except (OSError, ValueError):
        return False
    return True


def test_regression_experiment_writes_plot_and_json(tmp_path):
    assert experiments.main(["regression", "--steps", "3", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "regression.json").read_text())
    assert len(res) == 6 and all(len(r["loss"]) == 3 for r in res.values())
    assert (tmp_path / "regression.png").stat().st_size > 0


@pytest.mark.skipif(not _mnist_available(), reason="MNIST files not found")
@pytest.mark.parametrize("name", ["optimizers", "dni"])
def test_mnist_experiments_run(tmp_path, name):
    assert experiments.main([name, "--steps", "2", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / f"{name}.json").read_text())
    assert len(res) == (12 if name == "optimizers" else 3)
    assert (tmp_path / f"{name}.png").stat().st_size > 0
