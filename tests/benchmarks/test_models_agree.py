"""Every AD twin and nn model against its hand derivation: same loss, same gradient per leaf."""

import numpy as np
import pytest

from autodiff import tree_leaves
from autodiff.derivcheck import compare_grads
from benchmarks import models
from benchmarks.cases import CASES
from benchmarks.manual import dni, gan

# float32 AD and hand-written code round differently; 1e-3 relative is float32's rtol
RTOL = {"float64": 1e-8, "float32": 1e-3}


def _value(v):
    return float(np.asarray(v[0] if isinstance(v, tuple) else v))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(CASES))
def test_case_ad_matches_hand(name, dtype):
    case = CASES[name]
    params, batch = case.make(np.random.default_rng(0), np.dtype(dtype), "tiny")
    hand_value, hand_grads = case.hand(params, batch)
    ad_value, ad_grads = case.ad(params, batch)
    report = compare_grads(ad_grads, hand_grads, rtol=RTOL[dtype])
    assert report.ok, str(report)
    assert report.max_rel <= RTOL[dtype]
    assert np.isclose(_value(ad_value), _value(hand_value), rtol=RTOL[dtype])
    for g, p in zip(tree_leaves(ad_grads), tree_leaves(params), strict=True):
        assert np.asarray(g).dtype == p.dtype == np.dtype(dtype)
        assert np.shape(g) == p.shape
    # the AD forward is the same loss
    assert np.isclose(_value(case.ad_forward(params, batch)), _value(hand_value), rtol=RTOL[dtype])


@pytest.mark.parametrize("g_loss", ["nonsat", "minimax"])
def test_nn_gan_matches_hand(g_loss):
    from nn.models import gan as nn_gan

    rng = np.random.default_rng(1)
    params = gan.init_params(rng, 3, 4, 6, 5)
    batch = gan.make_batch(rng, 4, 6, 3)
    cfg = nn_gan.config("gan", g_hidden=[4], d_hidden=[5], z_dim=3, g_loss=g_loss)
    (d, g), grads = nn_gan.loss_and_grads(params, batch, cfg)
    (hd, hg), hand = gan.loss_and_grads(params, batch, g_loss)
    assert np.allclose([d, g], [hd, hg], rtol=1e-12)
    assert compare_grads(grads, hand, rtol=1e-8).ok
    (td, tg), twin = models.gan_loss_and_grads(params, *batch, g_loss=g_loss)
    assert np.allclose([td, tg], [hd, hg], rtol=1e-12)
    assert compare_grads(twin, hand, rtol=1e-8).ok


def test_dni_train_step_matches_hand():
    rng = np.random.default_rng(2)
    params = dni.init_params(rng, 5, (4, 3), 3)
    sg = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in dni.init_sg_params(params).items()}
    batch = dni.make_batch(rng, 6, 5, 3)
    p_hand, sg_hand, stats_hand = dni.train_step(params, sg, batch, lr=0.1)
    p_ad, sg_ad, stats_ad = models.dni_train_step(params, sg, batch, lr=0.1)
    assert compare_grads(p_ad, p_hand, rtol=1e-8).ok
    assert compare_grads(sg_ad, sg_hand, rtol=1e-8).ok
    for k in stats_hand:
        assert np.isclose(stats_ad[k], stats_hand[k], rtol=1e-8), k
