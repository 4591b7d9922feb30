"""The derivation checker: it passes right derivations and finds and locates wrong ones."""

import numpy as np
import pytest

import autodiff.numpy as anp
from autodiff.derivcheck import check_derivation, compare_grads
from benchmarks.manual import rnn
from nn.models.rnn import hidden_grads, sequence_loss


def _lstm(dtype=np.float64, T=6):
    rng = np.random.default_rng(0)
    params = rnn.init_params(rng, "lstm", 3, 5, 2, dtype=dtype)
    x, t = rnn.make_batch(rng, "lstm", 4, T, 3, 5, 2, dtype=dtype)
    return params, x, t


def _loss(p, x, t):
    return sequence_loss(p, x, t, "lstm")


@pytest.mark.parametrize("mistake", ["dh_recurrent", "dc_forget"])
def test_check_derivation_finds_planted_lstm_error_and_its_time_step(mistake):
    params, x, t = _lstm()

    def planted(p, x, t):
        return rnn.lstm_loss_and_grads_planted(p, (x, t), mistake=mistake)

    report = check_derivation(_loss, planted, params, x, t, time_axis=1)
    assert not report.ok
    assert {lf.path for lf in report.failing} == {"cell/Wh", "cell/Wx", "cell/b"}
    assert report.loss_ok  # the planted version has the right loss, wrong gradients
    # both mistakes are exact for one step and wrong as soon as a gradient crosses t=1 -> t=0
    assert report.first_bad_step == 1
    assert report.prefix_errors[1] < 1e-12 < report.prefix_errors[2]
    worst = report.failing[0].worst
    assert len(worst) == 3 and all(len(w) == 3 for w in worst)
    text = str(report)
    assert "MISMATCH" in text and "cell/Wh" in text and "t = 1" in text and "<-- wrong" in text


def test_check_derivation_passes_the_right_derivation_with_hidden_grads():
    params, x, t = _lstm()
    report = check_derivation(
        _loss,
        lambda p, x, t: rnn.loss_and_grads(p, (x, t), "lstm"),
        params, x, t,
        time_axis=1,
        hidden=(
            lambda p, x, t: hidden_grads(p, x, t, "lstm", last_only=False),
            lambda p, x, t: rnn.bptt_hidden_grads(p, (x, t), "lstm"),
        ),
    )  # fmt: skip
    assert report.ok, str(report)
    assert report.first_bad_step is None
    assert report.max_rel < 1e-12
    assert len(report.hidden_errors) == x.shape[1]
    assert "OK" in str(report) and "all steps agree" in str(report)


def test_check_derivation_reports_bad_hidden_steps_in_backward_order():
    params, x, t = _lstm()
    good = rnn.bptt_hidden_grads(params, (x, t), "lstm")
    bad = good.copy()
    bad[:, :3] *= 1.5  # wrong from t = 2 backwards, as a missing recurrent term would be
    report = check_derivation(
        _loss,
        lambda p, x, t: rnn.loss_and_grads(p, (x, t), "lstm")[1],
        params, x, t,
        hidden=(lambda p, x, t: good, lambda p, x, t: bad),
    )  # fmt: skip
    assert not report.ok and not report.hidden_ok
    assert "disagree at t = 0-2" in str(report) and "t = 2" in str(report)


def test_check_derivation_locates_a_single_step_error_at_t0():
    params, x, t = _lstm()

    def wrong(p, x, t):
        value, g = rnn.loss_and_grads(p, (x, t), "lstm")
        g["cell"]["b"] = 2 * g["cell"]["b"]
        return value, g

    report = check_derivation(_loss, wrong, params, x, t, time_axis=1)
    assert [lf.path for lf in report.failing] == ["cell/b"]
    assert report.first_bad_step == 0
    assert "inside one step" in str(report)


def test_check_derivation_float32_uses_float32_tolerance():
    params, x, t = _lstm(np.float32)
    report = check_derivation(
        _loss, lambda p, x, t: rnn.loss_and_grads(p, (x, t), "lstm"), params, x, t, time_axis=1
    )
    assert report.ok, str(report)
    assert report.dtype == "float32" and report.rtol == 1e-3
    assert 1e-9 < report.max_rel < 1e-4  # float32 rounding, not float64's


def test_check_derivation_simple_function_and_wrong_derivative():
    w, x = np.ones((3, 2)), np.linspace(-1, 1, 12).reshape(4, 3)

    def loss(w, x):
        return anp.sum(anp.tanh(x @ w))

    right = check_derivation(loss, lambda w, x: x.T @ (1 - np.tanh(x @ w) ** 2), w, x)
    wrong = check_derivation(loss, lambda w, x: x.T @ (1 - np.tanh(x @ w)), w, x)
    assert right.ok and not wrong.ok
    assert wrong.leaves[0].path == "<root>"


def test_compare_grads_zero_leaf_noise_is_not_an_error():
    # a gradient that is exactly zero in theory, computed as rounding noise by both sides
    ad = {"w": np.array([0.3, -0.2]), "b": np.array([1e-17, -2e-17])}
    hand = {"w": np.array([0.3, -0.2]), "b": np.array([-3e-17, 1e-17])}
    assert compare_grads(ad, hand).ok


def test_compare_grads_shape_mismatch_and_structure_errors():
    report = compare_grads({"w": np.zeros(3)}, {"w": np.zeros((3, 1))})
    assert not report.ok and "shape" in report.failing[0].note
    with pytest.raises(ValueError, match="structure"):
        compare_grads({"w": np.zeros(3)}, {"v": np.zeros(3)})
    with pytest.raises(ValueError, match="pair"):
        check_derivation(lambda p: anp.sum(p["w"]), lambda p: [1.0, 2.0, 3.0], {"w": np.ones(3)})


def test_report_to_dict_is_plain_data():
    import json

    params, x, t = _lstm()
    report = check_derivation(
        _loss, lambda p, x, t: rnn.lstm_loss_and_grads_planted(p, (x, t)), params, x, t,
        time_axis=1,
    )  # fmt: skip
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["first_bad_step"] == 1
    assert {leaf["path"] for leaf in data["leaves"]} >= {"cell/Wh", "out/W"}
