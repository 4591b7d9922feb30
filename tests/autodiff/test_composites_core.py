"""Composites of the core namespace: array building, functional index updates, dot, complex."""

import numpy as np
import pytest

import autodiff.numpy as anp
from autodiff import check_grads, grad

RNG = np.random.default_rng(3)


def test_array_and_asarray_from_traced_values():
    x = RNG.normal(size=3)
    check_grads(lambda x: anp.array([x[0] * x[1], [x[2]] * 1 and x[2]]), x)
    check_grads(lambda x: anp.asarray([x, 2 * x], dtype=np.float64), x)
    np.testing.assert_array_equal(anp.array([[1.0, 2.0]]), np.array([[1.0, 2.0]]))
    assert anp.asarray(x) is not None and anp.copy(x) is not x


def test_index_update_with_repeated_indices_keeps_the_last_write():
    # x[[0, 2, 0]] = v writes v[2] at 0 (NumPy's last write wins): v[0] gets no gradient
    x, v = RNG.normal(size=4), RNG.normal(size=3)
    idx = [0, 2, 0]
    w = np.array([1.0, 2.0, 3.0, 4.0])
    f = lambda x, v: anp.sum(w * anp.index_update(x, idx, v))  # noqa: E731
    gx, gv = grad(f, argnums=(0, 1))(x, v)
    np.testing.assert_array_equal(gv, [0.0, 3.0, 1.0])
    np.testing.assert_array_equal(gx, [0.0, 2.0, 0.0, 4.0])
    check_grads(lambda x, v: anp.index_update(x, idx, v), x, v, modes=("fwd", "rev"), order=2)
    check_grads(lambda x, s: anp.index_update(x, idx, s), x, 0.5, modes=("fwd", "rev"))


def test_copy_is_identity_for_traced_values():
    check_grads(lambda x: anp.copy(x) * 2, RNG.normal(size=3))


def test_index_update_and_add():
    x, v = RNG.normal(size=5), RNG.normal(size=2)
    idx = np.array([0, 3])
    check_grads(lambda x, v: anp.index_update(x, idx, v), x, v)
    check_grads(lambda x, v: anp.index_add(x, np.array([1, 1]), v), x, v)
    out = anp.index_add(x, np.array([1, 1]), v)
    expected = x.copy()
    np.add.at(expected, [1, 1], v)
    np.testing.assert_allclose(out, expected)
    np.testing.assert_allclose(anp.index_update(x, idx, v), np.where(np.isin(np.arange(5), idx),
                               np.zeros(5), x) + np.bincount(idx, v, minlength=5))  # fmt: skip


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)),
                                   ((2, 2, 3), (3, 2)), ((), (3,))])  # fmt: skip
def test_dot_matches_numpy(sa, sb):
    a, b = RNG.normal(size=sa), RNG.normal(size=sb)
    np.testing.assert_allclose(anp.dot(a, b), np.dot(a, b))
    check_grads(anp.dot, a, b)


def test_stack_concatenate_wrappers_and_shape_helpers():
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    check_grads(lambda a, b: anp.stack([a, b], axis=1), a, b)
    check_grads(lambda a, b: anp.concatenate([a, b], axis=-1), a, b)
    check_grads(lambda a: anp.swapaxes(anp.expand_dims(anp.ravel(a), 0), 0, 1), a)


def test_holomorphic_complex_gradients_follow_autograd_convention():
    z = np.array([0.3 + 0.4j, -1.0 + 0.2j])
    check_grads(lambda z: anp.sin(z) * anp.exp(z) / (z + 2.0), z)
    # grad of a real function of a complex input: conj(df/dz)-style as in autograd
    g = grad(lambda z: anp.sum(anp.abs(z) ** 2))(z)
    np.testing.assert_allclose(g, 2 * np.conj(z))
