"""Functional optimisers over pytrees, learning-rate schedules and gradient clipping.

An optimiser is a pair ``init(params) -> state`` and ``update(grads, state, params) ->
(new_params, new_state)``::

    opt = adam(lr=1e-3)
    state = opt.init(params)
    params, state = opt.update(grad(loss)(params), state, params)

The state is a dict pytree of NumPy arrays (moments shaped like ``params``, a 0-d int64
``step``), so ``tree_flatten`` + ``np.savez`` save it and ``np.load`` + ``tree_unflatten``
with the structure of ``opt.init(params)`` restore it exactly. ``lr`` is a float or a schedule
``lr(step)``, called with the number of updates done so far (0 for the first). Parameters keep
their dtype. Equations are those of REFERENCE.md, "Optimisers".
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from autodiff.tree import tree_flatten, tree_leaves, tree_map, tree_structure, tree_unflatten

__all__ = [
    "Optimizer",
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "adadelta",
    "rmsprop",
    "adam",
    "nadam",
    "gradient_noise",
    "sdlm",
    "sdlm_set_hessian",
    "constant",
    "piecewise_constant",
    "exponential_decay",
    "inverse_time",
    "lenet5_schedule",
    "global_norm",
    "clip_by_global_norm",
]

Schedule = Callable[[int], float]


class Optimizer(NamedTuple):
    """``init(params) -> state`` and ``update(grads, state, params) -> (params, state)``."""

    init: Callable[[Any], dict]
    update: Callable[[Any, dict, Any], tuple[Any, dict]]


def _rate(lr: float | Schedule, step: int) -> float:
    return float(lr(step) if callable(lr) else lr)


def _check_unit(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}.")


def _zeros(params: Any) -> Any:
    return tree_map(np.zeros_like, params)


def _step0() -> np.ndarray:
    return np.zeros((), np.int64)


def _map(fn: Callable, n_out: int, params: Any, *trees: Any) -> tuple:
    """Apply ``fn(p, *xs) -> n_out arrays`` leafwise; each output is cast to its ``p``'s dtype."""
    leaves, td = tree_flatten(params)
    others = []
    for tree in trees:
        tl, ttd = tree_flatten(tree)
        if ttd != td:
            raise ValueError(
                f"update: a tree has structure {ttd} but params have {td}; pass grads "
                "of the same pytree as params and the state from this optimizer's init."
            )
        others.append(tl)
    outs = []
    for p, *xs in zip(leaves, *others, strict=True):
        dtype = np.asarray(p).dtype
        outs.append([np.asarray(o, dtype=dtype) for o in fn(p, *xs)])
    cols = list(zip(*outs, strict=True)) if outs else [()] * n_out
    return tuple(tree_unflatten(td, list(c)) for c in cols)


def _elementwise(lr, init_slots: Sequence[str], rule: Callable, extra: Callable | None = None):
    """Build an Optimizer from ``rule(p, g, *slots, lr, **extra(step)) -> (p, *slots)``."""

    def init(params):
        return {"step": _step0(), **{s: _zeros(params) for s in init_slots}}

    def update(grads, state, params):
        t = int(state["step"])
        scalars = {"lr": _rate(lr, t), **(extra(t) if extra else {})}
        new = _map(
            lambda p, g, *slots: rule(p, g, *slots, **scalars),
            1 + len(init_slots),
            params,
            grads,
            *(state[s] for s in init_slots),
        )
        new_state = {
            "step": np.asarray(t + 1, np.int64),
            **dict(zip(init_slots, new[1:], strict=True)),
        }
        return new[0], new_state

    return Optimizer(init, update)


def sgd(lr: float | Schedule = 0.01) -> Optimizer:
    """Plain gradient descent, theta <- theta - lr g.

    >>> opt = sgd(0.5)
    >>> opt.update({"w": np.array(2.0)}, opt.init({"w": np.array(1.0)}), {"w": np.array(1.0)})[0]
    {'w': array(0.)}
    """
    return _elementwise(lr, (), lambda p, g, lr: (p - lr * g,))


def momentum(lr: float | Schedule = 0.01, mu: float = 0.9) -> Optimizer:
    """Heavy-ball momentum: v <- mu v - lr g; theta <- theta + v (REFERENCE.md table).

    >>> opt = momentum(0.1, mu=0.5)
    >>> p, s = opt.update([np.array(1.0)], opt.init([np.array(0.0)]), [np.array(0.0)])
    >>> p, s["v"]
    ([array(-0.1)], [array(-0.1)])
    """
    _check_unit("momentum: mu", mu)

    def rule(p, g, v, lr):
        v = mu * v - lr * g
        return p + v, v

    return _elementwise(lr, ("v",), rule)


def nesterov(lr: float | Schedule = 0.01, mu: float = 0.9) -> Optimizer:
    """Nesterov momentum, Eqs. (3)-(4) of Sutskever, Martens, Dahl & Hinton (2013).

    v_{t+1} = mu v_t - lr grad f(theta_t + mu v_t); theta_{t+1} = theta_t + v_{t+1}. ``params``
    hold the look-ahead point phi_t = theta_t + mu v_t, so gradients taken at ``params`` are the
    ones the rule needs; then phi_{t+1} = phi_t + mu v_{t+1} - lr g (as in PyTorch). The
    paper's theta is ``params - mu * state["v"]``.

    >>> opt = nesterov(0.1, mu=0.5)
    >>> opt.update([np.array(1.0)], opt.init([np.array(0.0)]), [np.array(0.0)])[0]
    [array(-0.15)]
    """
    _check_unit("nesterov: mu", mu)

    def rule(p, g, v, lr):
        v = mu * v - lr * g
        return p + mu * v - lr * g, v

    return _elementwise(lr, ("v",), rule)


def adagrad(lr: float | Schedule = 0.01, eps: float = 1e-8) -> Optimizer:
    """Adagrad (Duchi, Hazan & Singer 2011): G <- G + g^2; theta <- theta - lr g / sqrt(G + eps).

    >>> opt = adagrad(0.1, eps=0.0)
    >>> opt.update([np.array(-4.0)], opt.init([np.array(0.0)]), [np.array(0.0)])[0]
    [array(0.1)]
    """

    def rule(p, g, G, lr):
        G = G + g * g
        return p - lr * g / np.sqrt(G + eps), G

    return _elementwise(lr, ("G",), rule)


def adadelta(lr: float | Schedule = 1.0, rho: float = 0.95, eps: float = 1e-6) -> Optimizer:
    """Adadelta, Algorithm 1 of Zeiler (2012), scaled by ``lr`` (1 in the paper).

    E[g^2] <- rho E[g^2] + (1-rho) g^2; d = -sqrt(E[d^2] + eps) / sqrt(E[g^2] + eps) g;
    E[d^2] <- rho E[d^2] + (1-rho) d^2; theta <- theta + lr d.

    >>> opt = adadelta()
    >>> opt.update([np.array(1.0)], opt.init([np.array(0.0)]), [np.array(0.0)])[0]
    [array(-0.00447209)]
    """
    _check_unit("adadelta: rho", rho)

    def rule(p, g, Eg2, Ed2, lr):
        Eg2 = rho * Eg2 + (1 - rho) * g * g
        d = -np.sqrt(Ed2 + eps) / np.sqrt(Eg2 + eps) * g
        Ed2 = rho * Ed2 + (1 - rho) * d * d
        return p + lr * d, Eg2, Ed2

    return _elementwise(lr, ("Eg2", "Ed2"), rule)


def rmsprop(lr: float | Schedule = 1e-3, decay: float = 0.9, eps: float = 1e-8) -> Optimizer:
    """RMSProp (Tieleman & Hinton 2012, lecture 6e).

    E[g^2] <- decay E[g^2] + (1 - decay) g^2; theta <- theta - lr g / sqrt(E[g^2] + eps).

    >>> opt = rmsprop(0.1, eps=0.0)
    >>> opt.update([np.array(3.0)], opt.init([np.array(0.0)]), [np.array(0.0)])[0]
    [array(-0.31622777)]
    """
    _check_unit("rmsprop: decay", decay)

    def rule(p, g, Eg2, lr):
        Eg2 = decay * Eg2 + (1 - decay) * g * g
        return p - lr * g / np.sqrt(Eg2 + eps), Eg2

    return _elementwise(lr, ("Eg2",), rule)


def adam(
    lr: float | Schedule = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> Optimizer:
    """Adam, Algorithm 1 of Kingma & Ba (2015).

    m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2; m^ = m / (1-b1^t); v^ = v / (1-b2^t);
    theta <- theta - lr m^ / (sqrt(v^) + eps), with t = 1 at the first step.

    >>> opt = adam(0.1)
    >>> opt.update([np.array(5.0)], opt.init([np.array(0.0)]), [np.array(0.0)])[0]
    [array(-0.1)]
    """
    _check_unit("adam: b1", b1)
    _check_unit("adam: b2", b2)

    def rule(p, g, m, v, lr, c1, c2):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        return p - lr * (m / c1) / (np.sqrt(v / c2) + eps), m, v

    def bias_corrections(t):
        return {"c1": 1 - b1 ** (t + 1), "c2": 1 - b2 ** (t + 1)}

    return _elementwise(lr, ("m", "v"), rule, bias_corrections)


def nadam(
    lr: float | Schedule = 2e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    psi: float = 0.004,
) -> Optimizer:
    """Nadam (Dozat 2016) in PyTorch's formulation, with momentum decay ``psi``.

    mu_t = b1 (1 - 0.96^(t psi) / 2); m, v as Adam; m^ = mu_{t+1} m / (1 - prod_{i<=t+1} mu_i)
    + (1 - mu_t) g / (1 - prod_{i<=t} mu_i); v^ = v / (1-b2^t);
    theta <- theta - lr m^ / (sqrt(v^) + eps). The product of the mu_i is kept in the state.

    >>> opt = nadam()
    >>> opt.update([np.array(1.0)], opt.init([np.array(0.0)]), [np.array(0.0)])[0]
    [array(-0.0021129)]
    """
    _check_unit("nadam: b1", b1)
    _check_unit("nadam: b2", b2)

    def mu(t):
        return b1 * (1 - 0.5 * 0.96 ** (t * psi))

    def init(params):
        return {
            "step": _step0(),
            "mu_product": np.ones(()),
            "m": _zeros(params),
            "v": _zeros(params),
        }

    def update(grads, state, params):
        t = int(state["step"]) + 1
        rate = _rate(lr, t - 1)
        mu_t, mu_next = mu(t), mu(t + 1)
        prod = float(state["mu_product"]) * mu_t
        c_g, c_m, c2 = (1 - mu_t) / (1 - prod), mu_next / (1 - prod * mu_next), 1 - b2**t

        def rule(p, g, m, v):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            return p - rate * (c_g * g + c_m * m) / (np.sqrt(v / c2) + eps), m, v

        new_p, m, v = _map(rule, 3, params, grads, state["m"], state["v"])
        step = np.asarray(t, np.int64)
        return new_p, {"step": step, "mu_product": np.asarray(prod), "m": m, "v": v}

    return Optimizer(init, update)


def gradient_noise(
    opt: Optimizer,
    eta: float = 0.01,
    gamma: float = 0.55,
    *,
    rng: np.random.Generator | int,
) -> Optimizer:
    """Wrap ``opt`` to add N(0, eta / (1 + t)^gamma) noise to the gradients (Neelakantan et al.
    2015), t = updates done so far (0 for the first).

    The noise of step t is drawn from a generator seeded by (key, t), with ``key`` drawn once
    from ``rng`` and kept in the state, so a restored state reproduces the same noise.

    >>> opt = gradient_noise(sgd(0.1), rng=np.random.default_rng(0))
    >>> sorted(opt.init({"w": np.zeros(2)}))
    ['inner', 'key', 'step']
    """
    key = np.asarray(np.random.default_rng(rng).integers(2**63), np.uint64)

    def init(params):
        return {"step": _step0(), "key": key.copy(), "inner": opt.init(params)}

    def update(grads, state, params):
        t = int(state["step"])
        noise_rng = np.random.default_rng([int(state["key"]), t])
        sigma = math.sqrt(eta / (1 + t) ** gamma)

        def add_noise(g):
            g = np.asarray(g)
            return g + (sigma * noise_rng.standard_normal(g.shape)).astype(g.dtype)

        new_p, inner = opt.update(tree_map(add_noise, grads), state["inner"], params)
        return new_p, {"step": np.asarray(t + 1, np.int64), "key": state["key"], "inner": inner}

    return Optimizer(init, update)


def sdlm(lr: float | Schedule, mu: float = 0.02) -> Optimizer:
    """Stochastic diagonal Levenberg-Marquardt, LeCun et al. (1998), Appendix C.

    Per-parameter step eps_k = lr / (mu + h_kk) (Eq. 21); w_k <- w_k - eps_k dE/dw_k (Eq. 18).
    The Gauss-Newton diagonal ``hdiag`` (Eqs. 23-27, re-estimated on 500 patterns before each
    pass in the paper) is set with ``sdlm_set_hessian``; updating before that raises.

    >>> opt = sdlm(0.1, mu=0.5)
    >>> s = sdlm_set_hessian(opt.init([np.zeros(2)]), [np.array([0.5, 1.5])])
    >>> opt.update([np.ones(2)], s, [np.zeros(2)])[0]
    [array([-0.1 , -0.05])]
    """
    if mu <= 0:
        raise ValueError(f"sdlm: mu must be positive (it bounds the step by lr / mu), got {mu}.")

    def init(params):
        return {"step": _step0(), "hessian_set": np.asarray(False), "hdiag": _zeros(params)}

    def update(grads, state, params):
        if not state["hessian_set"]:
            raise ValueError(
                "sdlm: no Hessian estimate in the state; call "
                "state = sdlm_set_hessian(state, hdiag) before the first update."
            )
        t = int(state["step"])
        rate = _rate(lr, t)
        (new_p,) = _map(
            lambda p, g, h: (p - rate / (mu + h) * g,), 1, params, grads, state["hdiag"]
        )
        return new_p, {**state, "step": np.asarray(t + 1, np.int64)}

    return Optimizer(init, update)


def sdlm_set_hessian(state: dict, hdiag: Any) -> dict:
    """A copy of the ``sdlm`` state holding the diagonal Hessian estimate ``hdiag`` (h_kk >= 0).

    >>> s = sdlm_set_hessian(sdlm(0.1).init({"w": np.zeros(1)}), {"w": np.ones(1)})
    >>> s["hdiag"]
    {'w': array([1.])}
    """
    if tree_structure(hdiag) != tree_structure(state["hdiag"]):
        raise ValueError(
            f"sdlm_set_hessian: hdiag has structure {tree_structure(hdiag)}, "
            f"params have {tree_structure(state['hdiag'])}."
        )

    def check(h, old):
        h = np.asarray(h, dtype=old.dtype)
        if h.shape != old.shape:
            raise ValueError(f"sdlm_set_hessian: hdiag leaf of shape {h.shape}, param {old.shape}.")
        if h.size and not h.min() >= 0:
            raise ValueError(
                f"sdlm_set_hessian: hdiag must be >= 0 (Gauss-Newton estimate, Eqs. 25-27), "
                f"got min {h.min()}."
            )
        return h

    return {
        **state,
        "hessian_set": np.asarray(True),
        "hdiag": tree_map(check, hdiag, state["hdiag"]),
    }


def constant(value: float) -> Schedule:
    """The schedule ``step -> value``.

    >>> constant(0.1)(1000)
    0.1
    """
    return lambda step: float(value)


def piecewise_constant(boundaries: Sequence[int], values: Sequence[float]) -> Schedule:
    """``values[i]`` for ``boundaries[i-1] <= step < boundaries[i]``.

    >>> s = piecewise_constant([10, 20], [1.0, 0.5, 0.1])
    >>> s(9), s(10), s(25)
    (1.0, 0.5, 0.1)
    """
    boundaries, values = list(boundaries), [float(v) for v in values]
    if len(values) != len(boundaries) + 1:
        raise ValueError(
            f"piecewise_constant: needs one more value than boundaries, got {len(boundaries)} "
            f"boundaries and {len(values)} values."
        )
    if any(b >= c for b, c in itertools.pairwise(boundaries)):
        raise ValueError(f"piecewise_constant: boundaries must increase, got {boundaries}.")
    return lambda step: values[bisect.bisect_right(boundaries, step)]


def exponential_decay(
    init: float, decay_rate: float, decay_steps: int, staircase: bool = False
) -> Schedule:
    """``init * decay_rate ** (step / decay_steps)``, the exponent floored if ``staircase``.

    >>> exponential_decay(1.0, 0.5, 10)(20)
    0.25
    """
    if decay_steps <= 0:
        raise ValueError(f"exponential_decay: decay_steps must be positive, got {decay_steps}.")

    def schedule(step):
        e = step // decay_steps if staircase else step / decay_steps
        return float(init * decay_rate**e)

    return schedule


def inverse_time(
    init: float, decay_rate: float, decay_steps: int = 1, staircase: bool = False
) -> Schedule:
    """``init / (1 + decay_rate * step / decay_steps)``, the ratio floored if ``staircase``.

    >>> inverse_time(1.0, 0.5)(2)
    0.5
    """
    if decay_steps <= 0:
        raise ValueError(f"inverse_time: decay_steps must be positive, got {decay_steps}.")

    def schedule(step):
        e = step // decay_steps if staircase else step / decay_steps
        return float(init / (1 + decay_rate * e))

    return schedule


# (last pass, rate) of the LeNet-5 schedule, LeCun et al. (1998), Sec. III-B.
_LENET5_PASSES = ((2, 5e-4), (5, 2e-4), (8, 1e-4), (12, 5e-5))


def lenet5_schedule(pass_index: int) -> float:
    """Global learning rate of pass ``pass_index`` (1-based, as in the paper) for LeNet-5.

    Passes 1-2: 5e-4, 3-5: 2e-4, 6-8: 1e-4, 9-12: 5e-5, 13 on: 1e-5 (LeCun et al. 1998,
    Sec. III-B).

    >>> [lenet5_schedule(p) for p in (1, 3, 8, 12, 20)]
    [0.0005, 0.0002, 0.0001, 5e-05, 1e-05]
    """
    if pass_index < 1:
        raise ValueError(
            f"lenet5_schedule: passes count from 1 as in the paper, got {pass_index}; "
            "in a 0-based loop use lenet5_schedule(epoch + 1)."
        )
    return next((rate for last, rate in _LENET5_PASSES if pass_index <= last), 1e-5)


def global_norm(grads: Any) -> float:
    """The Euclidean norm of all leaves of ``grads`` taken together.

    >>> global_norm({"a": np.array([3.0]), "b": np.array(4.0)})
    5.0
    """
    return math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in tree_leaves(grads)))


def clip_by_global_norm(grads: Any, max_norm: float) -> Any:
    """``grads`` scaled by ``max_norm / global_norm(grads)`` when that norm exceeds ``max_norm``.

    >>> clip_by_global_norm({"a": np.array([3.0]), "b": np.array(4.0)}, 1.0)
    {'a': array([0.6]), 'b': array(0.8)}
    """
    if not max_norm > 0:
        raise ValueError(f"clip_by_global_norm: max_norm must be positive, got {max_norm}.")
    norm = global_norm(grads)
    if norm <= max_norm:
        return grads
    scale = max_norm / norm

    def clip(g):
        g = np.asarray(g)
        return np.asarray(g * scale, dtype=g.dtype)

    return tree_map(clip, grads)
