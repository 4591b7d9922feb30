"""Hand-derived MLP and LeNet-5 gradients vs central differences; conv helpers vs loops."""

import numpy as np
import pytest

from benchmarks.manual import conv, lenet5, mlp

EPS = 1e-6
RTOL = 1e-6


def _leaves(tree, path=()):
    """(path, array) for every leaf of a nested dict."""
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*path, key))
        else:
            yield (*path, key), value


def _get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def _copy(tree):
    return {k: _copy(v) if isinstance(v, dict) else v.copy() for k, v in tree.items()}


def _check_against_central_differences(loss_fn, params, grads, rng, per_leaf=None):
    """Compare grads with (f(p + eps e_i) - f(p - eps e_i)) / 2 eps on (a subset of) entries.

    The differences carry a rounding error of about eps_mach |f| / EPS (2e-8 for LeNet-5's loss
    of ~85), so relative errors are taken against at least 5x that divided by RTOL.
    """
    params = _copy(params)
    floor = 5 * np.finfo(np.float64).eps * max(abs(loss_fn(params)), 1.0) / (EPS * RTOL)
    for path, leaf in _leaves(params):
        grad = _get(grads, path)
        assert grad.shape == leaf.shape and grad.dtype == leaf.dtype, path
        size = leaf.size
        picks = (
            np.arange(size) if per_leaf is None else rng.choice(size, min(per_leaf, size), False)
        )
        flat = leaf.reshape(-1)  # a view: perturbing it perturbs params
        for i in picks:
            old = flat[i]
            flat[i] = old + EPS
            up = loss_fn(params)
            flat[i] = old - EPS
            down = loss_fn(params)
            flat[i] = old
            numeric, analytic = (up - down) / (2 * EPS), grad.reshape(-1)[i]
            scale = max(abs(numeric), abs(analytic), floor)
            assert abs(numeric - analytic) / scale < RTOL, (path, i, analytic, numeric)


def _randomise(tree, rng, scale=0.5):
    """Nonzero biases and coefficients everywhere, so that every term of the gradient shows."""
    return {
        k: _randomise(v, rng, scale)
        if isinstance(v, dict)
        else v + scale * rng.uniform(-1, 1, v.shape)
        for k, v in tree.items()
    }


# ---------------------------------------------------------------- conv helpers


def _naive_conv(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    k, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, k, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[:, :, i, j] = np.einsum("nchw,kchw->nk", patch, w) + (0 if b is None else b)
    return out


def _naive_conv_backward(dout, x, w, stride, pad):
    n, c, h, wd = x.shape
    _, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
            dxp[:, :, rows, cols] += np.einsum("nk,kchw->nchw", dout[:, :, i, j], w)
            dw += np.einsum("nk,nchw->kchw", dout[:, :, i, j], xp[:, :, rows, cols])
    return dxp[:, :, pad : pad + h, pad : pad + wd], dw, dout.sum(axis=(0, 2, 3))


@pytest.mark.parametrize(
    "stride, pad, bias", [(1, 0, True), (1, 1, False), (2, 0, True), (2, 2, True)]
)
def test_conv2d_matches_naive_loops(stride, pad, bias):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(4) if bias else None
    out, cache = conv.conv2d_forward(x, w, b, stride=stride, pad=pad)
    np.testing.assert_allclose(out, _naive_conv(x, w, b, stride, pad), rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv.conv2d_backward(dout, cache)
    ndx, ndw, ndb = _naive_conv_backward(dout, x, w, stride, pad)
    np.testing.assert_allclose(dx, ndx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, ndw, rtol=1e-12, atol=1e-12)
    if bias:
        np.testing.assert_allclose(db, ndb, rtol=1e-12, atol=1e-12)
    else:
        assert db is None
    dw2, db2 = conv.conv2d_backward_params(dout, cache)
    np.testing.assert_array_equal(dw2, dw)


def test_conv2d_rejects_channel_mismatch():
    with pytest.raises(ValueError, match="channels"):
        conv.conv2d_forward(np.zeros((1, 2, 5, 5)), np.zeros((3, 1, 3, 3)))


def test_sum_pool2x2_matches_naive_loops():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 4))
    out, cache = conv.sum_pool2x2_forward(x)
    naive = np.array([[[[x[n, c, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].sum() for j in range(2)]
                        for i in range(3)] for c in range(3)] for n in range(2)])  # fmt: skip
    np.testing.assert_allclose(out, naive, rtol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx = conv.sum_pool2x2_backward(dout, cache)
    np.testing.assert_array_equal(dx[:, :, ::2, 1::2], dout)
    np.testing.assert_array_equal(dx[:, :, 1::2, ::2], dout)
    with pytest.raises(ValueError, match="even"):
        conv.sum_pool2x2_forward(np.zeros((1, 1, 3, 4)))


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (2, 1), (3, 3)])
def test_max_pool_matches_naive_loops(size, stride):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 7, 8))
    out, cache = conv.max_pool_forward(x, size, stride)
    dout = rng.standard_normal(out.shape)
    dx = conv.max_pool_backward(dout, cache)
    naive_dx = np.zeros_like(x)
    for n in range(2):
        for c in range(3):
            for i in range(out.shape[2]):
                for j in range(out.shape[3]):
                    win = x[n, c, i * stride : i * stride + size, j * stride : j * stride + size]
                    assert out[n, c, i, j] == win.max()
                    di, dj = np.unravel_index(win.argmax(), win.shape)
                    naive_dx[n, c, i * stride + di, j * stride + dj] += dout[n, c, i, j]
    np.testing.assert_allclose(dx, naive_dx, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- MLP


def test_mlp_grads_match_central_differences():
    rng = np.random.default_rng(3)
    sizes = (5, 4, 3, 3)
    params = _randomise(mlp.init_params(rng, sizes=sizes), rng)
    batch = mlp.make_batch(rng, n=3, sizes=sizes)
    value, grads = mlp.loss_and_grads(params, batch)
    assert value == mlp.loss(params, batch)
    _check_against_central_differences(lambda p: mlp.loss(p, batch), params, grads, rng)


def test_mlp_loss_is_mean_softmax_cross_entropy():
    rng = np.random.default_rng(4)
    sizes = (6, 5, 4)
    params = mlp.init_params(rng, sizes=sizes)
    x, y = mlp.make_batch(rng, n=7, sizes=sizes)
    logits = np.tanh(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.isclose(mlp.loss(params, (x, y)), -np.log(probs[np.arange(7), y]).mean(), rtol=1e-13)


def test_mlp_float32_stays_float32():
    rng = np.random.default_rng(5)
    params64, batch64 = mlp.init_params(rng), mlp.make_batch(rng, n=8)
    params32 = {k: v.astype(np.float32) for k, v in params64.items()}
    batch32 = (batch64[0].astype(np.float32), batch64[1])
    value32, grads32 = mlp.loss_and_grads(params32, batch32)
    value64, grads64 = mlp.loss_and_grads(params64, batch64)
    assert isinstance(value32, float) and np.isclose(value32, value64, rtol=1e-5)
    for k in params32:
        assert grads32[k].dtype == np.float32, k
        np.testing.assert_allclose(grads32[k], grads64[k], rtol=1e-3, atol=1e-5)


# ---------------------------------------------------------------- LeNet-5


def test_lenet5_grads_match_central_differences():
    rng = np.random.default_rng(6)
    params = _randomise(lenet5.init_params(rng), rng, scale=0.05)
    params["C3"]["w"] *= lenet5.c3_mask()
    batch = lenet5.make_batch(rng, n=2)
    value, grads = lenet5.loss_and_grads(params, batch)
    assert value == lenet5.loss(params, batch)
    _check_against_central_differences(
        lambda p: lenet5.loss(p, batch), params, grads, rng, per_leaf=20
    )


def test_lenet5_grads_with_other_j_match_central_differences():
    rng = np.random.default_rng(7)
    params, batch = lenet5.init_params(rng), lenet5.make_batch(rng, n=2)
    subset = {"S4": params["S4"], "F6": params["F6"]}
    _, grads = lenet5.loss_and_grads(params, batch, j=3.0)

    def loss_fn(p):
        return lenet5.loss({**params, **p}, batch, j=3.0)

    _check_against_central_differences(loss_fn, subset, grads, rng, per_leaf=20)


def test_lenet5_masked_c3_weights_get_exactly_zero_grad():
    rng = np.random.default_rng(8)
    params, batch = lenet5.init_params(rng), lenet5.make_batch(rng, n=3)
    unconnected = np.broadcast_to(lenet5.c3_mask() == 0, params["C3"]["w"].shape)
    assert np.all(params["C3"]["w"][unconnected] == 0)
    value, grads = lenet5.loss_and_grads(params, batch)
    assert np.all(grads["C3"]["w"][unconnected] == 0)
    assert np.all(grads["C3"]["w"][~unconnected] != 0)
    # and the unconnected weights do not enter the loss at all
    params["C3"]["w"] = params["C3"]["w"] + rng.standard_normal(unconnected.shape) * unconnected
    assert lenet5.loss(params, batch) == value


def test_lenet5_float32_stays_float32():
    rng = np.random.default_rng(9)
    params64, (x, labels) = lenet5.init_params(rng), lenet5.make_batch(rng, n=4)
    params32 = lenet5.init_params(np.random.default_rng(9), dtype=np.float32)
    value32, grads32 = lenet5.loss_and_grads(params32, (x.astype(np.float32), labels))
    value64, grads64 = lenet5.loss_and_grads(params64, (x, labels))
    assert lenet5.forward(params32, x.astype(np.float32)).dtype == np.float32
    assert isinstance(value32, float) and np.isclose(value32, value64, rtol=1e-4)
    for path, g in _leaves(grads32):
        assert g.dtype == np.float32, path
        np.testing.assert_allclose(g, _get(grads64, path), rtol=2e-2, atol=1e-4)


def test_lenet5_loss_is_eq9_and_stable():
    rng = np.random.default_rng(10)
    penalties, labels = rng.uniform(0, 20, (5, 10)), rng.integers(0, 10, 5)
    expected = np.mean(penalties[np.arange(5), labels]
                       + np.log(np.exp(-1.0) + np.exp(-penalties).sum(axis=1)))  # fmt: skip
    assert np.isclose(lenet5._map_loss(penalties, labels, 1.0)[0], expected, rtol=1e-13)
    # huge penalties: log(e^-j + sum e^-y) -> -j without overflow or log(0)
    value, dy = lenet5._map_loss(np.full((2, 10), 1e4), np.array([0, 3]), 2.0)
    assert value == 1e4 - 2.0 and np.all(np.isfinite(dy))
    # tiny penalties (e.g. all -1e4 is impossible, but 0 is): still exact
    value, _ = lenet5._map_loss(np.zeros((1, 10)), np.array([0]), 1.0)
    assert np.isclose(value, np.log(np.exp(-1.0) + 10))


def test_lenet5_forward_shapes_and_rejects_bad_input():
    rng = np.random.default_rng(11)
    params = lenet5.init_params(rng)
    assert lenet5.forward(params, lenet5.make_batch(rng, n=3)[0]).shape == (3, 10)
    with pytest.raises(ValueError, match=r"\(N, 1, 32, 32\)"):
        lenet5.forward(params, np.zeros((3, 1, 28, 28)))


def test_c3_table_is_table_i():
    mask = lenet5.c3_mask()[:, :, 0, 0]  # (C3 map, S2 map)
    assert mask.shape == (16, 6) and mask.sum() == 60
    assert np.all(mask.sum(axis=0) == 10)  # each S2 map feeds 10 C3 maps
    assert [int(k) for k in mask.sum(axis=1)] == [3] * 6 + [4] * 9 + [6]
    assert int((mask.sum(axis=1) * 25 + 1).sum()) == 1516  # C3's trainable parameters
    # row "S2 0" of Table I
    assert "".join("X" if v else "." for v in mask[:, 0]) == "X...XXX..XXXX.XX"


def test_rbf_centres_bitmap_of_one():
    centres = lenet5.rbf_centres()
    assert centres.shape == (10, 84) and set(np.unique(centres)) == {-1.0, 1.0}
    text = lenet5.RBF_PATH.read_text().splitlines()
    start = text.index("char 49 '1'") + 1
    one = centres[1].reshape(12, 7)
    for row in (0, 2, 9, 11):
        assert "".join("#" if v > 0 else "." for v in one[row]) == text[start + row]
    np.testing.assert_array_equal(one[0], [-1, -1, -1, 1, 1, -1, -1])  # "...##.."
    np.testing.assert_array_equal(one[9], [-1, 1, 1, 1, 1, 1, 1])  # ".######"
