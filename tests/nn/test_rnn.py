"""nn.models.rnn against the hand-derived BPTT of benchmarks/manual/rnn.py, and nn.rnn's CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autodiff import check_grads, grad, tree_flatten, tree_map, value_and_grad
from autodiff.tree import tree_structure
from benchmarks.manual import rnn as hand
from nn import optim
from nn import rnn as cli
from nn.data import write_idx
from nn.models import rnn
from nn.tasks import patch_grid

KINDS = rnn.KINDS
DENSE = tuple(k for k in KINDS if k != "convugrnn")


def _problem(kind, T, last_only, seed=0, dtype=np.float64):
    """SPEC.md params and batch from the hand derivation's own generators."""
    rng = np.random.default_rng(seed)
    D, H, O = (3, 3, None) if kind == "convugrnn" else (4, 4, 2)  # noqa: E741
    params = hand.init_params(rng, kind, D if kind != "convugrnn" else 2, H, O, dtype=dtype)
    D = 2 if kind == "convugrnn" else D
    x, y = hand.make_batch(rng, kind, 3, T, D, H, O, dtype, last_only, spatial=(4, 5))
    return params, x, y


def _max_rel(a, b):
    la, lb = tree_flatten(a)[0], tree_flatten(b)[0]
    return max(
        float(np.max(np.abs(u - v)) / np.max(np.abs(v))) for u, v in zip(la, lb, strict=True)
    )


@pytest.mark.parametrize("last_only", [False, True])
@pytest.mark.parametrize("T", [3, 4])
@pytest.mark.parametrize("kind", KINDS)
def test_rnn_value_and_grad_equal_hand_bptt(kind, T, last_only):
    params, x, y = _problem(kind, T, last_only, seed=T)
    want_value, want = hand.loss_and_grads(params, (x, y), kind, last_only)
    value, got = value_and_grad(rnn.sequence_loss)(params, x, y, kind, last_only)
    assert abs(value - want_value) <= 1e-12 * abs(want_value)
    assert tree_structure(got) == tree_structure(want)
    assert _max_rel(got, want) < 1e-8


@pytest.mark.parametrize("kind", KINDS)
def test_hidden_grads_equal_hand_bptt(kind):
    params, x, y = _problem(kind, 4, True)
    want = hand.bptt_hidden_grads(params, (x, y), kind, last_only=True)
    np.testing.assert_allclose(rnn.hidden_grads(params, x, y, kind), want, rtol=1e-10, atol=1e-14)


def test_init_model_has_the_hand_pytree():
    rng = np.random.default_rng(0)
    for kind in DENSE:
        p = rnn.init_model(rng, kind, 4, 4, 2)
        q = hand.init_params(rng, kind, 4, 4, 2)
        assert tree_map(np.shape, p) == tree_map(np.shape, q)
    p = rnn.init_model(rng, "convugrnn", 2, 3, None)
    assert tree_map(np.shape, p) == tree_map(np.shape, hand.init_params(rng, "convugrnn", 2, 3, 0))


def _slstm_reference(p, x):
    """Theis & Bethge's sLSTM with the concatenated z = [x; h_left; h_up] and one W."""
    N, R, C, _ = x.shape
    H = p["Wl"].shape[0]
    W = np.concatenate([p["Wx"], p["Wl"], p["Wu"]])
    h = np.zeros((N, R + 1, C + 1, H))
    c = np.zeros_like(h)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    for i in range(R):
        for j in range(C):
            a = np.concatenate([x[:, i, j], h[:, i + 1, j], h[:, i, j + 1]], axis=1) @ W + p["b"]
            g, ig, o, fr, fc = np.split(a, 5, axis=1)
            c[:, i + 1, j + 1] = (
                np.tanh(g) * sig(ig) + c[:, i + 1, j] * sig(fc) + c[:, i, j + 1] * sig(fr)
            )
            h[:, i + 1, j + 1] = np.tanh(c[:, i + 1, j + 1] * sig(o))
    return h[:, 1:, 1:]


def test_slstm_forward_and_check_grads():
    rng = np.random.default_rng(0)
    p = rnn.init_cell(rng, "slstm", 2, 2, forget_bias=0.5)
    p = tree_map(lambda a: a * 10, p)  # away from the linear regime
    x = rng.standard_normal((2, 3, 3, 2))
    np.testing.assert_allclose(rnn.slstm(p, x), _slstm_reference(p, x), rtol=1e-12)
    w = rng.standard_normal((2, 3, 3, 2))
    check_grads(lambda p, x: np.sum(rnn.slstm(p, x) * w), p, x, order=1)


def test_slstm_model_loss_reads_the_bottom_right_state():
    rng = np.random.default_rng(3)
    p = rnn.init_model(rng, "slstm", 2, 3, 4, layers=2, forget_bias=0.5)
    x, labels = rng.standard_normal((2, 3, 2, 2)), np.array([1, 3])
    ys, last = rnn.unroll(p, x, "slstm")
    np.testing.assert_allclose(ys, rnn.slstm(p["cell"][1], rnn.slstm(p["cell"][0], x)))
    z = last @ p["out"]["W"] + p["out"]["b"]
    np.testing.assert_allclose(rnn.predict(p, x, "slstm"), z)
    np.testing.assert_allclose(rnn.predict(p, x, "slstm", last_only=False)[:, -1], z)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    value = rnn.sequence_loss(p, x, labels, "slstm", True, "xent")
    assert np.isclose(value, -np.mean(logp[[0, 1], labels]), rtol=1e-12)
    check_grads(lambda p: rnn.sequence_loss(p, x, labels, "slstm", True, "xent"), p, order=1)


def test_slstm_smnist_loss_decreases():
    rng = np.random.default_rng(4)
    images, labels = rng.uniform(0, 1, (8, 8, 8)), np.arange(8) % 3
    images[np.arange(8), labels * 2, labels * 2] = 5.0  # a class shows as a bright pixel
    x = patch_grid(images, 2)
    p, opt = rnn.init_model(rng, "slstm", 4, 8, 3), optim.adam(0.02)
    state, losses = opt.init(p), []
    for _ in range(20):
        p, state, value, _ = rnn.train_step(
            p, state, opt, x, labels, "slstm", 1.0, last_only=True, loss="xent"
        )
        losses.append(value)
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("kind", ["lstm", "gru", "plusrnn", "convugrnn"])
def test_stacked_model_check_grads(kind):
    rng = np.random.default_rng(1)
    conv = kind == "convugrnn"
    p = rnn.init_model(rng, kind, 2, 3, 2, layers=2, spatial=(2, 2), forget_bias=0.3)
    x = rng.standard_normal((2, 4, 2, 2, 2) if conv else (2, 4, 2))
    y = rng.standard_normal((2, 4, 2))
    if kind == "plusrnn":
        assert p["in"]["W"].shape == (2, 3)
    check_grads(lambda p: rnn.sequence_loss(p, x, y, kind, loss="mse"), p, order=1)


def test_xent_loss_check_grads_and_value():
    rng = np.random.default_rng(2)
    p = rnn.init_model(rng, "gru", 3, 4, 5)
    x, labels = rng.standard_normal((6, 3, 3)), rng.integers(0, 5, 6)
    z = rnn.predict(p, x, "gru")
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    want = -np.mean(logp[np.arange(6), labels])
    value = rnn.sequence_loss(p, x, labels, "gru", last_only=True, loss="xent")
    assert np.isclose(value, want, rtol=1e-12)
    check_grads(lambda p: rnn.sequence_loss(p, x, labels, "gru", True, "xent"), p, order=1)


@pytest.mark.parametrize("last_only", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_checkpointed_loss_has_the_same_gradients(kind, last_only):
    params, x, y = _problem(kind, 7, last_only)
    want_value, want = value_and_grad(rnn.sequence_loss)(params, x, y, kind, last_only)
    for segment in (True, 3):
        value, got = value_and_grad(rnn.sequence_loss)(
            params, x, y, kind, last_only, checkpoint=segment
        )
        assert np.isclose(value, want_value, rtol=1e-13, atol=0)
        assert _max_rel(got, want) < 1e-12


@pytest.mark.parametrize("last_only", [False, True])
@pytest.mark.parametrize("kind", ["vanilla", "lstm", "plusrnn"])
def test_truncated_bptt_equals_full_bptt_when_k_covers_T(kind, last_only):
    params, x, y = _problem(kind, 6, last_only)
    want_value, want = value_and_grad(rnn.sequence_loss)(params, x, y, kind, last_only)
    for k1, k2 in ((6, None), (9, None), (2, 6), (4, 7)):
        value, got = rnn.truncated_value_and_grad(params, x, y, kind, k1, k2, last_only)
        assert np.isclose(value, want_value, rtol=1e-13)
        assert _max_rel(got, want) < 1e-12


def test_truncated_bptt_windows_start_from_constant_states():
    params, x, y = _problem("gru", 6, False)
    value, got = rnn.truncated_value_and_grad(params, x, y, "gru", 2, 3)
    # by hand: window e gets the losses of [e-2, e) through the steps [e-3, e)
    total, want = 0.0, tree_map(np.zeros_like, params)
    for e in (2, 4, 6):
        s = max(0, e - 3)
        h0 = None if s == 0 else rnn.unroll(params, x[:, :s], "gru")[1]

        def window(p, s=s, e=e, h0=h0):
            ys, _ = rnn.unroll(p, x[:, s:e], "gru", h0)
            z = ys[:, e - 2 - s :] @ p["out"]["W"] + p["out"]["b"]
            return 0.5 * np.sum((z - y[:, e - 2 : e]) ** 2) / 3

        v, g = value_and_grad(window)(params)
        total += v
        want = tree_map(np.add, want, g)
    assert np.isclose(value, total, rtol=1e-13)
    assert _max_rel(got, want) < 1e-12
    full = grad(rnn.sequence_loss)(params, x, y, "gru")
    assert _max_rel(got, full) > 1e-3  # an approximation


def test_train_step_clips_by_global_norm():
    params, x, y = _problem("lstm", 4, True)
    opt = optim.sgd(1.0)
    new, _, value, norm = rnn.train_step(
        params, opt.init(params), opt, x, y, "lstm", 1e-3, last_only=True
    )
    g = grad(rnn.sequence_loss)(params, x, y, "lstm", True)
    assert np.isclose(norm, optim.global_norm(g)) and norm > 1e-3
    step = tree_map(np.subtract, params, new)
    assert np.isclose(optim.global_norm(step), 1e-3)
    assert _max_rel(step, tree_map(lambda a: a * (1e-3 / norm), g)) < 1e-10
    unclipped = rnn.train_step(params, opt.init(params), opt, x, y, "lstm", 1e6, last_only=True)[0]
    assert _max_rel(tree_map(np.subtract, params, unclipped), g) < 1e-12


@pytest.mark.parametrize("kind", KINDS)
def test_float32_stays_float32(kind):
    params, x, y = _problem(kind, 3, False, dtype=np.float32)
    for checkpoint in (False, 2):
        value, g = value_and_grad(rnn.sequence_loss)(params, x, y, kind, checkpoint=checkpoint)
        assert np.result_type(value) == np.float32
        assert all(leaf.dtype == np.float32 for leaf in tree_flatten(g)[0])
    assert rnn.hidden_grads(params, x, y[:, -1], kind).dtype == np.float32
    want = hand.loss_and_grads(params, (x, y), kind)[1]
    assert _max_rel(g, want) < 1e-3


def test_errors_say_what_was_wrong():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown cell kind 'elman'"):
        rnn.init_cell(rng, "elman", 2, 3)
    with pytest.raises(ValueError, match="D == state size H"):
        rnn.init_cell(rng, "plusrnn", 2, 3)
    p = rnn.init_model(rng, "gru", 2, 3, 1)
    with pytest.raises(ValueError, match=r"targets of shape \(4, 1\) do not fit"):
        rnn.sequence_loss(p, np.zeros((4, 5, 2)), np.zeros((4, 1)), "gru")
    with pytest.raises(ValueError, match="batch-first with 3 axes"):
        rnn.unroll(p, np.zeros((5, 2)), "gru")
    with pytest.raises(ValueError, match="1 <= k1 <= k2"):
        rnn.truncated_value_and_grad(p, np.zeros((4, 5, 2)), np.zeros((4, 5, 1)), "gru", 3, 2)
    p, x, y = rnn.init_model(rng, "slstm", 2, 3, 1), np.zeros((4, 3, 3, 2)), np.zeros((4, 1))
    with pytest.raises(ValueError, match=r"slstm scans a 2-D grid and has no time steps"):
        rnn.hidden_grads(p, x, y, "slstm")
    with pytest.raises(ValueError, match=r"slstm scans a 2-D grid and has no time steps"):
        rnn.truncated_value_and_grad(p, x, y, "slstm", 2)
    with pytest.raises(ValueError, match=r"needs last_only=True and checkpoint=False"):
        rnn.sequence_loss(p, x, y, "slstm", last_only=True, checkpoint=True)
    with pytest.raises(ValueError, match=r"batch-first with 4 axes \(N, R, C, D\)"):
        rnn.sequence_loss(p, np.zeros((4, 3, 2)), y, "slstm", last_only=True)
    with pytest.raises(ValueError, match="patch size must divide the image size 28x28, got 5"):
        patch_grid(np.zeros((1, 28, 28)), 5)


def test_cli_adding_compare_gradflow_memory_quick(tmp_path, capsys):
    assert (
        cli.main(["adding", "--cell", "ugrnn", "--T", "5", "--quick", "--out", str(tmp_path)]) == 0
    )
    record = json.loads((tmp_path / "adding_ugrnn_T5.json").read_text())
    assert record["metric"] == "mse" and len(record["train"]) == 2
    assert (tmp_path / "adding_ugrnn_T5.png").is_file()
    args = ["--T", "4", "--quick", "--out", str(tmp_path)]
    assert cli.main(["compare", "--cells", "vanilla", "convugrnn", "--checkpoint", *args]) == 0
    assert (tmp_path / "compare_adding_T4.png").is_file()
    assert cli.main(["compare", "--cells", "vanilla", "convugrnn", "--plot-only", *args]) == 0
    assert cli.main(["adding", "--cell", "plusrnn", "--tbptt", "2", *args]) == 0
    assert cli.main(["gradflow", "--trained", str(tmp_path), "--trained-T", "4", *args]) == 0
    flow = json.loads((tmp_path / "gradflow_T4.json").read_text())["norms"]
    assert sorted(flow["at initialisation"]) == sorted(KINDS)
    assert sorted(flow["trained on T=4"]) == ["convugrnn", "plusrnn", "vanilla"]
    assert len(flow["trained on T=4"]["plusrnn"]) == 4
    assert cli.main(["memory", "--T", "4", "9", "--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "memory_lstm.png").is_file()
    assert "outputs in" in capsys.readouterr().out


def test_cli_smnist_quick_on_synthetic_idx(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("t10k", 10)):
        write_idx(
            tmp_path / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), np.uint8)
        )
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n, np.uint8))
    out = tmp_path / "out"
    for cell in ("gru", "convugrnn", "slstm"):
        argv = ["smnist", "--cell", cell, "--quick", "--data", str(tmp_path), "--out", str(out)]
        assert cli.main(argv) == 0
        record = json.loads((out / f"smnist_{cell}.json").read_text())
        assert record["metric"] == "accuracy" and 0 <= record["final"] <= 1
    argv = ["compare", "--task", "smnist", "--cells", "gru", "slstm", "--plot-only", "--quick"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    assert sorted(json.loads((out / "compare_smnist.json").read_text())) == ["gru", "slstm"]
    argv = ["adding", "--cell", "slstm", "--T", "5", "--quick", "--out", str(out)]
    assert cli.main(argv) == 0  # a 1 x T strip
    assert json.loads((out / "adding_slstm_T5.json").read_text())["metric"] == "mse"
