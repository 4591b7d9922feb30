"""nn.models.lenet5: the AD gradient equals the hand-written backprop, the Gauss-Newton
estimate is unbiased, and the training command runs, reports and resumes exactly."""

import json

import numpy as np
import pytest

from autodiff import check_grads, hessian, tree_leaves, value_and_grad, vjp
from benchmarks.manual import lenet5 as hand
from nn.data import MNIST_FILES, write_idx
from nn.distort import DEFAULT_RANGES
from nn.losses import lenet5_map_loss, softmax_cross_entropy
from nn.models import lenet5
from nn.models.lenet5_train import Config, train


def _randomised(rng, dtype=np.float64):
    """Faithful params with nonzero biases and coefficients, so every gradient term shows."""
    params = lenet5.init(rng, dtype=dtype)
    for layer in params.values():
        for name, leaf in layer.items():
            if name != "w":
                layer[name] = (leaf + rng.uniform(-0.5, 0.5, leaf.shape)).astype(dtype)
    return params


@pytest.mark.parametrize("j", [1.0, 0.2, 40.0])
def test_ad_gradient_equals_hand_written_backprop(j):
    rng = np.random.default_rng(1)
    params, batch = _randomised(rng), hand.make_batch(rng, 6)
    value, grads = value_and_grad(lenet5.loss)(params, batch, j)
    hand_value, hand_grads = hand.loss_and_grads(params, batch, j)
    assert abs(value - hand_value) <= 1e-12 * abs(hand_value)
    for layer in hand_grads:
        for name, expected in hand_grads[layer].items():
            got = grads[layer][name]
            assert got.shape == expected.shape and got.dtype == np.float64
            err = np.abs(got - expected).max() / np.abs(expected).max()
            assert err < 1e-8, (layer, name, err)


def test_float32_stays_float32():
    rng = np.random.default_rng(2)
    p32 = _randomised(rng, np.float32)
    x, labels = hand.make_batch(rng, 4, np.float32)
    value, grads = value_and_grad(lenet5.loss)(p32, (x, labels))
    assert value.dtype == np.float32
    assert all(g.dtype == np.float32 for g in tree_leaves(grads))
    for name in ("features", "apply"):
        assert all(np.asarray(v).dtype == np.float32 for v in tree_leaves(
            getattr(lenet5, name)(p32, x)))  # fmt: skip
    _, hand_grads = hand.loss_and_grads(p32, (x, labels))
    for got, expected in zip(tree_leaves(grads), tree_leaves(hand_grads), strict=True):
        assert np.abs(got - expected).max() <= 1e-3 * np.abs(expected).max()


def test_init_and_centres_match_the_hand_written_model():
    for dtype in (np.float64, np.float32):
        ours = lenet5.init(np.random.default_rng(5), dtype=dtype)
        theirs = hand.init_params(np.random.default_rng(5), dtype=dtype)
        for a, b in zip(tree_leaves(ours), tree_leaves(theirs), strict=True):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(lenet5.rbf_centres(), hand.rbf_centres())  # the shared file
    np.testing.assert_array_equal(lenet5.c3_mask(), hand.c3_mask())
    assert lenet5.c3_mask().sum(axis=0).ravel().tolist() == [10] * 6  # Table I: 10 per S2 map


def test_modern_variant_shapes_grads_and_prediction():
    rng = np.random.default_rng(3)
    params = lenet5.init(rng, "modern")
    params = {k: {n: v + 0.01 * rng.normal(size=v.shape) for n, v in layer.items()}
              for k, layer in params.items()}  # fmt: skip
    x, labels = hand.make_batch(rng, 2)
    feats = lenet5.features(params, x)
    assert feats["S2"].shape == (2, 6, 14, 14) and feats["output"].shape == (2, 10)
    assert params["C3"]["w"].shape == (16, 6, 5, 5)  # full C3
    check_grads(lambda p: lenet5.loss(p, (x, labels)), params, modes=("rev",), order=1)
    np.testing.assert_array_equal(lenet5.predict(params, x), feats["output"].argmax(axis=1))
    faithful = lenet5.init(rng)
    np.testing.assert_array_equal(
        lenet5.predict(faithful, x, batch_size=1), lenet5.apply(faithful, x).argmin(axis=1)
    )
    with pytest.raises(ValueError, match="neither faithful"):
        lenet5.apply({"C1": params["C1"]}, x)
    with pytest.raises(ValueError, match=r"shape \(N, 1, 32, 32\)"):
        lenet5.apply(params, x[:, :, :28, :28])


@pytest.mark.parametrize("variant", ["faithful", "modern"])
def test_loss_hessian_probe_has_the_loss_hessian_as_covariance(variant):
    rng = np.random.default_rng(4)
    params = _randomised(rng) if variant == "faithful" else lenet5.init(rng, variant)
    x, _ = hand.make_batch(rng, 1)
    split = "F6" if variant == "faithful" else "output"
    out = lenet5.features(params, x)[split][0]
    j = 2.0

    def loss_of_outputs(o):  # the label does not matter for the Hessian
        if variant == "faithful":
            d = o[None, None, :] - lenet5.rbf_centres()
            return lenet5_map_loss((d * d).sum(axis=2), np.array([3]), j)
        return softmax_cross_entropy(o[None], np.array([3]))

    expected = hessian(loss_of_outputs)(out)
    m = 40000
    s = lenet5._loss_hessian_probe(np.repeat(out[None], m, axis=0), variant == "faithful", j, rng)
    cov = s.T @ s / m
    scale = np.sqrt(np.outer(np.diag(expected), np.diag(expected))) + 1e-3 * np.abs(expected).max()
    assert np.abs(cov - expected).max() / np.abs(expected).max() < 0.05
    assert np.all(np.abs(cov - expected) <= 6 * scale * np.sqrt(2 / m) + 1e-12)


def test_gauss_newton_diag_is_unbiased_for_one_pattern():
    rng = np.random.default_rng(6)
    params = lenet5.init(rng, "modern")
    x, _ = hand.make_batch(rng, 1)
    # exact diag(J^T H J) from the 10 columns of L, H = L L^T = diag(q) - q q^T
    out, pullback = vjp(lambda p: lenet5.apply(p, x), params)
    q = np.exp(out - out.max())
    q = (q / q.sum())[0]
    cols = (np.eye(10) - q[:, None]) * np.sqrt(q)  # column c of L
    exact = [0.0 * v for v in tree_leaves(params)]
    for c in range(10):
        exact = [e + g * g for e, g in zip(exact, tree_leaves(pullback(cols[:, c][None])[0]),
                                           strict=True)]  # fmt: skip
    estimate = lenet5.gauss_newton_diag(params, np.repeat(x, 300, axis=0), rng)
    for e, g in zip(exact, tree_leaves(estimate), strict=True):
        assert g.dtype == e.dtype and g.min() >= 0
        assert abs(g.sum() / e.sum() - 1) < 0.15


def _write_mnist(folder, n_train=48, n_test=24, seed=0):
    """Tiny synthetic MNIST: each digit d is a bright bar at a d-dependent place, plus noise."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for i, d in enumerate(labels):
            images[i, 4 + 2 * d : 6 + 2 * d, 6:22] = 255
        image_name, label_name = MNIST_FILES[split]
        write_idx(folder / image_name, images, gzip=split == "train")
        write_idx(folder / label_name, labels)


def test_cli_quick_runs_end_to_end_and_writes_the_report(tmp_path, capsys):
    data, out = tmp_path / "mnist", tmp_path / "run"
    data.mkdir()
    _write_mnist(data)
    argv = ["train", "--quick", "--data", str(data), "--out", str(out), "--epochs", "1",
            "--train-size", "48", "--test-size", "24", "--batch-size", "16",
            "--distort", "translate=1,shear=0.1", "--no-progress"]  # fmt: skip
    assert lenet5.main(argv) == 0
    log = capsys.readouterr().out
    assert "pass  1/1" in log and "test error" in log
    pngs = ["learning_curves", "confusion_matrix", "misclassified", "feature_maps"]
    for name in pngs:
        assert (out / "report" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = json.loads((out / "history.json").read_text())
    assert history["config"]["dtype"] == "float32" and len(history["test_error"]) == 1
    assert history["config"]["distort"] == {**DEFAULT_RANGES, "translate": 1.0, "shear": 0.1}
    ckpt = out / "checkpoints" / "epoch_001.npz"
    (out / "report" / "feature_maps.png").unlink()
    assert lenet5.main(["report", str(ckpt), "--data", str(data)]) == 0
    assert (out / "report" / "feature_maps.png").exists()
    assert lenet5.main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(out)]) == 1
    assert "MNIST not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        lenet5.main(["train", "--distort", "translate:2"])
    assert "expected NAME=VALUE,..." in capsys.readouterr().err


@pytest.mark.parametrize(
    "variant, distort", [("faithful", False), ("modern", False), ("faithful", True)]
)
def test_resume_gives_exactly_the_uninterrupted_run(tmp_path, variant, distort):
    data = tmp_path / "mnist"
    data.mkdir()
    _write_mnist(data, n_train=40, n_test=10)
    settings = dict(variant=variant, batch_size=8, hessian_patterns=6, warmup_steps=3,
                    train_size=40, test_size=10, dtype="float64", distort=distort)  # fmt: skip
    quiet = dict(data=data, progress=False, report=False, log=lambda *a: None)
    full = train(Config(epochs=2, **settings), out=tmp_path / "full", **quiet)
    train(Config(epochs=1, **settings), out=tmp_path / "part", **quiet)
    resumed = train(
        Config(epochs=2), out=tmp_path / "part", resume=tmp_path / "part/checkpoints/epoch_001.npz",
        **quiet,
    )  # fmt: skip
    assert resumed["config"] == full["config"]
    ours = tree_leaves((resumed["params"], resumed["opt_state"]))
    for a, b in zip(tree_leaves((full["params"], full["opt_state"])), ours, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    for key in ("loss", "train_error", "test_error", "lr"):
        assert full["history"][key] == resumed["history"][key]
    if distort:  # the patterns were distorted: the same run without distortions differs
        plain = train(Config(epochs=1, **{**settings, "distort": False}), **quiet)
        assert plain["history"]["loss"][0] != full["history"]["loss"][0]


def test_config_distort_ranges():
    assert Config(distort=True).distort == DEFAULT_RANGES
    assert Config(distort={"shear": 0}).distort == {**DEFAULT_RANGES, "shear": 0.0}
    assert Config(distort={}).distort is False
    with pytest.raises(ValueError, match=r"unknown ranges \['rotate'\]"):
        Config(distort={"rotate": 10})
    with pytest.raises(ValueError, match="translate must be >= 0"):
        Config(distort={"translate": -1})
    with pytest.raises(TypeError, match="bool or a dict"):
        Config(distort="yes")
