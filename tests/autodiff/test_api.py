"""The transformations: grad and friends, pytrees, higher order, errors, threads, memory."""

from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest

import autodiff.numpy as anp
from autodiff import (
    check_grads,
    checkpoint,
    custom_vjp,
    defop,
    elementwise_grad,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jvp,
    stop_gradient,
    value_and_grad,
    vjp,
)

RNG = np.random.default_rng(0)


def test_grad_of_issue_example_matches_hand_derivation():
    w, x, y = RNG.normal(size=(3, 2)), RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))

    def loss(w, x, y):
        return anp.mean((anp.tanh(x @ w) - y) ** 2)

    g = grad(loss)(w, x, y)
    t = np.tanh(x @ w)
    expected = x.T @ (2 * (t - y) / t.size * (1 - t**2))
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    assert g.shape == w.shape and g.dtype == w.dtype


def test_grad_argnums_tuple_and_value_and_grad():
    f = lambda a, b: anp.sum(a * b**2)  # noqa: E731
    a, b = RNG.normal(size=3), RNG.normal(size=3)
    ga, gb = grad(f, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ga, b**2)
    np.testing.assert_allclose(gb, 2 * a * b)
    v, gb2 = value_and_grad(f, argnums=1)(a, b)
    assert np.isclose(v, np.sum(a * b**2))
    np.testing.assert_allclose(gb2, gb)


def test_grad_has_aux_returns_aux_untouched():
    g, aux = grad(lambda x: (anp.sum(x**2), {"n": 3}), has_aux=True)(np.ones(2))
    np.testing.assert_allclose(g, 2 * np.ones(2))
    assert aux == {"n": 3}


def test_grad_pytree_in_same_structure_out():
    params = {"w": [np.ones((2, 2)), (np.arange(2.0),)], "b": np.float64(0.5)}

    def f(p):
        return anp.sum(p["w"][0] @ p["w"][1][0]) * p["b"]

    g = grad(f)(params)
    assert set(g) == {"w", "b"} and isinstance(g["w"], list) and isinstance(g["w"][1], tuple)
    np.testing.assert_allclose(g["w"][0], 0.5 * np.outer(np.ones(2), np.arange(2.0)))
    np.testing.assert_allclose(g["w"][1][0], 0.5 * 2 * np.ones(2))
    assert np.isclose(g["b"], np.sum(np.ones((2, 2)) @ np.arange(2.0)))


def test_backward_sweep_is_iterative_for_100k_ops():
    def f(x):
        for _ in range(100_000):
            x = x * 1.0000001
        return x

    assert np.isclose(grad(f)(1.0), 1.0000001**100_000)


def test_no_perturbation_confusion():
    assert grad(lambda x: x * grad(lambda y: x * y)(1.0))(3.0) == 6.0
    # the same in forward mode, and mixed
    d = lambda f: lambda x: jvp(f, (x,), (1.0,))[1]  # noqa: E731
    assert d(lambda x: x * d(lambda y: x * y)(1.0))(3.0) == 6.0
    assert grad(lambda x: x * d(lambda y: x * y)(1.0))(3.0) == 6.0
    assert d(lambda x: x * grad(lambda y: x * y)(1.0))(3.0) == 6.0


def test_higher_order_derivatives_of_sin():
    f = anp.sin
    derivs = [f]
    for _ in range(5):
        derivs.append(grad(derivs[-1]))
    x = 0.7
    expected = [np.sin(x), np.cos(x), -np.sin(x), -np.cos(x), np.sin(x), np.cos(x)]
    for d, e in zip(derivs, expected, strict=True):
        assert np.isclose(d(x), e)


def test_mixed_mode_second_derivatives():
    f = lambda x: anp.exp(anp.tanh(x)) * x  # noqa: E731
    x = 0.3
    rr = grad(grad(f))(x)
    fr = jvp(grad(f), (x,), (1.0,))[1]
    rf = grad(lambda v: jvp(f, (v,), (1.0,))[1])(x)
    ff = jvp(lambda v: jvp(f, (v,), (1.0,))[1], (x,), (1.0,))[1]
    assert np.allclose([fr, rf, ff], rr, rtol=1e-12)


def test_broadcasting_and_reuse_accumulate():
    x = np.array([1.0, 2.0, 3.0])
    m = np.ones((4, 3))
    g = grad(lambda x: anp.sum(x * m + x))(x)
    np.testing.assert_allclose(g, 8 * np.ones(3))  # 4 rows of x*m, x broadcast over 4 rows
    s = grad(lambda s: anp.sum(s * m))(2.0)
    assert s == 12.0


def test_repeated_fancy_index_accumulates():
    g = grad(lambda x: anp.sum(x[[0, 0, 2]]))(np.zeros(3))
    np.testing.assert_array_equal(g, [2.0, 0.0, 1.0])


def test_float32_stays_float32():
    x = np.ones(3, np.float32)
    v, g = value_and_grad(lambda x: anp.sum(anp.tanh(x) * 2.0 + x**2))(x)
    assert v.dtype == np.float32 and g.dtype == np.float32
    assert hessian(lambda x: anp.sum(x**3))(x).dtype == np.float32


def test_threads_get_their_own_tapes():
    results = {}

    def work(k):
        x = np.full(50, float(k))
        for _ in range(30):
            results[k] = grad(lambda x: anp.sum(anp.sin(x) * k))(x)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(1, 5):
        np.testing.assert_allclose(results[k], k * np.cos(np.full(50, float(k))))


def test_tape_and_intermediates_are_freed():
    refs = []

    def f(x):
        y = anp.exp(x)
        refs.append(weakref.ref(y._value))
        return anp.sum(y * y)

    grad(f)(np.ones(10_000))
    gc.collect()
    assert refs[0]() is None


def test_vjp_fn_can_be_called_repeatedly():
    y, f_vjp = vjp(lambda x: anp.sin(x) * 2, np.array([0.1, 0.2]))
    (g1,) = f_vjp(np.ones(2))
    (g2,) = f_vjp(np.ones(2))
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_allclose(g1, 2 * np.cos([0.1, 0.2]))


def test_jacobian_forward_and_reverse_agree():
    W = RNG.normal(size=(4, 3))
    f = lambda x: anp.tanh(W @ x) * x[0]  # noqa: E731
    x = RNG.normal(size=3)
    np.testing.assert_allclose(jacobian(f)(x), jacfwd(f)(x), rtol=1e-12)
    assert jacobian(f)(x).shape == (4, 3)


def test_hessian_and_hvp():
    A = RNG.normal(size=(3, 3))
    A = A + A.T
    f = lambda x: 0.5 * x @ A @ x + anp.sum(anp.sin(x))  # noqa: E731
    x, v = RNG.normal(size=3), RNG.normal(size=3)
    H = A - np.diag(np.sin(x))
    np.testing.assert_allclose(hessian(f)(x), H, atol=1e-12)
    np.testing.assert_allclose(hvp(f, (x,), (v,)), H @ v, atol=1e-12)


def test_elementwise_grad():
    x = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(elementwise_grad(anp.tanh)(x), 1 - np.tanh(x) ** 2)


def test_checkpoint_same_gradients_any_order():
    f = lambda x: anp.sum(anp.sin(anp.cos(x) * x))  # noqa: E731
    cf = checkpoint(f)
    x = RNG.normal(size=4)
    np.testing.assert_allclose(grad(cf)(x), grad(f)(x), rtol=1e-13)
    np.testing.assert_allclose(hessian(cf)(x), hessian(f)(x), rtol=1e-12)
    np.testing.assert_allclose(grad(lambda v: grad(cf)(v)[0])(x), grad(lambda v: grad(f)(v)[0])(x))


def test_custom_vjp_is_used_and_composes():
    @custom_vjp
    def f(x):
        return anp.sin(x)

    f.defvjp(lambda x: (anp.sin(x), x), lambda x, g: (g * 2.0,))
    assert grad(f)(0.3) == 2.0
    assert grad(lambda x: f(x * 3.0))(0.3) == 6.0


def test_stop_gradient():
    assert grad(lambda x: x * stop_gradient(x))(3.0) == 3.0


def test_check_grads_catches_a_wrong_rule():
    bad_sin = defop(np.sin, deriv=lambda ans, x: anp.cos(x) * 1.01, register=False)
    with pytest.raises(AssertionError, match="disagree"):
        check_grads(lambda x: anp.sum(bad_sin(x)), np.array([0.3, 0.5]), modes=("rev",))


def test_array_from_traced_scalars_and_functional_index_update():
    g = grad(lambda x: anp.sum(anp.array([x, 2 * x, [x, x]][:2]) ** 2))(1.5)
    assert np.isclose(g, 2 * 1.5 + 8 * 1.5)
    x = np.arange(4.0)
    g2 = grad(lambda x: anp.sum(x.at[1].set(x[0] * 3) ** 2))(x)
    np.testing.assert_allclose(g2, [2 * 0 + 18 * 0, 0, 4, 6])


def test_numpy_functions_dispatch_to_rules():
    x = np.array([0.1, 0.2])
    np.testing.assert_allclose(grad(lambda x: np.sum(np.exp(x)))(x), np.exp(x))
    np.testing.assert_allclose(grad(lambda x: anp.sum(np.ones(2) * x))(x), np.ones(2))


def test_nondifferentiable_functions_pass_no_gradient():
    def f(x):
        k = anp.argmax(x)
        return x[k] * anp.floor(x[k]) + anp.sum(x > 0)

    g = grad(f)(np.array([0.5, 2.5, 1.0]))
    np.testing.assert_allclose(g, [0, 2.0, 0])
    # piecewise constant in x1 and in a, but not in x2 and weights: those must be constants
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(
        grad(lambda x: anp.sum(x * anp.heaviside(x, 0.5)))(x), [0, 0.5, 1]
    )
    np.testing.assert_array_equal(grad(lambda x: anp.sum(x) + np.histogram(x, 2)[0][0])(x), 1.0)


@pytest.mark.parametrize(
    "f, arg",
    [
        (lambda h: anp.heaviside(np.array([0.0, 1.0]), h), "x2"),
        (lambda w: np.heaviside(np.array([0.0, 1.0]), w), "x2"),
        (lambda w: np.histogram(np.array([0.0, 1.0]), weights=w)[0], "weights"),
        (lambda w: anp.histogram(np.array([0.0, 1.0]), 2, None, None, w)[0], "weights"),
        (lambda x: np.nextafter(x, 2.0), "x1"),
    ],
)
def test_nondifferentiable_functions_refuse_an_argument_they_are_differentiable_in(f, arg):
    with pytest.raises(NotImplementedError, match=rf"anp\.\w+ has no derivative rule for .*{arg}"):
        grad(lambda x: anp.sum(f(x)))(np.array([0.5, 0.25]))


# Errors -------------------------------------------------------------------------------------
def test_grad_rejects_nonscalar_output():
    with pytest.raises(TypeError, match=r"scalar output, got shape \(3,\).*elementwise_grad"):
        grad(lambda x: x * 2)(np.ones(3))


def test_grad_rejects_an_output_that_is_not_a_number():
    with pytest.raises(TypeError, match="scalar output, got NoneType None. Does f return"):
        grad(lambda x: None)(1.0)
    with pytest.raises(TypeError, match="scalar output, got str"):
        grad(lambda x: "x")(1.0)
    assert grad(lambda x: 3)(1.0) == 0.0  # a constant number: no dependence, zero gradient


def test_storing_a_traced_value_into_a_numpy_array_says_how_to_build_it_instead():
    def f(x):
        y = np.zeros(3)
        y[0] = x[1]
        return anp.sum(y)

    with pytest.raises(ValueError) as info:
        grad(f)(np.ones(3))
    assert "anp.stack" in str(info.value.__cause__)  # NumPy's error is raised from ours


def test_grad_rejects_integer_input():
    with pytest.raises(TypeError, match="needs float inputs.*int64.*Pass floats"):
        grad(lambda x: anp.sum(x))(np.arange(3))
    with pytest.raises(TypeError, match="needs float inputs"):
        grad(lambda x: x * 2.0)(3)


def test_mutating_a_traced_array_says_how_to_write_it():
    def f(x):
        x[0] = 1.0
        return anp.sum(x)

    with pytest.raises(TypeError, match=r"immutable.*x.at\[idx\].set"):
        grad(f)(np.ones(2))

    def g(x):
        y = np.zeros(2)
        y[0] = x
        return anp.sum(y)

    # a traced value stored into a plain ndarray: NumPy refuses (its own message),
    # so the gradient is never silently dropped
    with pytest.raises((TypeError, ValueError)):
        grad(g)(1.0)


def test_missing_rule_names_the_function():
    with pytest.raises(NotImplementedError, match="numpy.polyval"):
        grad(lambda x: anp.polyval(x, 2.0))(np.array([1.0, 2.0]))
    with pytest.raises(NotImplementedError, match="numpy.polyval"):
        grad(lambda x: np.polyval(x, 2.0))(np.array([1.0, 2.0]))


def test_float_of_traced_value_raises():
    with pytest.raises(TypeError, match="float\\(\\) of a traced value"):
        grad(lambda x: float(x) * 2.0)(1.0)


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums=2"):
        grad(lambda x: x, argnums=2)(1.0)


def test_vjp_rejects_wrong_cotangent_shape():
    _, f_vjp = vjp(lambda x: x * 2, np.ones(3))
    with pytest.raises(ValueError, match=r"cotangent of shape \(2,\)"):
        f_vjp(np.ones(2))


def test_jvp_rejects_mismatched_tangent():
    with pytest.raises(ValueError, match="tangent of shape"):
        jvp(anp.sin, (np.ones(3),), (np.ones(2),))


@pytest.mark.parametrize(
    "sa,sb",
    [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)), ((2, 2, 3), (3,)),
     ((3,), (2, 3, 4)), ((2, 2, 3), (2, 3, 4)), ((2, 2, 3), (3, 4))],
)  # fmt: skip
def test_jacfwd_pushes_batched_directions_through_matmul(sa, sb):
    a, b = RNG.normal(size=sa), RNG.normal(size=sb)

    def f(a, b):
        return anp.tanh(a @ b)

    for argnums in (0, 1, (0, 1)):
        fwd, rev = jacfwd(f, argnums)(a, b), jacobian(f, argnums)(a, b)
        for x, y in zip(fwd if isinstance(argnums, tuple) else [fwd],
                        rev if isinstance(argnums, tuple) else [rev], strict=True):  # fmt: skip
            np.testing.assert_allclose(x, y, atol=1e-12)
