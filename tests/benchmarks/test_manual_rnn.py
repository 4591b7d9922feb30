"""Hand-derived BPTT of benchmarks/manual/rnn.py against central finite differences."""

import numpy as np
import pytest

from benchmarks.manual import rnn

N, D, H, O = 2, 3, 3, 2  # noqa: E741 (SPEC.md names)
SPATIAL = (4, 4)
EPS = 1e-6


def _setup(cell, T, last_only, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    params = rnn.init_params(rng, cell, D, H, O, dtype=dtype)
    batch = rnn.make_batch(rng, cell, N, T, D, H, O, dtype, last_only=last_only, spatial=SPATIAL)
    return params, batch


def _numerical_grads(f, params):
    """Central differences of f() w.r.t. every entry of every leaf of params (mutated in place)."""
    grads = {}
    for m, leaves in params.items():
        grads[m] = {}
        for k, p in leaves.items():
            g = np.empty_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + EPS
                up = f()
                p[idx] = old - EPS
                down = f()
                p[idx] = old
                g[idx] = (up - down) / (2 * EPS)
            grads[m][k] = g
    return grads


def _max_rel_err(grads, numerical):
    """Largest per-leaf error max_i |g_i - fd_i| / max_i |fd_i| over all entries of all leaves."""
    return max(
        np.abs(grads[m][k] - fd).max() / max(np.abs(fd).max(), 1e-12)
        for m, leaves in numerical.items()
        for k, fd in leaves.items()
    )


@pytest.mark.parametrize("last_only", [False, True])
@pytest.mark.parametrize("T", [3, 4])
@pytest.mark.parametrize("cell", rnn.CELLS)
def test_loss_and_grads_match_finite_differences(cell, T, last_only):
    params, batch = _setup(cell, T, last_only)
    value, grads = rnn.loss_and_grads(params, batch, cell, last_only)
    assert value == rnn.loss(params, batch, cell, last_only)
    assert {m: set(v) for m, v in grads.items()} == {m: set(v) for m, v in params.items()}
    numerical = _numerical_grads(lambda: rnn.loss(params, batch, cell, last_only), params)
    assert _max_rel_err(grads, numerical) < 1e-6


@pytest.mark.parametrize("cell", rnn.CELLS)
def test_loss_and_grads_keeps_float32(cell):
    params, batch = _setup(cell, 3, False, dtype=np.float32)
    value, grads = rnn.loss_and_grads(params, batch, cell)
    params64 = {m: {k: v.astype(np.float64) for k, v in lv.items()} for m, lv in params.items()}
    value64, grads64 = rnn.loss_and_grads(
        params64, tuple(a.astype(np.float64) for a in batch), cell
    )
    assert isinstance(value, float)
    assert np.isclose(value, value64, rtol=1e-5)
    for m, leaves in params.items():
        for k, p in leaves.items():
            assert grads[m][k].dtype == np.float32
            assert grads[m][k].shape == p.shape
            np.testing.assert_allclose(grads[m][k], grads64[m][k], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("last_only", [False, True])
@pytest.mark.parametrize("mistake", ["dh_recurrent", "dc_forget"])
def test_lstm_planted_error_disagrees_with_finite_differences(mistake, last_only):
    params, batch = _setup("lstm", 4, last_only)
    value, grads = rnn.lstm_loss_and_grads_planted(params, batch, last_only, mistake)
    assert value == rnn.loss(params, batch, "lstm", last_only)
    numerical = _numerical_grads(lambda: rnn.loss(params, batch, "lstm", last_only), params)
    assert _max_rel_err(grads, numerical) > 1e-2


def test_lstm_planted_error_is_exact_for_one_step():
    params, batch = _setup("lstm", 1, False)
    good = rnn.loss_and_grads(params, batch, "lstm")[1]
    for mistake in ("dh_recurrent", "dc_forget"):
        bad = rnn.lstm_loss_and_grads_planted(params, batch, mistake=mistake)[1]
        assert _max_rel_err(bad, good) < 1e-12


@pytest.mark.parametrize("last_only", [False, True])
def test_bptt_hidden_grads_match_finite_differences_through_the_inputs(last_only):
    # vanilla: h_t = tanh(x_t Wx + h_{t-1} Wh + b), so dL/dx_t = (dL/dh_t * (1 - h_t^2)) Wx^T
    T = 4
    params, (x, targets) = _setup("vanilla", T, last_only)
    dhs = rnn.bptt_hidden_grads(params, (x, targets), "vanilla", last_only)
    assert dhs.shape == (N, T, H)
    cp = params["cell"]
    h = np.zeros((N, H))
    expected = np.empty_like(x)
    for t in range(T):
        h = np.tanh(x[:, t] @ cp["Wx"] + h @ cp["Wh"] + cp["b"])
        expected[:, t] = (dhs[:, t] * (1 - h**2)) @ cp["Wx"].T
    numerical = _numerical_grads(
        lambda: rnn.loss(params, (x, targets), "vanilla", last_only), {"x": {"x": x}}
    )["x"]["x"]
    np.testing.assert_allclose(expected, numerical, rtol=1e-6, atol=1e-9)


def test_bad_inputs_are_rejected():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown cell"):
        rnn.init_params(rng, "elman", D, H, O)
    with pytest.raises(ValueError, match="D == H"):
        rnn.init_params(rng, "plusrnn", 2, 3, O)
    with pytest.raises(ValueError, match="odd kernel"):
        rnn.init_params(rng, "convugrnn", D, H, O, k=2)
    params, (x, targets) = _setup("lstm", 3, False)
    with pytest.raises(ValueError, match="targets have shape"):
        rnn.loss(params, (x, targets[:, -1]), "lstm")
    with pytest.raises(ValueError, match="unknown mistake"):
        rnn.lstm_loss_and_grads_planted(params, (x, targets), mistake="typo")
