"""odeint by the adjoint method: closed-form gradients of exponential decay, a linear system
against expm, finite differences of the full solve (nonlinear, time-dependent, pytree
args), and the errors for forward mode and second order."""

import numpy as np
import pytest
import scipy.integrate as si

import autodiff.numpy as anp
from autodiff import check_grads, grad, hessian, jacobian, jvp
from autodiff.scipy import linalg as la
from autodiff.scipy.integrate import odeint

TOL = {"rtol": 1e-10, "atol": 1e-10}
T = np.array([0.0, 0.4, 1.0, 2.5])
W = np.random.default_rng(0).standard_normal((4, 2))


def _decay(y, t, params):
    return -params["k"] * y


def test_plain_call_is_scipy():
    y0 = np.array([1.0, -2.0])
    ours = odeint(_decay, y0, T, ({"k": 0.3},))
    np.testing.assert_array_equal(ours, si.odeint(_decay, y0, T, args=({"k": 0.3},)))


def test_exponential_decay_closed_form_gradients():
    y0, k = np.array([1.0, 2.0]), 0.7

    def loss(y0, t, k):
        return anp.sum(W * odeint(_decay, y0, t, ({"k": k},), **TOL))

    gy0, gt, gk = grad(loss, (0, 1, 2))(y0, T, k)
    e = np.exp(-k * (T - T[0]))[:, None]  # y(t) = y0 exp(-k (t - t0))
    np.testing.assert_allclose(gy0, np.sum(W * e, axis=0), rtol=1e-8)
    np.testing.assert_allclose(gk, np.sum(W * -(T - T[0])[:, None] * y0 * e), rtol=1e-8)
    gt_ref = np.sum(W * -k * y0 * e, axis=1)
    gt_ref[0] = np.sum(W[1:] * k * y0 * e[1:])
    np.testing.assert_allclose(gt, gt_ref, rtol=1e-8, atol=1e-9)


def test_linear_system_matches_expm():
    a = np.array([[-0.5, 1.0], [-1.0, -0.3]])
    y0 = np.array([1.0, 0.5])

    def ours(y0, t, a):
        return anp.sum(W * odeint(lambda y, t, a: a @ y, y0, t, (a,), **TOL))

    def exact(y0, t, a):
        return anp.sum(W * anp.stack([la.expm(a * (ti - t[0])) @ y0 for ti in t]))

    np.testing.assert_allclose(ours(y0, T, a), exact(y0, T, a), rtol=1e-9)
    pairs = zip(grad(ours, (0, 1, 2))(y0, T, a), grad(exact, (0, 1, 2))(y0, T, a), strict=True)
    for g1, g2 in pairs:
        np.testing.assert_allclose(g1, g2, rtol=1e-7, atol=1e-9)


def _lotka_volterra(y, t, p):
    prey, pred = y[0], y[1]
    return anp.stack(
        [p["a"] * prey - p["b"] * prey * pred, p["c"][0] * prey * pred - p["c"][1] * pred]
    )


def test_nonlinear_pytree_args_match_finite_differences():
    p = {"a": 1.1, "b": 0.4, "c": np.array([0.1, 0.4])}
    y0, t = np.array([10.0, 5.0]), np.linspace(0.0, 1.5, 4)

    def f(y0, t, p):
        return odeint(_lotka_volterra, y0, t, (p,), **TOL)

    # eps large enough that the solver's 1e-10 error does not swamp the difference quotient
    check_grads(f, y0, t, p, modes=("rev",), order=1, eps=1e-4, rtol=1e-5)


def test_time_dependent_rhs_and_int_arg_match_finite_differences():
    def rhs(y, t, k, n):
        return -k * y**n + anp.sin(3.0 * t)

    def f(y0, t, k):
        return odeint(rhs, y0, t, (k, 2), **TOL)

    y0, t, k = np.array([0.8, 1.3]), np.array([0.2, 0.7, 1.1]), np.array([0.5, 1.5])
    check_grads(f, y0, t, k, modes=("rev",), order=1, eps=1e-4, rtol=1e-5)


def test_tfirst_and_list_inputs():
    def rhs(t, y, k):
        return -k * y

    g = grad(lambda k: odeint(rhs, [1.0, 2.0], [0.0, 1.0], (k,), tfirst=True, **TOL)[1, 1])(0.5)
    np.testing.assert_allclose(g, -2.0 * np.exp(-0.5), rtol=1e-8)


def test_jacobian_of_final_state_and_single_time_point():
    y0 = np.array([1.0, 2.0])
    jac = jacobian(lambda y0: odeint(_decay, y0, T, ({"k": 0.5},), **TOL)[-1])(y0)
    np.testing.assert_allclose(jac, np.exp(-0.5 * 2.5) * np.eye(2), rtol=1e-8)
    g = grad(lambda y0: anp.sum(odeint(_decay, y0, T[:1], ({"k": 0.5},))))(y0)
    np.testing.assert_allclose(g, np.ones(2))


def test_scalar_y0_gradient_has_its_shape():
    g = grad(lambda y0: odeint(lambda y, t: -y, y0, [0.0, 1.0], **TOL)[1, 0])(2.0)
    assert np.shape(g) == ()
    np.testing.assert_allclose(g, np.exp(-1.0), rtol=1e-8)


def test_forward_mode_and_second_order_raise():
    y0 = np.array([1.0])
    with pytest.raises(NotImplementedError, match="odeint has no forward-mode rule"):
        jvp(lambda y0: odeint(_decay, y0, T, ({"k": 0.5},)), (y0,), (y0,))
    with pytest.raises(NotImplementedError, match="odeint"):
        hessian(lambda y0: anp.sum(odeint(_decay, y0, T, ({"k": 0.5},))))(y0)
    with pytest.raises(NotImplementedError, match="full_output"):
        grad(lambda y0: anp.sum(odeint(_decay, y0, T, ({"k": 0.5},), full_output=True)))(y0)
