"""Hand-derived gradients of the GAN, whitening, regression, deep, convnet and DNI benchmarks
against central finite differences in float64."""

import numpy as np
import pytest

from benchmarks.manual import convnets, deep, dni, gan, regression, whitening

EPS = 1e-6
RTOL = 1e-5
SAMPLES = 15


def _leaves(tree, path=()):
    if isinstance(tree, dict):
        for k in sorted(tree):
            yield from _leaves(tree[k], (*path, k))
    elif isinstance(tree, list | tuple):
        for i, t in enumerate(tree):
            yield from _leaves(t, (*path, i))
    else:
        yield path, tree


def _get(tree, path):
    for k in path:
        tree = tree[k]
    return tree


def _cast(tree, dtype):
    if isinstance(tree, dict):
        return {k: _cast(v, dtype) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(_cast(v, dtype) for v in tree)
    return tree.astype(dtype) if tree.dtype.kind == "f" else tree


def _jitter_biases(params, rng):
    """Init gives zero biases; make them generic so no unit sits on a kink by symmetry."""
    for path, leaf in _leaves(params):
        if path[-1].startswith("b"):
            leaf += 0.1 * rng.standard_normal(leaf.shape)
    return params


def _check_grads(f, params, grads, seed=0):
    """Central differences on up to SAMPLES entries per leaf; perturbs params in place."""
    rng = np.random.default_rng(seed)
    assert [p for p, _ in _leaves(grads)] == [p for p, _ in _leaves(params)]
    for path, p in _leaves(params):
        g = _get(grads, path)
        assert g.shape == p.shape and g.dtype == p.dtype, path
        idx = rng.choice(p.size, min(SAMPLES, p.size), replace=False)
        numeric = np.empty(idx.size)
        for j, i in enumerate(idx):
            old = p.flat[i]
            p.flat[i] = old + EPS
            f_plus = f(params)
            p.flat[i] = old - EPS
            f_minus = f(params)
            p.flat[i] = old
            numeric[j] = (f_plus - f_minus) / (2 * EPS)
        analytic = g.flat[idx]
        # the floor keeps identically-zero leaves (whitening b0) from dividing noise by noise
        scale = max(np.abs(numeric).max(), np.abs(analytic).max(), 1e-4)
        err = np.abs(numeric - analytic).max() / scale
        assert err < RTOL, f"{path}: relative error {err:.2e}"


@pytest.mark.parametrize("g_loss", ["nonsat", "minimax"])
def test_gan_grads_match_finite_differences(g_loss):
    rng = np.random.default_rng(1)
    params = _jitter_biases(gan.init_params(rng, z_dim=3, hidden_g=5, data_dim=4, hidden_d=6), rng)
    batch = gan.make_batch(rng, n=7, data_dim=4, z_dim=3)
    (d, g), grads = gan.loss_and_grads(params, batch, g_loss=g_loss)
    assert (d, g) == gan.loss(params, batch, g_loss=g_loss)
    G, D = params["G"], params["D"]
    _check_grads(lambda q: gan.loss({"G": G, "D": q}, batch, g_loss)[0], D, grads["D"])
    _check_grads(lambda q: gan.loss({"G": q, "D": D}, batch, g_loss)[1], G, grads["G"])


def test_gan_rejects_unknown_generator_loss():
    rng = np.random.default_rng(0)
    params = gan.init_params(rng, 2, 3, 4, 3)
    with pytest.raises(ValueError, match='"nonsat" or "minimax"'):
        gan.loss_and_grads(params, gan.make_batch(rng, 2, 4, 2), g_loss="wasserstein")


@pytest.mark.parametrize("whiten", [True, False])
def test_whitening_grads_match_finite_differences(whiten):
    rng = np.random.default_rng(2)
    params = _jitter_biases(whitening.init_params(rng, d_in=5, width=4, hidden=6, n_classes=3), rng)
    batch = whitening.make_batch(rng, n=48, d_in=5, n_classes=3)
    x = batch[0]
    h0 = x @ params["W0"] + params["b0"]
    c = h0 - h0.mean(axis=0)
    lam = np.linalg.eigvalsh(c.T @ c / len(x))
    assert np.diff(lam).min() > 0.02  # N >> H0: well-separated eigenvalues for the K-matrix
    value, grads = whitening.loss_and_grads(params, batch, whiten=whiten)
    assert value == whitening.loss(params, batch, whiten=whiten)
    assert np.abs(grads["b0"]).max() < 1e-12  # centring removes b0
    _check_grads(lambda q: whitening.loss(q, batch, whiten=whiten), params, grads)


def test_whitening_rejects_batch_not_larger_than_width():
    rng = np.random.default_rng(0)
    params = whitening.init_params(rng, d_in=5, width=4, hidden=6, n_classes=3)
    with pytest.raises(ValueError, match="more than 4 rows, got N=4"):
        whitening.loss_and_grads(params, whitening.make_batch(rng, n=4, d_in=5, n_classes=3))


@pytest.mark.parametrize("reg", ["l1", "l2", None])
@pytest.mark.parametrize("loss", ["l1", "l2"])
def test_regression_grads_match_finite_differences(loss, reg):
    rng = np.random.default_rng(3)
    params = _jitter_biases(regression.init_params(rng, d_in=3, hidden=5, d_out=2), rng)
    batch = regression.make_batch(rng, n=6, d_in=3, d_out=2)
    kw = {"loss": loss, "reg": reg, "lam": 0.1}  # large lam so a wrong penalty gradient shows
    value, grads = regression.loss_and_grads(params, batch, **kw)
    assert value == regression.loss(params, batch, **kw)
    _check_grads(lambda q: regression.loss(q, batch, **kw), params, grads)


def test_regression_rejects_unknown_penalty():
    rng = np.random.default_rng(0)
    params = regression.init_params(rng, 3, 4, 2)
    with pytest.raises(ValueError, match='reg must be "l1", "l2" or None'):
        regression.loss_and_grads(params, regression.make_batch(rng, 5, 3, 2), reg="l0")


@pytest.mark.parametrize("model", ["highway", "residual"])
def test_deep_grads_match_finite_differences(model):
    rng = np.random.default_rng(4)
    params = deep.init_params(rng, model, d_in=4, width=5, n_classes=3, block_hidden=6)
    params = _jitter_biases(params, rng)
    batch = deep.make_batch(rng, n=7, d_in=4, n_classes=3)
    value, grads = deep.loss_and_grads(params, batch)
    assert value == deep.loss(params, batch)
    _check_grads(lambda q: deep.loss(q, batch), params, grads)


@pytest.mark.parametrize("model", ["vgg", "autoencoder"])
def test_convnets_grads_match_finite_differences(model):
    rng = np.random.default_rng(5)
    params = convnets.init_params(rng, model, channels=(2, 3), size=8, hidden=5, n_classes=3)
    params = _jitter_biases(params, rng)
    batch = convnets.make_batch(rng, model, n=2, size=8, n_classes=3)
    value, grads = convnets.loss_and_grads(params, batch)
    assert value == convnets.loss(params, batch)
    _check_grads(lambda q: convnets.loss(q, batch), params, grads)


def test_dni_backprop_grads_match_finite_differences():
    rng = np.random.default_rng(6)
    params = _jitter_biases(dni.init_params(rng, d_in=4, hidden=(5, 6), n_classes=3), rng)
    batch = dni.make_batch(rng, n=7, d_in=4, n_classes=3)
    value, grads = dni.loss_and_grads(params, batch)
    assert value == dni.loss(params, batch)
    _check_grads(lambda q: dni.loss(q, batch), params, grads)
    # the true delta is the per-example dl_n/dh1_n: it reproduces dL/dW1 = x^T (delta/N h1')
    x = batch[0]
    h1 = np.tanh(x @ params["W1"] + params["b1"])
    delta, delta_hat = dni.true_and_synthetic_grad(params, dni.init_sg_params(params), batch)
    np.testing.assert_allclose(x.T @ (delta / len(x) * (1 - h1**2)), grads["W1"], rtol=1e-12)
    assert delta_hat.shape == delta.shape and not delta_hat.any()


def test_dni_train_step_reduces_synthetic_gradient_loss():
    rng = np.random.default_rng(0)
    params = dni.init_params(rng, d_in=8, hidden=(16, 16), n_classes=10)
    sg = dni.init_sg_params(params)
    batch = dni.make_batch(rng, n=32, d_in=8, n_classes=10)
    before = {k: v.copy() for k, v in params.items()}
    history = []
    for _ in range(50):
        new_params, sg, stats = dni.train_step(params, sg, batch, lr=0.5)
        if not history:
            assert all(np.array_equal(before[k], params[k]) for k in params)  # no mutation
        params = new_params
        history.append(stats)
    assert history[0]["cosine"] == 0.0  # zero-initialised SG model predicts 0
    assert history[-1]["sg_loss"] < 0.5 * history[0]["sg_loss"]
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["cosine"] > 0.2


def _float32_setup(name):
    rng = np.random.default_rng(7)
    if name in ("highway", "residual"):
        return deep, deep.init_params(rng, name, 4, 3, 2, 3), deep.make_batch(rng, 5, 4, 3)
    if name in ("vgg", "autoencoder"):
        params = convnets.init_params(rng, name, (2, 2), 8, 3, 3)
        return convnets, params, convnets.make_batch(rng, name, 2, 8, 3)
    module, init_args, batch_args = {
        "gan": (gan, (2, 3, 4, 3), (5, 4, 2)),
        "whitening": (whitening, (5, 3, 4, 2), (9, 5, 2)),
        "regression": (regression, (3, 4, 2), (5, 3, 2)),
        "dni": (dni, (4, (3, 3), 2), (5, 4, 2)),
    }[name]
    return module, module.init_params(rng, *init_args), module.make_batch(rng, *batch_args)


@pytest.mark.parametrize(
    "name", ["gan", "whitening", "regression", "highway", "residual", "vgg", "autoencoder", "dni"]
)
def test_float32_is_preserved(name):
    module, params, batch = _float32_setup(name)
    params, batch = _cast(params, np.float32), _cast(batch, np.float32)
    value, grads = module.loss_and_grads(params, batch)
    for v in value if isinstance(value, tuple) else (value,):
        assert v.dtype == np.float32
    for path, g in _leaves(grads):
        assert g.dtype == np.float32 and g.shape == _get(params, path).shape, path
