"""GANs: gradients of both players (and of the gradient penalty), the hand-derived benchmark,
the Parzen estimator, and the command line end to end on tiny synthetic IDX data."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autodiff import check_grads, tree_flatten, tree_leaves
from benchmarks.manual import gan as manual
from nn import checkpoint
from nn import gan as cli
from nn.data import write_idx
from nn.models import gan, gan_eval, lenet5

ROOT = Path(__file__).resolve().parents[2]


def _tiny(model, arch="mlp", **kw):
    sizes = {"z_dim": 3, "g_hidden": [4], "d_hidden": [5], "g_channels": [2, 2],
             "d_channels": [2, 2]}  # fmt: skip
    cfg = gan.config(model, arch=arch, **{**sizes, **kw})
    rng = np.random.default_rng(0)
    params = gan.init(rng, cfg)
    shape = (3, 784) if arch == "mlp" else (3, 1, 28, 28)
    return cfg, params, rng.random(shape), rng.random(shape), gan.sample_noise(rng, 3, cfg)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("model", ["gan", "wgan"])
def test_gan_discriminator_loss_grads(model, arch):
    cfg, p, x_real, x_fake, _ = _tiny(model, arch)
    check_grads(lambda D: gan.d_loss(D, x_real, x_fake, cfg), p["D"], order=2)
    # with dropout in D (a fresh generator per call, so every call drops the same units)
    cfg = {**cfg, "dropout": 0.3}
    rng = np.random.default_rng
    check_grads(lambda D: gan.d_loss(D, x_real, x_fake, cfg, rng=rng(3)), p["D"], order=1)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("g_loss", ["nonsat", "minimax", "wgan"])
def test_gan_generator_grad_flows_through_discriminator(g_loss, arch):
    cfg, p, _, _, z = _tiny("wgan" if g_loss == "wgan" else "gan", arch, g_loss=g_loss)
    check_grads(lambda G: gan.g_loss(G, p["D"], z, cfg), p["G"], order=1)
    # and in the discriminator's parameters too: G's loss depends on D as well
    check_grads(lambda D: gan.g_loss(p["G"], D, z, cfg), p["D"], order=1)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_gan_gradient_penalty_grads(arch):
    cfg, p, x_real, x_fake, _ = _tiny("wgan-gp", arch)
    eps = np.array([0.1, 0.5, 0.9])
    # reverse, forward(-over-reverse) and, at order 2, the third derivative of the critic
    check_grads(lambda D: gan.gradient_penalty(D, x_real, x_fake, eps), p["D"], order=1)
    check_grads(
        lambda D: gan.gradient_penalty(D, x_real, x_fake, eps), p["D"], modes=("rev",), order=2
    )
    check_grads(lambda D: gan.d_loss(D, x_real, x_fake, cfg, eps), p["D"], modes=("rev",), order=1)
    # the interpolates: the penalty also depends on x_real and x_fake through x_hat
    check_grads(
        lambda xr: gan.gradient_penalty(p["D"], xr, x_fake, eps), x_real, modes=("rev",), order=1
    )


def test_gan_gradient_penalty_of_linear_critic_is_closed_form():
    # D(x) = x w + b has grad_x D = w at every x_hat: the penalty is (||w|| - 1)^2
    cfg, p, x_real, x_fake, _ = _tiny("wgan-gp", d_hidden=[])
    w = p["D"]["W1"]
    got = gan.gradient_penalty(p["D"], x_real, x_fake, np.array([0.2, 0.4, 0.6]))
    assert got == pytest.approx((np.linalg.norm(w) - 1) ** 2, rel=1e-12)


@pytest.mark.parametrize("g_loss", ["nonsat", "minimax"])
def test_gan_mlp_grads_equal_manual_backprop(g_loss):
    rng = np.random.default_rng(1)
    params = manual.init_params(rng, 6, 7, 784, 5)
    batch = manual.make_batch(rng, 9, 784, 6)
    cfg = gan.config("gan", g_loss=g_loss, z_dim=6)
    (d, g), grads = gan.loss_and_grads(params, batch, cfg)
    (dm, gm), grads_m = manual.loss_and_grads(params, batch, g_loss)
    assert abs(d - dm) <= 1e-8 and abs(g - gm) <= 1e-8
    (la, ta), (lm, tm) = tree_flatten(grads), tree_flatten(grads_m)
    assert ta == tm
    for a, m in zip(la, lm, strict=True):
        assert a.shape == m.shape and a.dtype == m.dtype
        np.testing.assert_allclose(a, m, rtol=1e-8, atol=1e-8)


def test_wgan_clips_critic_weights():
    cfg, p, x_real, *_ = _tiny("wgan")
    state = gan.init_state(np.random.default_rng(0), cfg)
    state, _ = gan.d_step(state, x_real, np.random.default_rng(1), cfg)
    assert max(np.abs(v).max() for v in tree_leaves(state["params"]["D"])) <= 0.01


def test_parzen_samples_at_far_apart_test_points_is_closed_form():
    # each test point sits on one sample, all others are far: log p = -log K - d/2 log(2 pi s^2)
    d, k, s = 4, 5, 0.3
    points = 100.0 * np.eye(k, d + 1)[:, :d] + np.arange(k)[:, None] * 50
    ll = gan_eval.parzen_log_likelihood(points, points, [s])[0]
    np.testing.assert_allclose(ll, -math.log(k) - d / 2 * math.log(2 * math.pi * s * s), rtol=1e-12)


def test_parzen_matches_gaussian_mixture_density():
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(0)
    samples, x = rng.random((7, 3)), rng.random((4, 3))
    s = 0.4
    dens = np.mean([multivariate_normal(m, s * s * np.eye(3)).pdf(x) for m in samples], axis=0)
    got = gan_eval.parzen_log_likelihood(samples, x, [0.1, s], batch_size=3)
    np.testing.assert_allclose(got[1], np.log(dens), rtol=1e-10)


def test_parzen_estimate_picks_the_best_window_on_validation():
    rng = np.random.default_rng(0)
    samples = rng.normal(0, 1, (400, 2))
    val, test = rng.normal(0, 1, (300, 2)), rng.normal(0, 1, (300, 2))
    r = gan_eval.parzen_estimate(samples, test, val, sigmas=[0.01, 0.3, 10.0])
    assert r["sigma"] == 0.3
    assert r["mean"] == pytest.approx(-2.9, abs=0.3)  # entropy of N(0, I_2) is 2.84 nats


def test_classifier_score_counts_confident_digits():
    params = lenet5.init(np.random.default_rng(0), "modern")
    images = np.random.default_rng(1).random((6, 784))
    r = gan_eval.classifier_score(params, images, threshold=0.0)
    assert r["confident_share"] == 1.0 and sum(r["histogram"]) == 6
    assert 0 <= r["entropy_bits"] <= math.log2(6) + 1e-12
    assert gan_eval._entropy_bits(np.ones(10)) == pytest.approx(math.log2(10))


def _write_mnist_like(folder: Path, n_train=120, n_test=40):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = (rng.random((n, 28, 28)) < 0.2).astype(np.uint8) * 255
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n).astype(np.uint8))
    return folder


def test_gan_cli_quick_end_to_end(tmp_path):
    data = _write_mnist_like(tmp_path / "data")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "nn.gan", "train", "--model", "gan", "--quick", "--out",
           str(out), "--data", str(data), "--batch-size", "16", "--epochs", "2"]  # fmt: skip
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    for name in ("samples_epoch001.png", "samples_epoch002.png", "samples.gif", "losses.png"):
        assert (out / name).stat().st_size > 0
    from PIL import Image

    assert Image.open(out / "samples.gif").n_frames == 2
    tree, meta = checkpoint.load(out / "checkpoint.npz")
    assert meta["epoch"] == 2 and len(tree["history"]["g_loss"]) == 2 * (100 // 16)
    lenet = tmp_path / "lenet.npz"
    checkpoint.save(lenet, {"params": lenet5.init(np.random.default_rng(0))})
    result = tmp_path / "eval.json"
    args = ["eval", "--ckpt", str(out / "checkpoint.npz"), "--classifier", str(lenet),
            "--data", str(data), "--samples", "50", "--json", str(result)]  # fmt: skip
    assert cli.main(args) == 0
    assert result.stat().st_size > 0


def test_gan_resume_is_exact(tmp_path):
    data = _write_mnist_like(tmp_path / "data", n_train=60)
    kw = dict(data=str(data), progress=False, batch_size=5, g_hidden=[8], d_hidden=[8])
    whole, _ = cli.train("wgan-gp", 2, out=tmp_path / "a", **kw)
    cli.train("wgan-gp", 1, out=tmp_path / "b", **kw)
    resumed, meta = cli.train(None, 2, resume=tmp_path / "b" / "checkpoint.npz", **kw)
    assert meta["epoch"] == 2
    (la, ta), (lb, tb) = tree_flatten(whole), tree_flatten(resumed)
    assert ta == tb
    for a, b in zip(la, lb, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize(
    "model, arch", [("gan", "mlp"), ("dcgan", "conv"), ("wgan", "conv"), ("wgan-gp", "conv")]
)
def test_gan_train_step_updates_both_players(model, arch):
    cfg, p, x_real, *_ = _tiny(model, arch)
    state = gan.init_state(np.random.default_rng(0), cfg)
    batches = [x_real] * cfg["k"]
    new, metrics = gan.train_step(state, batches, np.random.default_rng(1), cfg)
    for player in ("G", "D"):
        pairs = list(
            zip(
                tree_leaves(state["params"][player]),
                tree_leaves(new["params"][player]),
                strict=True,
            )
        )
        assert all(a.shape == b.shape and np.isfinite(b).all() for a, b in pairs)
        assert any(not np.array_equal(a, b) for a, b in pairs)
    assert int(new["opt"]["D"]["step"]) == cfg["k"] and int(new["opt"]["G"]["step"]) == 1
    assert np.isfinite([metrics["d_loss"], metrics["g_loss"]]).all()
