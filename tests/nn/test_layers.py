"""nn.layers, nn.activations, nn.losses, nn.init: values against naive loops, gradients by
check_grads on tiny shapes, float32 kept, and the error messages."""

import itertools

import numpy as np
import pytest

import autodiff.numpy as anp
from autodiff import check_grads, grad, hessian, value_and_grad, vjp
from nn import activations, init, layers, losses

RNG = np.random.default_rng(0)


def _naive_conv(x, w, b, stride, pad, dilation):
    """out[n,k,i,j] = sum_{c,p,q} xp[n,c,i sh + p dh, j sw + q dw] w[k,c,p,q] + b[k]."""
    (sh, sw), (dh, dw) = stride, dilation
    (top, bottom), (left, right) = pad
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, c, h, wd = xp.shape
    k, _, kh, kw = w.shape
    ho = (h - dh * (kh - 1) - 1) // sh + 1
    wo = (wd - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, k, ho, wo))
    for i, j, p, q in itertools.product(range(ho), range(wo), range(kh), range(kw)):
        patch = xp[:, :, i * sh + p * dh, j * sw + q * dw]  # (n, c)
        out[:, :, i, j] += patch @ w[:, :, p, q].T
    return out + (0 if b is None else b[:, None, None])


CONV_CASES = [
    # (x shape, w shape, stride, padding, dilation, expected (top, bottom), (left, right))
    ((2, 3, 7, 6), (4, 3, 3, 2), 1, 0, 1, ((0, 0), (0, 0))),
    ((2, 2, 8, 7), (3, 2, 3, 3), 2, 1, 1, ((1, 1), (1, 1))),
    ((1, 2, 9, 9), (2, 2, 3, 3), (2, 1), (2, 0), (2, 1), ((2, 2), (0, 0))),
    ((1, 1, 6, 7), (2, 1, 3, 3), 1, "same", 2, ((2, 2), (2, 2))),
    ((1, 2, 5, 6), (2, 2, 2, 4), 1, "same", 1, ((0, 1), (1, 2))),
    ((2, 4, 5, 5), (3, 4, 5, 5), 1, 0, 1, ((0, 0), (0, 0))),  # whole input: dense path
]


@pytest.mark.parametrize("xs, ws, stride, padding, dilation, pads", CONV_CASES)
def test_conv2d_matches_naive_loop(xs, ws, stride, padding, dilation, pads):
    x, w, b = RNG.normal(size=xs), RNG.normal(size=ws), RNG.normal(size=ws[0])
    out = layers.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    pair = layers._pair
    expected = _naive_conv(x, w, b, pair(stride, ""), pads, pair(dilation, ""))
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    if padding == "same":
        assert out.shape[2:] == x.shape[2:]


@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 1), (1, "same", 2)])
def test_conv2d_grads(stride, padding, dilation):
    x, w, b = RNG.normal(size=(2, 2, 5, 5)), RNG.normal(size=(3, 2, 3, 3)), RNG.normal(size=3)
    check_grads(lambda x, w, b: layers.conv2d(x, w, b, stride, padding, dilation), x, w, b, order=1)


def test_conv2d_second_order():
    x, w = RNG.normal(size=(1, 1, 4, 4)), RNG.normal(size=(2, 1, 2, 2))
    check_grads(lambda x, w: anp.tanh(layers.conv2d(x, w)), x, w, modes=("rev",), order=2)


def test_conv2d_keeps_float32():
    x, w = RNG.normal(size=(2, 1, 6, 6)).astype("f4"), RNG.normal(size=(3, 1, 3, 3)).astype("f4")
    b = np.zeros(3, "f4")
    value, grads = value_and_grad(
        lambda x, w, b: anp.sum(layers.conv2d(x, w, b, padding=1) ** 2), argnums=(0, 1, 2)
    )(x, w, b)
    assert value.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


def test_conv2d_rejects_bad_shapes():
    with pytest.raises(ValueError, match="3 channels but w expects 2"):
        layers.conv2d(np.zeros((1, 3, 5, 5)), np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match="larger than the padded input"):
        layers.conv2d(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="'same' needs stride 1"):
        layers.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), stride=2, padding="same")
    with pytest.raises(ValueError, match="must be 4-D"):
        layers.conv2d(np.zeros((5, 5)), np.zeros((1, 1, 3, 3)))


@pytest.mark.parametrize(
    "hw, k, stride, padding, output_padding",
    [((5, 6), (3, 3), 1, 0, 0), ((4, 5), (3, 2), 2, 1, 1), ((3, 3), (4, 4), 2, 1, 0),
     ((4, 4), (3, 3), (3, 2), (1, 0), (2, 1)), ((6, 6), (2, 2), 1, 1, 0)],
)  # fmt: skip
def test_conv_transpose2d_is_adjoint_of_conv2d(hw, k, stride, padding, output_padding):
    c_small, c_big = 2, 3
    x = RNG.normal(size=(2, c_small, *hw))  # conv_transpose2d input
    w = RNG.normal(size=(c_small, c_big, *k))  # (C_in, C_out, kh, kw)
    y = layers.conv_transpose2d(x, w, stride=stride, padding=padding, output_padding=output_padding)
    sh, sw = layers._pair(stride, "")
    ph, pw = layers._pair(padding, "")
    oh, ow = layers._pair(output_padding, "")
    assert y.shape == (2, c_big, (hw[0] - 1) * sh - 2 * ph + k[0] + oh,
                       (hw[1] - 1) * sw - 2 * pw + k[1] + ow)  # fmt: skip
    z = RNG.normal(size=y.shape)
    # conv2d with the same w maps C_out = c_big channels back to c_small: <conv(z), x> = <z, T x>
    cz = layers.conv2d(z, w, stride=stride, padding=padding)
    assert cz.shape == x.shape
    np.testing.assert_allclose(np.sum(cz * x), np.sum(z * y), rtol=1e-12)


def test_conv_transpose2d_grads_and_bias():
    x, w, b = RNG.normal(size=(1, 2, 3, 3)), RNG.normal(size=(2, 1, 3, 3)), RNG.normal(size=1)
    check_grads(lambda x, w, b: layers.conv_transpose2d(x, w, b, 2, 1, 1), x, w, b, order=1)
    out = layers.conv_transpose2d(x, w, b) - layers.conv_transpose2d(x, w)
    np.testing.assert_allclose(out, np.broadcast_to(b[:, None, None], out.shape[1:])[None])
    with pytest.raises(ValueError, match="output_padding < stride"):
        layers.conv_transpose2d(x, w, stride=1, output_padding=1)


def _naive_pool(x, k, s, reduce):
    n, c, h, w = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, ho, wo))
    for i, j in itertools.product(range(ho), range(wo)):
        out[:, :, i, j] = reduce(x[:, :, i * s : i * s + k, j * s : j * s + k], axis=(2, 3))
    return out


@pytest.mark.parametrize("size, stride, hw", [(2, None, (4, 6)), (3, 2, (7, 7)), (3, 2, (6, 8)),
                                              (2, 1, (3, 4)), (3, None, (7, 6))])  # fmt: skip
@pytest.mark.parametrize(
    "pool, reduce", [(layers.max_pool2d, np.max), (layers.avg_pool2d, np.mean)]
)
def test_pooling_matches_naive_loop_and_grads(pool, reduce, size, stride, hw):
    x = RNG.permutation(2 * 3 * hw[0] * hw[1]).reshape(2, 3, *hw) / 10.0  # no ties
    out = pool(x, size, stride)
    np.testing.assert_allclose(out, _naive_pool(x, size, stride or size, reduce), rtol=1e-13)
    check_grads(lambda x: pool(x, size, stride), x, order=1)


def test_max_pool2d_routes_gradient_to_the_maximum():
    x = np.array([[[[1.0, 5.0], [2.0, 0.0]]]])
    np.testing.assert_array_equal(grad(lambda x: anp.sum(layers.max_pool2d(x, 2)))(x),
                                  [[[[0.0, 1.0], [0.0, 0.0]]]])  # fmt: skip


def test_subsample2d_is_coef_times_window_sum_plus_bias():
    x, coef, b = RNG.normal(size=(2, 3, 4, 6)), RNG.normal(size=3), RNG.normal(size=3)
    sums = x.reshape(2, 3, 2, 2, 3, 2).sum(axis=(3, 5))
    expected = coef[:, None, None] * sums + b[:, None, None]
    np.testing.assert_allclose(layers.subsample2d(x, coef, b), expected, rtol=1e-13)
    check_grads(layers.subsample2d, x, coef, b)
    with pytest.raises(ValueError, match="divisible by size"):
        layers.subsample2d(np.zeros((1, 1, 3, 4)), np.ones(1))


def test_dense_and_inits():
    p = layers.init_dense(RNG, 4, 3)
    x = RNG.normal(size=(5, 4))
    np.testing.assert_allclose(layers.dense(x, **p), x @ p["w"] + p["b"])
    check_grads(layers.dense, x, p["w"], RNG.normal(size=3))
    assert layers.init_conv2d(RNG, 2, 5, (3, 1))["w"].shape == (5, 2, 3, 1)
    assert layers.init_conv_transpose2d(RNG, 2, 5, 3, dtype="f4")["b"].dtype == np.float32
    s = layers.init_subsample2d(RNG, 6)
    assert np.abs(s["coef"]).max() <= 0.6 and s["b"].shape == (6,)


def test_dropout_train_and_eval():
    x = np.ones((200, 50))
    assert layers.dropout(RNG, x, 0.3, train=False) is x
    y = layers.dropout(np.random.default_rng(1), x, 0.3, train=True)
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.7)
    # gradient: the same mask and scale (the same rng state gives the same mask)
    g = grad(lambda x: anp.sum(layers.dropout(np.random.default_rng(1), x, 0.3, True)))(x)
    np.testing.assert_array_equal(g, y)
    assert layers.dropout(RNG, x.astype("f4"), 0.5, True).dtype == np.float32
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        layers.dropout(RNG, x, 1.0, True)


def test_local_response_norm_matches_formula():
    x = RNG.normal(size=(2, 7, 3, 2))
    k, n, alpha, beta = 2.0, 5, 1e-1, 0.75
    expected = np.empty_like(x)
    for c in range(7):
        lo, hi = max(0, c - n // 2), min(6, c + n // 2)
        expected[:, c] = x[:, c] / (k + alpha * (x[:, lo : hi + 1] ** 2).sum(axis=1)) ** beta
    np.testing.assert_allclose(layers.local_response_norm(x, n, k, alpha, beta), expected)
    check_grads(lambda x: layers.local_response_norm(x, 3, 1.0, 0.5, 0.75), x[:, :4], order=1)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 2, 2)])
def test_batch_norm_train_eval_and_running_stats(shape):
    params, state = layers.init_batch_norm(3)
    params = {"gamma": RNG.normal(size=3), "beta": RNG.normal(size=3)}
    x = RNG.normal(size=shape) * 3 + 1
    y, new = layers.batch_norm(x, params, state, train=True, momentum=0.1)
    axes = (0,) + tuple(range(2, len(shape)))
    bshape = (1, 3) + (1,) * (len(shape) - 2)
    xhat = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    expected = xhat * params["gamma"].reshape(bshape) + params["beta"].reshape(bshape)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    np.testing.assert_allclose(new["mean"], 0.1 * x.mean(axes))
    np.testing.assert_allclose(new["var"], 0.9 + 0.1 * x.var(axes, ddof=1))
    y_eval, same = layers.batch_norm(x, params, new, train=False)
    xhat = (x - new["mean"].reshape(bshape)) / np.sqrt(new["var"].reshape(bshape) + 1e-5)
    np.testing.assert_allclose(y_eval, xhat * params["gamma"].reshape(bshape)
                               + params["beta"].reshape(bshape))  # fmt: skip
    assert same is new
    for train in (True, False):

        def f(x, g, b, t=train):
            return layers.batch_norm(x, {"gamma": g, "beta": b}, new, t)[0]

        check_grads(f, x, params["gamma"], params["beta"], order=1)


ACTIVATIONS = [
    activations.scaled_tanh,
    activations.sigmoid,
    activations.relu,
    activations.leaky_relu,
    activations.elu,
    activations.arctan,
    activations.softplus,
]


@pytest.mark.parametrize("f", ACTIVATIONS, ids=lambda f: f.__name__)
def test_activation_grads_stability_and_dtype(f):
    check_grads(f, np.array([-2.0, -0.3, 0.4, 1.5]))
    big = np.array([-1000.0, 1000.0])
    assert np.all(np.isfinite(f(big))) and np.all(np.isfinite(grad(lambda x: anp.sum(f(x)))(big)))
    x32 = np.array([-1.0, 2.0], "f4")
    assert f(x32).dtype == np.float32
    assert grad(lambda x: anp.sum(f(x)))(x32).dtype == np.float32


def test_activation_values():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(activations.scaled_tanh(np.array([1.0, -1.0])), [1, -1], atol=2e-4)
    np.testing.assert_allclose(activations.sigmoid(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(activations.softplus(x), np.log1p(np.exp(x)))
    np.testing.assert_allclose(activations.elu(x, 2.0), [2 * np.expm1(-2.0), 0, 3])
    np.testing.assert_allclose(activations.leaky_relu(x, 0.1), [-0.2, 0, 3])
    # derivatives at the kink: relu'(0) = 0, leaky_relu'(0) = slope, elu'(0) = alpha
    zero = np.zeros(1)
    assert grad(lambda x: anp.sum(activations.relu(x)))(zero)[0] == 0.0
    assert grad(lambda x: anp.sum(activations.leaky_relu(x, 0.1)))(zero)[0] == 0.1
    assert grad(lambda x: anp.sum(activations.elu(x, 2.0)))(zero)[0] == 2.0


def _naive_ce(z, y):
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return -np.mean(np.log(p[np.arange(len(y)), y]))


def test_softmax_cross_entropy_values_grads_and_stability():
    z, y = RNG.normal(size=(4, 5)), np.array([0, 3, 1, 4])
    np.testing.assert_allclose(losses.softmax_cross_entropy(z, y), _naive_ce(z, y))
    np.testing.assert_allclose(losses.softmax_cross_entropy(z, np.eye(5)[y]), _naive_ce(z, y))
    check_grads(lambda z: losses.softmax_cross_entropy(z, y), z)
    check_grads(lambda z, t: losses.softmax_cross_entropy(z, t), z, RNG.dirichlet(np.ones(5), 4))
    np.testing.assert_allclose(losses.softmax_cross_entropy(z + 1e4, y), _naive_ce(z, y))
    g = grad(lambda z: losses.softmax_cross_entropy(z, y))(z * 1e3)
    assert np.all(np.isfinite(g))
    assert losses.softmax_cross_entropy(z.astype("f4"), y).dtype == np.float32
    with pytest.raises(ValueError, match="expected labels of shape"):
        losses.softmax_cross_entropy(z, np.array([0, 1]))


def test_softmax_cross_entropy_rule_from_the_kept_forward_matches_a_recomputed_one():
    # a traced call keeps the forward's log-softmax for the rule; the primitive called
    # directly (no res) recomputes it: same gradient, and a reused vjp_fn stays exact
    z, y = RNG.normal(size=(6, 4)) * 30, RNG.integers(0, 4, size=6)
    kept = grad(lambda z: losses.softmax_cross_entropy(z, y))(z)
    recomputed = grad(lambda z: losses._xent_int(z, y))(z)
    np.testing.assert_array_equal(kept, recomputed)
    _, f_vjp = vjp(lambda z: losses.softmax_cross_entropy(z, y), z)
    np.testing.assert_array_equal(f_vjp(1.0)[0], kept)
    np.testing.assert_array_equal(f_vjp(2.0)[0], 2 * kept)
    h_kept = hessian(lambda z: losses.softmax_cross_entropy(z, y))(z)
    np.testing.assert_allclose(h_kept, hessian(lambda z: losses._xent_int(z, y))(z), atol=1e-15)


def test_binary_cross_entropy_with_logits():
    z, t = RNG.normal(size=6), RNG.uniform(size=6)
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(losses.binary_cross_entropy_with_logits(z, t),
                               np.mean(-t * np.log(s) - (1 - t) * np.log(1 - s)))  # fmt: skip
    check_grads(losses.binary_cross_entropy_with_logits, z, t)
    assert losses.binary_cross_entropy_with_logits(np.array([800.0, -800.0]),
                                                   np.array([0.0, 1.0])) == 800.0  # fmt: skip


def test_regression_losses_and_penalties():
    a, b = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))
    np.testing.assert_allclose(losses.l1(a, b), np.abs(a - b).mean())
    np.testing.assert_allclose(losses.mse(a, b), ((a - b) ** 2).mean())
    assert losses.l2 is losses.mse
    check_grads(losses.l1, a, b)
    check_grads(losses.mse, a, b)
    tree = {"w": a, "layers": [b, (None, np.array(2.0))]}
    np.testing.assert_allclose(losses.l1_penalty(tree), np.abs(a).sum() + np.abs(b).sum() + 2)
    np.testing.assert_allclose(losses.l2_penalty(tree), 0.5 * ((a**2).sum() + (b**2).sum() + 4))
    check_grads(lambda t: losses.l1_penalty(t) + losses.l2_penalty(t), {"w": a, "b": [b]})


def test_lenet5_map_loss_matches_formula():
    y, labels = RNG.uniform(0, 50, size=(4, 10)), np.array([1, 0, 9, 3])
    for j in (0.0, 1.0, 30.0):
        expected = np.mean(y[np.arange(4), labels] + np.log(np.exp(-j) + np.exp(-y).sum(axis=1)))
        np.testing.assert_allclose(losses.lenet5_map_loss(y, labels, j), expected, rtol=1e-13)
        check_grads(lambda y, j=j: losses.lenet5_map_loss(y, labels, j), y)
    assert np.isfinite(losses.lenet5_map_loss(y + 1e5, labels))
    assert losses.lenet5_map_loss(y.astype("f4"), labels).dtype == np.float32


def test_initialisers():
    rng = np.random.default_rng(3)
    assert init.fans((16, 6, 5, 5)) == (150, 400) and init.fans((120, 84)) == (120, 84)
    w = init.lecun_uniform(rng, (1000,), 25)
    assert np.abs(w).max() <= 2.4 / 25 and np.abs(w).max() > 0.9 * 2.4 / 25
    for f, var in [(init.glorot_normal, 2 / 700), (init.he_normal, 2 / 300),
                   (init.glorot_uniform, 2 / 700), (init.he_uniform, 2 / 300)]:  # fmt: skip
        w = f(rng, (300, 400))
        assert abs(w.var() / var - 1) < 0.05, f.__name__
    assert init.xavier_uniform is init.glorot_uniform
    q = init.orthogonal(rng, (3, 2, 4))
    flat = q.reshape(3, 8)
    np.testing.assert_allclose(flat @ flat.T, np.eye(3), atol=1e-12)
    assert init.orthogonal(rng, (5, 3), dtype="f4").dtype == np.float32
    assert not init.zeros(rng, (2, 3)).any()
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.orthogonal(rng, (3,))
