"""Tests for nn.optim: each update rule against its paper's, written out here independently."""

import math

import numpy as np
import pytest

from autodiff.tree import tree_flatten, tree_leaves, tree_structure, tree_unflatten
from nn import optim
from nn.optim import (
    adadelta,
    adagrad,
    adam,
    clip_by_global_norm,
    constant,
    exponential_decay,
    global_norm,
    gradient_noise,
    inverse_time,
    lenet5_schedule,
    momentum,
    nadam,
    nesterov,
    piecewise_constant,
    rmsprop,
    sdlm,
    sdlm_set_hessian,
    sgd,
)

# f(x) = 1/2 sum_i C_i (x_i - X_STAR_i)^2 over the flat vector of a two-leaf pytree.
C = np.array([0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
X_STAR = np.array([1.0, -2.0, 0.5, 3.0, -1.0, 0.0, 2.0])
X0 = np.array([0.3, 0.7, -1.2, 2.0, 0.1, -0.4, 1.5])


def grad_flat(x):
    return C * (x - X_STAR)


def to_tree(x, dtype=np.float64):
    return {"a": x[:3].astype(dtype), "b": x[3:].reshape(2, 2).astype(dtype)}


def to_flat(tree):
    return np.concatenate([np.ravel(leaf) for leaf in tree_leaves(tree)])


def start(opt, params):
    state = opt.init(params)
    if "hessian_set" in state:  # sdlm: the exact diagonal Hessian of f
        state = sdlm_set_hessian(state, to_tree(C, to_flat(params).dtype))
    return state


def run(opt, x0, steps, dtype=np.float64):
    params = to_tree(x0, dtype)
    state = start(opt, params)
    xs = []
    for _ in range(steps):
        params, state = opt.update(to_tree(grad_flat(to_flat(params)), dtype), state, params)
        xs.append(to_flat(params))
    return xs, params, state


# Reference update rules (REFERENCE.md, "Optimisers"), on flat vectors.


def ref_sgd(x, lr=0.1):
    for _ in range(3):
        x = x - lr * grad_flat(x)
        yield x


def ref_momentum(x, lr=0.05, mu=0.9):
    v = np.zeros_like(x)
    for _ in range(3):
        v = mu * v - lr * grad_flat(x)
        x = x + v
        yield x


def ref_nesterov(x, lr=0.05, mu=0.9):
    # Sutskever et al. (2013), Eqs. (3)-(4); the optimiser's params are theta + mu v.
    theta, v = x, np.zeros_like(x)
    for _ in range(3):
        v = mu * v - lr * grad_flat(theta + mu * v)
        theta = theta + v
        yield theta + mu * v


def ref_adagrad(x, lr=0.1, eps=1e-8):
    G = np.zeros_like(x)
    for _ in range(3):
        g = grad_flat(x)
        G = G + g**2
        x = x - lr * g / np.sqrt(G + eps)
        yield x


def ref_adadelta(x, rho=0.95, eps=1e-6):
    # Zeiler (2012), Algorithm 1 (no learning rate).
    Eg2, Edx2 = np.zeros_like(x), np.zeros_like(x)
    for _ in range(3):
        g = grad_flat(x)
        Eg2 = rho * Eg2 + (1 - rho) * g**2
        dx = -np.sqrt(Edx2 + eps) / np.sqrt(Eg2 + eps) * g
        Edx2 = rho * Edx2 + (1 - rho) * dx**2
        x = x + dx
        yield x


def ref_rmsprop(x, lr=1e-3, eps=1e-8):
    Eg2 = np.zeros_like(x)
    for _ in range(3):
        g = grad_flat(x)
        Eg2 = 0.9 * Eg2 + 0.1 * g**2
        x = x - lr * g / np.sqrt(Eg2 + eps)
        yield x


def ref_adam(x, alpha=0.001, b1=0.9, b2=0.999, eps=1e-8):
    # Kingma & Ba (2015), Algorithm 1.
    m, v = np.zeros_like(x), np.zeros_like(x)
    for t in range(1, 4):
        g = grad_flat(x)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        x = x - alpha * m_hat / (np.sqrt(v_hat) + eps)
        yield x


def ref_nadam(x, lr=0.002, b1=0.9, b2=0.999, eps=1e-8, psi=0.004):
    mus = [None] + [b1 * (1 - 0.5 * 0.96 ** (i * psi)) for i in range(1, 5)]
    m, v = np.zeros_like(x), np.zeros_like(x)
    for t in range(1, 4):
        g = grad_flat(x)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        prod_t, prod_next = math.prod(mus[1 : t + 1]), math.prod(mus[1 : t + 2])
        m_hat = mus[t + 1] * m / (1 - prod_next) + (1 - mus[t]) * g / (1 - prod_t)
        v_hat = v / (1 - b2**t)
        x = x - lr * m_hat / (np.sqrt(v_hat) + eps)
        yield x


def ref_sdlm(x, lr=0.3, mu=0.02):
    # LeCun et al. (1998), Eqs. (21) and (18), with h_kk the exact diagonal Hessian C.
    for _ in range(3):
        x = x - lr / (mu + C) * grad_flat(x)
        yield x


REFERENCES = {
    "sgd": (lambda: sgd(0.1), ref_sgd),
    "momentum": (lambda: momentum(0.05, mu=0.9), ref_momentum),
    "nesterov": (lambda: nesterov(0.05, mu=0.9), ref_nesterov),
    "adagrad": (lambda: adagrad(0.1), ref_adagrad),
    "adadelta": (adadelta, ref_adadelta),
    "rmsprop": (rmsprop, ref_rmsprop),
    "adam": (adam, ref_adam),
    "nadam": (nadam, ref_nadam),
    "sdlm": (lambda: sdlm(0.3), ref_sdlm),
}


@pytest.mark.parametrize("name", REFERENCES)
def test_optimizer_matches_paper_rule_for_three_steps(name):
    make, ref = REFERENCES[name]
    xs, _, state = run(make(), X0, 3)
    for x, expected in zip(xs, ref(X0), strict=True):
        np.testing.assert_allclose(x - X0, expected - X0, rtol=1e-10, atol=1e-15)
    assert int(state["step"]) == 3


def test_nesterov_state_recovers_paper_theta():
    _, params, state = run(nesterov(0.05, mu=0.9), X0, 3)
    theta = X0.copy()
    v = np.zeros_like(X0)
    for _ in range(3):
        v = 0.9 * v - 0.05 * grad_flat(theta + 0.9 * v)
        theta = theta + v
    np.testing.assert_allclose(to_flat(params) - 0.9 * to_flat(state["v"]), theta, rtol=1e-12)


# Convergence on f(x) = 1/2 (x_0^2 + 10 x_1^2) from (1, 1).

CONVERGENCE = {
    "sgd": (lambda: sgd(0.15), 200),
    "momentum": (lambda: momentum(0.05), 200),
    "nesterov": (lambda: nesterov(0.05), 200),
    "adagrad": (lambda: adagrad(0.5), 200),
    "adadelta": (adadelta, 500),
    "rmsprop": (lambda: rmsprop(0.01), 300),
    "adam": (lambda: adam(0.05), 300),
    "nadam": (lambda: nadam(0.05), 300),
    "gradient_noise": (lambda: gradient_noise(sgd(0.15), rng=np.random.default_rng(0)), 200),
    "sdlm": (lambda: sdlm(0.5), 50),
}


@pytest.mark.parametrize("name", CONVERGENCE)
def test_optimizer_converges_on_2d_quadratic(name):
    make, steps = CONVERGENCE[name]
    opt = make()
    c = np.array([1.0, 10.0])
    params = {"x": np.ones(2)}
    state = opt.init(params)
    if name == "sdlm":
        state = sdlm_set_hessian(state, {"x": c})
    for _ in range(steps):
        params, state = opt.update({"x": c * params["x"]}, state, params)
    loss = 0.5 * np.sum(c * params["x"] ** 2)
    assert loss < 1e-4 * 5.5


# Gradient noise, Neelakantan et al. (2015): sigma_t^2 = eta / (1 + t)^gamma.


def test_gradient_noise_variance_anneals():
    eta, gamma, n = 0.3, 0.55, 200_000
    opt = gradient_noise(sgd(1.0), eta=eta, gamma=gamma, rng=np.random.default_rng(3))
    params = {"w": np.zeros(n)}
    state = opt.init(params)
    for t in range(10):
        new, state = opt.update({"w": np.zeros(n)}, state, params)
        step = new["w"] - params["w"]  # = -lr * noise, zero gradient
        params = new
        if t in (0, 9):
            assert np.var(step) == pytest.approx(eta / (1 + t) ** gamma, rel=0.02)
            assert abs(np.mean(step)) < 0.01


def test_gradient_noise_with_zero_eta_is_the_inner_optimizer():
    xs, _, _ = run(gradient_noise(adam(0.01), eta=0.0, rng=0), X0, 3)
    ref, _, _ = run(adam(0.01), X0, 3)
    np.testing.assert_array_equal(xs, ref)


def test_gradient_noise_is_reproducible_from_seed():
    a, _, _ = run(gradient_noise(sgd(0.1), rng=np.random.default_rng(7)), X0, 3)
    b, _, _ = run(gradient_noise(sgd(0.1), rng=np.random.default_rng(7)), X0, 3)
    c, _, _ = run(gradient_noise(sgd(0.1), rng=np.random.default_rng(8)), X0, 3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# State: save/restore, dtypes, structure errors.

ALL = {
    **{k: v[0] for k, v in REFERENCES.items()},
    "gradient_noise": CONVERGENCE["gradient_noise"][0],
}


@pytest.mark.parametrize("name", ALL)
def test_state_round_trips_through_npz(name, tmp_path):
    opt = ALL[name]()
    _, params, state = run(opt, X0, 2)
    leaves, _ = tree_flatten(state)
    np.savez(tmp_path / "state.npz", *leaves)
    with np.load(tmp_path / "state.npz", allow_pickle=False) as f:
        loaded = [f[f"arr_{i}"] for i in range(len(f.files))]
    restored = tree_unflatten(tree_structure(start(opt, params)), loaded)
    for a, b in zip(tree_leaves(restored), leaves, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    g = to_tree(grad_flat(to_flat(params)))
    p1, s1 = opt.update(g, state, params)
    p2, s2 = opt.update(g, restored, params)
    np.testing.assert_array_equal(to_flat(p1), to_flat(p2))
    for a, b in zip(tree_leaves(s1), tree_leaves(s2), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ALL)
def test_float32_params_stay_float32(name):
    opt = ALL[name]()
    xs, params, state = run(opt, X0, 3, dtype=np.float32)
    assert all(leaf.dtype == np.float32 for leaf in tree_leaves(params))
    for leaf in tree_leaves(state):
        if leaf.ndim:  # moments shaped like params; 0-d leaves are counters
            assert leaf.dtype == np.float32
    # float64 gradients do not promote float32 params
    new, _ = opt.update(to_tree(np.ones(7)), state, params)
    assert all(leaf.dtype == np.float32 for leaf in tree_leaves(new))
    ref, _, _ = run(ALL[name](), X0, 3)
    np.testing.assert_allclose(xs[-1], ref[-1], rtol=1e-4, atol=1e-6)


def test_update_rejects_grads_of_another_structure():
    opt = adam()
    params = to_tree(X0)
    with pytest.raises(ValueError, match="pass grads of the same pytree as params"):
        opt.update({"a": np.zeros(3)}, opt.init(params), params)


def test_hyperparameters_are_checked():
    with pytest.raises(ValueError, match=r"adam: b1 must be in \[0, 1\), got 1.0"):
        adam(b1=1.0)
    with pytest.raises(ValueError, match="momentum: mu must be in"):
        momentum(mu=-0.1)
    with pytest.raises(ValueError, match="sdlm: mu must be positive"):
        sdlm(0.1, mu=0.0)


# SDLM Hessian handling.


def test_sdlm_requires_hessian_before_update():
    opt = sdlm(0.1)
    params = to_tree(X0)
    with pytest.raises(ValueError, match=r"call state = sdlm_set_hessian\(state, hdiag\)"):
        opt.update(params, opt.init(params), params)


def test_sdlm_set_hessian_validates():
    state = sdlm(0.1).init(to_tree(X0))
    with pytest.raises(ValueError, match="hdiag must be >= 0.*got min -1.0"):
        sdlm_set_hessian(state, to_tree(-np.ones(7)))
    with pytest.raises(ValueError, match="hdiag has structure"):
        sdlm_set_hessian(state, {"a": np.ones(3)})
    with pytest.raises(ValueError, match=r"hdiag leaf of shape \(4,\), param \(2, 2\)"):
        sdlm_set_hessian(state, {"a": np.ones(3), "b": np.ones(4)})
    new = sdlm_set_hessian(state, to_tree(C))
    assert not state["hessian_set"] and new["hessian_set"]  # the input state is not changed


def test_sdlm_effective_rate_is_bounded_by_lr_over_mu():
    opt = sdlm(1e-3, mu=0.02)
    state = sdlm_set_hessian(opt.init({"w": np.zeros(2)}), {"w": np.array([0.0, 1e6])})
    new, _ = opt.update({"w": np.ones(2)}, state, {"w": np.zeros(2)})
    np.testing.assert_allclose(new["w"], [-1e-3 / 0.02, -1e-3 / (0.02 + 1e6)])


# Learning-rate schedules.


def test_schedule_is_called_with_updates_done_so_far():
    seen = []

    def lr(step):
        seen.append(step)
        return 0.5 if step else 1.0

    opt = sgd(lr)
    params, state = {"w": np.zeros(1)}, opt.init({"w": np.zeros(1)})
    for _ in range(3):
        params, state = opt.update({"w": np.ones(1)}, state, params)
    assert seen == [0, 1, 2]
    np.testing.assert_allclose(params["w"], [-2.0])


@pytest.mark.parametrize("make", [adam, nadam, rmsprop, momentum, sdlm])
def test_schedule_and_float_lr_agree(make):
    a, _, _ = run(make(lr=0.01), X0, 3)
    b, _, _ = run(make(lr=constant(0.01)), X0, 3)
    np.testing.assert_array_equal(a, b)


def test_schedules_values():
    assert constant(0.3)(10**6) == 0.3
    s = piecewise_constant([10, 20], [1.0, 0.5, 0.1])
    assert [s(0), s(9), s(10), s(19), s(20), s(10**6)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    assert exponential_decay(2.0, 0.5, 10)(15) == pytest.approx(2.0 * 0.5**1.5)
    assert exponential_decay(2.0, 0.5, 10, staircase=True)(15) == 1.0
    assert inverse_time(1.0, 0.5, 10)(20) == 0.5
    assert inverse_time(1.0, 0.5, 10, staircase=True)(19) == pytest.approx(1 / 1.5)
    assert all(isinstance(f(3), float) for f in (constant(1), s, inverse_time(1, 1)))


def test_schedule_errors():
    with pytest.raises(ValueError, match="one more value than boundaries, got 2 boundaries"):
        piecewise_constant([1, 2], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"boundaries must increase, got \[5, 5\]"):
        piecewise_constant([5, 5], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="decay_steps must be positive, got 0"):
        exponential_decay(1.0, 0.5, 0)
    with pytest.raises(ValueError, match="decay_steps must be positive, got -1"):
        inverse_time(1.0, 0.5, -1)


def test_lenet5_schedule_matches_paper_table():
    table = {1: 5e-4, 2: 5e-4, 3: 2e-4, 5: 2e-4, 6: 1e-4, 8: 1e-4, 9: 5e-5, 12: 5e-5}
    table.update({13: 1e-5, 20: 1e-5, 25: 1e-5})
    assert {p: lenet5_schedule(p) for p in table} == table
    with pytest.raises(ValueError, match=r"passes count from 1.*lenet5_schedule\(epoch \+ 1\)"):
        lenet5_schedule(0)


# Gradient clipping.


def test_global_norm_and_clipping():
    grads = {"a": np.array([3.0]), "b": np.array([[4.0]], np.float32)}
    assert global_norm(grads) == 5.0
    clipped = clip_by_global_norm(grads, 1.0)
    assert global_norm(clipped) == pytest.approx(1.0)
    assert clipped["b"].dtype == np.float32
    np.testing.assert_allclose(clipped["a"], [0.6])
    assert clip_by_global_norm(grads, 10.0) is grads
    with pytest.raises(ValueError, match="max_norm must be positive, got 0"):
        clip_by_global_norm(grads, 0)


def test_public_names_are_exported():
    for name in optim.__all__:
        assert hasattr(optim, name)
