"""The sweep's deferred weight products (tape._WeightProducts): a weight ``W`` used by many
2-D products ``a_t @ W`` gets its cotangent as one stacked product at the end of the sweep.
Its gradients must equal the step-by-step ones exactly in structure and to rounding in value.
"""

from __future__ import annotations

import numpy as np
import pytest

import autodiff.numpy as anp
from autodiff import tape as tape_mod
from autodiff import value_and_grad, vjp

N, D, H, T = 3, 64, 64, 6  # a has >= 64 columns and g (N, 4H) >= 256: deferred


def _loss(p, x):
    """A small LSTM-like recurrence: W (H, 4H) and U (D, 4H) reach every step, plus a
    penalty on W, so W's cotangent also has a contribution that is not deferred."""
    h = anp.zeros((N, H), x.dtype)
    total = 0.5 * anp.sum(p["W"] * p["W"])
    for t in range(T):
        a = x[:, t] @ p["U"] + h @ p["W"] + p["b"]
        h = anp.tanh(a[:, :H]) * (1 + anp.tanh(a[:, H : 2 * H] * a[:, 3 * H :]))
        total = total + anp.sum(h * h)
    return total


def _data(dtype):
    rng = np.random.default_rng(0)
    p = {
        "U": (rng.standard_normal((D, 4 * H)) * 0.1).astype(dtype),
        "W": (rng.standard_normal((H, 4 * H)) * 0.1).astype(dtype),
        "b": (rng.standard_normal(4 * H) * 0.1).astype(dtype),
    }
    return p, rng.standard_normal((N, T, D)).astype(dtype)


def _grads(monkeypatch, dtype, **settings):
    for name, value in settings.items():
        monkeypatch.setattr(tape_mod, name, value)
    p, x = _data(dtype)
    added = []
    real_add = tape_mod._WeightProducts.add
    monkeypatch.setattr(
        tape_mod._WeightProducts,
        "add",
        lambda self, pid, a, g, grads: (added.append(pid), real_add(self, pid, a, g, grads)),
    )
    value, g = value_and_grad(_loss)(p, x)
    monkeypatch.undo()
    return value, g, added


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_deferred_products_equal_step_by_step_ones(monkeypatch, dtype):
    value, deferred, added = _grads(monkeypatch, dtype)
    # W and U at every step went through the deferred path
    assert len(added) == 2 * T
    _, eager, none = _grads(monkeypatch, dtype, _DEFER_MIN_A=10**9)
    assert none == []
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for k in eager:
        assert deferred[k].dtype == dtype and deferred[k].shape == eager[k].shape
        np.testing.assert_allclose(deferred[k], eager[k], rtol=tol, atol=tol)


def test_deferred_products_match_finite_differences():
    p, x = _data(np.float64)
    g = value_and_grad(_loss)(p, x)[1]
    rng = np.random.default_rng(1)
    for k in ("W", "U"):
        d = rng.standard_normal(p[k].shape)
        eps = 1e-6
        up = dict(p, **{k: p[k] + eps * d})
        down = dict(p, **{k: p[k] - eps * d})
        fd = (_loss(up, x) - _loss(down, x)) / (2 * eps)
        assert np.isclose(np.sum(g[k] * d), fd, rtol=1e-6)


def test_memory_bound_flushes_and_keeps_the_gradient(monkeypatch):
    # a bound of one byte flushes at every product: same gradient as holding them all
    _, held, _ = _grads(monkeypatch, np.float64)
    _, flushed, added = _grads(monkeypatch, np.float64, _DEFER_BYTES=1)
    assert len(added) == 2 * T
    for k in held:
        np.testing.assert_allclose(flushed[k], held[k], rtol=1e-12, atol=1e-12)


def test_reused_vjp_fn_defers_again_with_the_same_result():
    p, x = _data(np.float64)
    value, f_vjp = vjp(_loss, p, x)
    first = f_vjp(np.float64(1.0))[0]
    second = f_vjp(np.float64(2.0))[0]
    for k in first:
        np.testing.assert_allclose(second[k], 2 * first[k], rtol=1e-12, atol=1e-12)
