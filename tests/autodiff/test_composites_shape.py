"""Composite reductions, shape ops and gathers: equal to NumPy, derivatives to second order.

Also pins the choices at special points: repeated indices accumulate, ties of max/min
share the gradient, prod/cumprod with zeros, and the sliding-window view and its col2im.
"""

import importlib
import sys

import numpy as np
import pytest

import autodiff.numpy as anp
from autodiff import check_grads, grad, jvp, vjp
from autodiff.primitive import OPS, Primitive, _strip

FAMILY = ["reductions", "shape", "windows"]


def _x(*shape, seed=0):
    return np.random.default_rng(seed + 7 * len(shape) + sum(shape)).standard_normal(shape)


def _distinct(*shape, seed=0):
    """No ties: a permutation of multiples of 0.37."""
    size = int(np.prod(shape))
    perm = np.random.default_rng(seed + size).permutation(size)
    return ((perm - size / 2) * 0.37).reshape(shape)


def _with_nans(*shape):
    x = _x(*shape)
    x.reshape(-1)[::3] = np.nan
    return x


def _sorted(n):
    return np.sort(np.random.default_rng(n).uniform(-2, 2, n))


# (id, our composite, NumPy's function, args); derivatives are taken in every float arg
CASES = [
    # reductions
    ("ptp", lambda x: anp.ptp(x, axis=1), lambda x: np.ptp(x, axis=1), [_distinct(3, 4)]),
    ("ptp_all", lambda x: anp.ptp(x, keepdims=True), lambda x: np.ptp(x, keepdims=True),
     [_distinct(2, 3)]),
    ("amax", lambda x: anp.amax(x, 0), lambda x: np.amax(x, 0), [_distinct(3, 2)]),
    ("amin", lambda x: anp.amin(x, -1), lambda x: np.amin(x, -1), [_distinct(3, 2)]),
    ("std", lambda x: anp.std(x), np.std, [_x(5)]),
    ("std_axis_ddof", lambda x: anp.std(x, axis=(0, 2), ddof=1, keepdims=True),
     lambda x: np.std(x, axis=(0, 2), ddof=1, keepdims=True), [_x(2, 3, 2)]),
    ("average", lambda a: anp.average(a, axis=1), lambda a: np.average(a, axis=1), [_x(3, 4)]),
    ("average_weights", lambda a, w: anp.average(a, weights=w),
     lambda a, w: np.average(a, weights=w), [_x(3, 4), _x(3, 4) ** 2 + 0.5]),
    ("average_1d_weights", lambda a, w: anp.average(a, axis=0, weights=w, keepdims=True),
     lambda a, w: np.average(a, axis=0, weights=w, keepdims=True), [_x(3, 2), _x(3) ** 2 + 0.5]),
    ("average_returned", lambda a, w: anp.average(a, axis=-1, weights=w, returned=True),
     lambda a, w: np.average(a, axis=-1, weights=w, returned=True), [_x(2, 3), _x(3) ** 2 + 1]),
    ("average_tuple_axis", lambda a, w: anp.average(a, axis=(0, 2), weights=w),
     lambda a, w: np.average(a, axis=(0, 2), weights=w), [_x(2, 3, 4), _x(2, 4) ** 2 + 1]),
    ("nansum", lambda x: anp.nansum(x, axis=0), lambda x: np.nansum(x, axis=0),
     [_with_nans(3, 4)]),
    ("nanmean", lambda x: anp.nanmean(x, axis=1, keepdims=True),
     lambda x: np.nanmean(x, axis=1, keepdims=True), [_with_nans(3, 4)]),
    ("diff", lambda x: anp.diff(x), np.diff, [_x(5)]),
    ("diff_n2_axis0", lambda x: anp.diff(x, n=2, axis=0), lambda x: np.diff(x, n=2, axis=0),
     [_x(4, 3)]),
    ("diff_prepend_append", lambda x, p: anp.diff(x, axis=1, prepend=p, append=0.5),
     lambda x, p: np.diff(x, axis=1, prepend=p, append=0.5), [_x(2, 3), _x(2, 1)]),
    ("trapezoid_dx", lambda y: anp.trapezoid(y, dx=0.5), lambda y: np.trapezoid(y, dx=0.5),
     [_x(3, 5)]),
    ("trapezoid_x1d", lambda y, x: anp.trapezoid(y, x, axis=0),
     lambda y, x: np.trapezoid(y, x, axis=0), [_x(4, 2), _sorted(4)]),
    ("trapz_xnd", lambda y, x: anp.trapz(y, x), lambda y, x: np.trapezoid(y, x),
     [_x(2, 4), _x(2, 4)]),
    # shapes
    ("swapaxes", lambda x: anp.swapaxes(x, 0, -1), lambda x: np.swapaxes(x, 0, -1), [_x(2, 3, 4)]),
    ("moveaxis", lambda x: anp.moveaxis(x, [0, 1], [-1, 0]),
     lambda x: np.moveaxis(x, [0, 1], [-1, 0]), [_x(2, 3, 4)]),
    ("expand_dims", lambda x: anp.expand_dims(x, (0, -1)), lambda x: np.expand_dims(x, (0, -1)),
     [_x(2, 3)]),
    ("squeeze", lambda x: anp.squeeze(x, 2), lambda x: np.squeeze(x, 2), [_x(2, 3, 1)]),
    ("ravel", lambda x: anp.ravel(x, "F"), lambda x: np.ravel(x, "F"), [_x(2, 3)]),
    ("atleast_1d", anp.atleast_1d, np.atleast_1d, [np.array(1.5), _x(2)]),
    ("atleast_2d", anp.atleast_2d, np.atleast_2d, [_x(3)]),
    ("atleast_3d", anp.atleast_3d, np.atleast_3d, [np.array(1.5), _x(3), _x(2, 3)]),
    ("hstack", lambda a, b: anp.hstack([a, b]), lambda a, b: np.hstack([a, b]), [_x(2), _x(3)]),
    ("hstack_2d", lambda a, b: anp.hstack((a, b)), lambda a, b: np.hstack((a, b)),
     [_x(2, 1), _x(2, 3)]),
    ("vstack", lambda a, b: anp.vstack([a, b]), lambda a, b: np.vstack([a, b]),
     [_x(3), _x(2, 3)]),
    ("dstack", lambda a, b: anp.dstack([a, b]), lambda a, b: np.dstack([a, b]),
     [_x(2, 3), _x(2, 3, 2)]),
    ("column_stack", lambda a, b: anp.column_stack([a, b]),
     lambda a, b: np.column_stack([a, b]), [_x(3), _x(3, 2)]),
    ("split", lambda x: anp.split(x, 3, axis=1), lambda x: np.split(x, 3, axis=1), [_x(2, 6)]),
    ("split_indices", lambda x: anp.split(x, [1, 3]), lambda x: np.split(x, [1, 3]), [_x(5, 2)]),
    ("hsplit", lambda x: anp.hsplit(x, 2), lambda x: np.hsplit(x, 2), [_x(3, 4)]),
    ("vsplit", lambda x: anp.vsplit(x, [2]), lambda x: np.vsplit(x, [2]), [_x(3, 4)]),
    ("dsplit", lambda x: anp.dsplit(x, 2), lambda x: np.dsplit(x, 2), [_x(1, 2, 4)]),
    ("array_split", lambda x: anp.array_split(x, 3), lambda x: np.array_split(x, 3), [_x(7)]),
    ("tile", lambda x: anp.tile(x, (2, 1, 3)), lambda x: np.tile(x, (2, 1, 3)), [_x(2, 3)]),
    ("tile_int", lambda x: anp.tile(x, 2), lambda x: np.tile(x, 2), [_x(2, 3)]),
    ("repeat", lambda x: anp.repeat(x, 2), lambda x: np.repeat(x, 2), [_x(2, 3)]),
    ("repeat_axis", lambda x: anp.repeat(x, 3, axis=-1), lambda x: np.repeat(x, 3, axis=-1),
     [_x(2, 2)]),
    ("repeat_counts", lambda x: anp.repeat(x, [2, 0, 1], axis=0),
     lambda x: np.repeat(x, [2, 0, 1], axis=0), [_x(3, 2)]),
    ("fliplr", anp.fliplr, np.fliplr, [_x(2, 3)]),
    ("flipud", anp.flipud, np.flipud, [_x(2, 3)]),
    *[(f"rot90_k{k}", lambda x, k=k: anp.rot90(x, k, axes=(2, 0)),
       lambda x, k=k: np.rot90(x, k, axes=(2, 0)), [_x(2, 3, 4)]) for k in (0, 1, 2, 3, -1)],
    ("append", lambda a, b: anp.append(a, b), np.append, [_x(2, 2), _x(3)]),
    ("append_axis", lambda a, b: anp.append(a, b, axis=0), lambda a, b: np.append(a, b, axis=0),
     [_x(2, 2), _x(1, 2)]),
    ("insert", lambda a, v: anp.insert(a, 1, v), lambda a, v: np.insert(a, 1, v), [_x(4), _x(2)]),
    ("insert_axis", lambda a, v: anp.insert(a, [0, 2, 2], v, axis=1),
     lambda a, v: np.insert(a, [0, 2, 2], v, axis=1), [_x(2, 3), _x(3)]),
    ("insert_scalar_broadcast", lambda a, v: anp.insert(a, 1, v, axis=0),
     lambda a, v: np.insert(a, 1, v, axis=0), [_x(2, 3), np.array(0.5)]),
    ("delete", lambda a: anp.delete(a, [0, 2]), lambda a: np.delete(a, [0, 2]), [_x(2, 3)]),
    ("delete_axis", lambda a: anp.delete(a, 1, axis=-1), lambda a: np.delete(a, 1, axis=-1),
     [_x(2, 3)]),
    # diagonals and triangles
    ("diag_1d", lambda v: anp.diag(v, -1), lambda v: np.diag(v, -1), [_x(3)]),
    ("diag_2d", lambda a: anp.diag(a, 1), lambda a: np.diag(a, 1), [_x(3, 4)]),
    ("diagflat", lambda v: anp.diagflat(v, 1), lambda v: np.diagflat(v, 1), [_x(2, 2)]),
    ("trace", lambda a: anp.trace(a), np.trace, [_x(3, 3)]),
    ("trace_offset_axes", lambda a: anp.trace(a, 1, 2, 0), lambda a: np.trace(a, 1, 2, 0),
     [_x(3, 2, 4)]),
    ("triu", lambda a: anp.triu(a, 1), lambda a: np.triu(a, 1), [_x(2, 3, 4)]),
    ("tril", lambda a: anp.tril(a, -1), lambda a: np.tril(a, -1), [_x(4, 3)]),
    ("tril_1d", anp.tril, np.tril, [_x(3)]),
    # gathers
    ("take", lambda a: anp.take(a, [[0, 3], [3, 1]]), lambda a: np.take(a, [[0, 3], [3, 1]]),
     [_x(2, 2)]),
    ("take_axis", lambda a: anp.take(a, [2, 0, 2], axis=-1),
     lambda a: np.take(a, [2, 0, 2], axis=-1), [_x(2, 3)]),
    ("take_scalar", lambda a: anp.take(a, 1, axis=0), lambda a: np.take(a, 1, axis=0),
     [_x(3, 2)]),
    ("take_wrap", lambda a: anp.take(a, [-4, 5], mode="wrap"),
     lambda a: np.take(a, [-4, 5], mode="wrap"), [_x(3)]),
    ("take_clip", lambda a: anp.take(a, [-4, 5], axis=1, mode="clip"),
     lambda a: np.take(a, [-4, 5], axis=1, mode="clip"), [_x(2, 3)]),
    ("take_along_axis", lambda a: anp.take_along_axis(a, np.array([[0, 2, 2], [1, 0, 0]]), 1),
     lambda a: np.take_along_axis(a, np.array([[0, 2, 2], [1, 0, 0]]), 1), [_x(2, 3)]),
    ("take_along_axis_bcast", lambda a: anp.take_along_axis(a, np.array([[1], [0]]), 0),
     lambda a: np.take_along_axis(a, np.array([[1], [0]]), 0), [_x(2, 3)]),
    ("take_along_axis_none", lambda a: anp.take_along_axis(a, np.array([5, 0]), None),
     lambda a: np.take_along_axis(a, np.array([5, 0]), None), [_x(2, 3)]),
    ("sort", anp.sort, np.sort, [_distinct(3, 4)]),
    ("sort_axis0", lambda a: anp.sort(a, axis=0), lambda a: np.sort(a, axis=0),
     [_distinct(3, 4)]),
    ("sort_none", lambda a: anp.sort(a, axis=None), lambda a: np.sort(a, axis=None),
     [_distinct(3, 2)]),
    ("sort_complex", lambda a: anp.real(anp.sort_complex(a)),
     lambda a: np.real(np.sort_complex(a)), [_distinct(3, 4)]),
    ("unique", anp.unique, np.unique, [_distinct(3, 4)]),
    ("unique_axis", lambda a: anp.unique(a, axis=1), lambda a: np.unique(a, axis=1),
     [_distinct(2, 3)]),
    ("bincount", lambda w: anp.bincount(np.array([0, 2, 2, 4]), w, minlength=6),
     lambda w: np.bincount(np.array([0, 2, 2, 4]), w, minlength=6), [_x(4)]),
    ("interp", lambda x, fp: anp.interp(x, np.array([-1.0, 0.0, 0.5, 2.0]), fp),
     lambda x, fp: np.interp(x, np.array([-1.0, 0.0, 0.5, 2.0]), fp),
     [np.array([-1.7, -0.8, 0.3, 0.7, 1.9, 2.5]), _x(4)]),
    ("interp_left_right", lambda x, fp: anp.interp(x, _sorted(5), fp, left=-3.0, right=4.0),
     lambda x, fp: np.interp(x, _sorted(5), fp, left=-3.0, right=4.0),
     [np.array([[-2.5, 0.1], [0.35, 2.5]]), _x(5)]),
    ("interp_period", lambda x, fp: anp.interp(x, np.array([170.0, 10, -10, -170]), fp, period=360),
     lambda x, fp: np.interp(x, np.array([170.0, 10, -10, -170]), fp, period=360),
     [np.array([-185.0, -20, 0, 30, 175, 400]), _x(4)]),
    ("interp_scalar", lambda x, fp: anp.interp(x, np.array([0.0, 1.0]), fp),
     lambda x, fp: np.interp(x, np.array([0.0, 1.0]), fp), [np.array(0.25), _x(2)]),
    # pad, every linear mode (the primitive has property tests too; these pin NumPy's options)
    ("pad_constant", lambda x: anp.pad(x, ((1, 2), (0, 1)), constant_values=(1.5, -2.0)),
     lambda x: np.pad(x, ((1, 2), (0, 1)), constant_values=(1.5, -2.0)), [_x(2, 3)]),
    *[(f"pad_{mode}", lambda x, mode=mode: anp.pad(x, ((2, 4), (3, 1)), mode),
       lambda x, mode=mode: np.pad(x, ((2, 4), (3, 1)), mode), [_x(2, 3)])
      for mode in ("edge", "reflect", "symmetric", "wrap", "linear_ramp", "mean")],
    ("pad_reflect_odd", lambda x: anp.pad(x, 5, "reflect", reflect_type="odd"),
     lambda x: np.pad(x, 5, "reflect", reflect_type="odd"), [_x(3)]),
    ("pad_mean_stat", lambda x: anp.pad(x, (1, 2), "mean", stat_length=((1, 2), (2, 1))),
     lambda x: np.pad(x, (1, 2), "mean", stat_length=((1, 2), (2, 1))), [_x(3, 3)]),
    ("pad_ramp_ends", lambda x: anp.pad(x, 2, "linear_ramp", end_values=(1.0, -1.0)),
     lambda x: np.pad(x, 2, "linear_ramp", end_values=(1.0, -1.0)), [_x(3)]),
]  # fmt: skip


def test_every_composite_has_a_case():
    # the family's public names that are not primitives need a case above
    modules = [importlib.import_module(f"autodiff.numpy.{m}") for m in FAMILY]
    composites = {
        name
        for mod in modules
        for name in mod.__all__
        if name not in OPS and not isinstance(getattr(mod, name), Primitive)
    }
    ids = [c[0] for c in CASES]
    missing = {n for n in composites if not any(i == n or i.startswith(n + "_") for i in ids)}
    assert not missing, f"composites without a case: {sorted(missing)}"


def _leaves(x):
    if isinstance(x, tuple | list):
        return [y for item in x for y in _leaves(item)]
    return [x]


@pytest.mark.parametrize("name, f, ref, args", CASES, ids=[c[0] for c in CASES])
def test_composite(name, f, ref, args):
    out, expected = f(*args), ref(*args)
    assert type(out) is type(expected) or not isinstance(expected, tuple | list)
    assert len(_leaves(out)) == len(_leaves(expected))
    for o, e in zip(_leaves(out), _leaves(expected), strict=True):
        assert np.shape(o) == np.shape(e)
        np.testing.assert_allclose(_strip(o), e, rtol=1e-12, atol=1e-12)
    check_grads(f, *args, modes=("fwd", "rev"), order=2, rng=np.random.default_rng(1))


@pytest.mark.parametrize("name, f, ref, args", CASES, ids=[c[0] for c in CASES])
def test_composite_keeps_float32(name, f, ref, args):
    args32 = [a.astype(np.float32) for a in args]
    out, f_vjp = vjp(f, *args32)
    for o in _leaves(out):
        assert _strip(o).dtype == np.float32, f"{name}: float32 in gave {_strip(o).dtype} out"
    cot = (
        type(out)(np.ones_like(_strip(o)) for o in out)
        if isinstance(out, tuple | list)
        else (np.ones_like(_strip(out)))
    )
    for g in f_vjp(cot):
        assert g.dtype == np.float32


# Special points ---------------------------------------------------------------------------
def test_repeated_indices_accumulate():
    x, w = _x(4), np.array([1.0, 10.0, 100.0])
    expected = np.array([11.0, 0.0, 100.0, 0.0])
    np.testing.assert_array_equal(grad(lambda x: anp.sum(x[[0, 0, 2]] * w))(x), expected)
    np.testing.assert_array_equal(grad(lambda x: anp.sum(anp.take(x, [0, 0, 2]) * w))(x), expected)
    np.testing.assert_array_equal(grad(lambda x: anp.sum(x.take([0, 0, 2]) * w))(x), expected)
    np.testing.assert_array_equal(grad(lambda x: anp.sum(anp.repeat(x[:1], 3) * w))(x)[0], 111.0)


def test_unique_gives_the_gradient_of_tied_entries_to_the_first():
    x, w = np.array([3.0, 1.0, 3.0, 2.0, 1.0]), np.array([1.0, 10.0, 100.0])
    np.testing.assert_array_equal(
        grad(lambda x: anp.sum(anp.unique(x) * w))(x), [100.0, 1.0, 0.0, 10.0, 0.0]
    )
    # NumPy's extra outputs come back unchanged; np.unique on a traced value lands here too
    out = anp.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for o, e in zip(out, np.unique(x, True, True, True), strict=True):
        np.testing.assert_array_equal(_strip(o), e)
    g = grad(lambda x: np.unique(x, return_counts=True)[0] @ w)(x)
    np.testing.assert_array_equal(g, [100.0, 1.0, 0.0, 10.0, 0.0])


def test_sort_complex_and_bincount_follow_numpy_through_np_calls():
    z = _distinct(2, 3)
    assert anp.sort_complex(z).dtype == np.sort_complex(z).dtype == np.complex128
    assert anp.sort_complex(z.astype(np.float32)).dtype == np.complex64
    np.testing.assert_allclose(
        grad(lambda z: anp.sum(np.real(np.sort_complex(z)) * np.arange(3.0)))(z),
        np.argsort(np.argsort(z, axis=-1), axis=-1).astype(float),
    )
    bins, w = np.array([0, 2, 2]), np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(anp.bincount(bins, w, 4), np.bincount(bins, w, 4))
    np.testing.assert_array_equal(anp.bincount(bins), np.bincount(bins))
    g = grad(lambda w: anp.sum(np.bincount(bins, weights=w) ** 2))(w)
    np.testing.assert_array_equal(g, [2.0, 10.0, 10.0])


def test_max_min_ties_share_gradient():
    x = np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, -1.0]])
    np.testing.assert_allclose(grad(lambda x: anp.max(x[0]))(x)[0], [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(
        grad(lambda x: anp.sum(anp.amax(x, axis=1) * np.array([1.0, 6.0])))(x),
        [[0, 0.5, 0.5, 0], [2, 2, 2, 0]],
    )
    np.testing.assert_allclose(grad(lambda x: anp.min(-x, axis=1, keepdims=True)[1, 0])(x)[1],
                               [-1 / 3, -1 / 3, -1 / 3, 0])  # fmt: skip
    _, t = jvp(lambda x: anp.max(x[0]), (x,), (np.ones_like(x),))
    assert t == 1.0  # the tangent averages over the ties


def test_prod_gradient_with_zeros():
    x = np.array([2.0, 0.0, 3.0, 4.0])
    np.testing.assert_array_equal(grad(anp.prod)(x), [0.0, 24.0, 0.0, 0.0])
    np.testing.assert_array_equal(grad(anp.prod)(np.array([2.0, 0.0, 3.0, 0.0])), np.zeros(4))
    a = np.array([[0.0, 2.0], [3.0, 4.0], [5.0, 0.0]])
    g = grad(lambda a: anp.sum(anp.prod(a, axis=0) * np.array([1.0, 10.0])))(a)
    np.testing.assert_array_equal(g, [[15.0, 0.0], [0.0, 0.0], [0.0, 80.0]])
    with np.errstate(all="raise"):  # no division by zero anywhere
        grad(lambda a: a.prod())(a)
        grad(lambda a: anp.sum(anp.cumprod(a, axis=0)))(a)


def test_cumprod_gradient_with_zeros():
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    # d/dx_j sum_i w_i prod_{k<=i} x_k = sum_{i>=j} w_i prod_{k<=i, k!=j} x_k
    expected = [
        sum(w[i] * np.prod(np.delete(x[: i + 1], j)) for i in range(j, 5)) for j in range(5)
    ]
    with np.errstate(all="raise"):
        np.testing.assert_allclose(grad(lambda x: anp.sum(anp.cumprod(x) * w))(x), expected)
        np.testing.assert_allclose(grad(lambda x: anp.sum(x.cumprod() * w))(x), expected)
        _, t = jvp(lambda x: anp.cumprod(x), (x,), (np.ones(5),))
    np.testing.assert_allclose(t, [1.0, 2.0, 6.0, 0.0, 0.0])  # two zeros from ans_3 on


def test_cumprod_second_order_at_zeros():
    check_grads(
        lambda x: anp.cumprod(x, axis=1), np.array([[0.0, 1.5, 0.0, -2.0], [1.0, 0.0, 2.0, 3.0]])
    )
    check_grads(lambda x: anp.prod(x, axis=(0, 1)), np.array([[0.0, 1.5], [0.0, -2.0]]), order=3)


BIG = [  # inputs of >= 4096 entries take the tape's lean path (rules see shape-only stubs)
    lambda x: anp.sum(x, axis=0), lambda x: anp.mean(x, 1), lambda x: anp.cumsum(x, axis=1),
    lambda x: anp.cumprod(x / 4 + 1, axis=0)[-1], lambda x: anp.prod(x / 4 + 1, axis=0),
    lambda x: anp.max(x, axis=1), lambda x: anp.var(x, axis=0), lambda x: anp.flip(x, 0),
    lambda x: anp.roll(x, 3), lambda x: anp.pad(x, 2, "reflect"), lambda x: anp.diagonal(x, 1),
    lambda x: anp.sliding_window_view(x, (3, 2)), lambda x: anp.split(x, 2)[1],
]  # fmt: skip


@pytest.mark.parametrize("k", range(len(BIG)))
def test_large_inputs(k):
    check_grads(BIG[k], _distinct(70, 64) / 60, modes=("fwd", "rev"), order=1)


# Sliding windows ---------------------------------------------------------------------------
def test_sliding_window_view_is_a_read_only_view():
    x = _x(2, 6)
    w = anp.sliding_window_view(x, 3, axis=-1)
    assert np.shares_memory(w, x) and not w.flags.writeable
    out, _ = vjp(lambda x: anp.sliding_window_view(x, (2, 3), axis=(0, 1)), x)
    assert np.shares_memory(_strip(out), x)


@pytest.mark.parametrize("im2col_layout", [False, True])
@pytest.mark.parametrize("chunk_bytes", [None, 1000])
def test_sliding_window_vjp_is_col2im(chunk_bytes, im2col_layout, monkeypatch):
    if chunk_bytes:  # the VJP walks large cotangents in chunks of the leading axis
        monkeypatch.setattr(sys.modules["autodiff.numpy.windows"], "_CHUNK_BYTES", chunk_bytes)
    x, (kh, kw) = _x(3, 3, 6, 7), (3, 2)
    out, f_vjp = vjp(lambda x: anp.sliding_window_view(x, (kh, kw), axis=(2, 3)), x)
    g = _x(*out.shape, seed=1)
    if im2col_layout:  # window axes outermost in memory, as nn.conv2d's cotangents come
        g = np.ascontiguousarray(g.transpose(0, 1, 4, 5, 2, 3)).transpose(0, 1, 4, 5, 2, 3)
    expected = np.zeros_like(x)
    for n, c, i, j, a, b in np.ndindex(*g.shape):
        expected[n, c, i + a, j + b] += g[n, c, i, j, a, b]
    np.testing.assert_allclose(f_vjp(g)[0], expected, rtol=1e-12, atol=1e-12)


def test_sliding_window_im2col_conv_gradient():
    # the conv2d pattern: pad, windows, stride, transpose, matmul
    x, w = _x(2, 2, 5, 5), _x(3, 2, 3, 3, seed=1)

    def conv(x, w):
        xp = anp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        win = anp.sliding_window_view(xp, (3, 3), axis=(2, 3))[:, :, ::2, ::2]
        cols = anp.reshape(anp.transpose(win, (0, 2, 3, 1, 4, 5)), (2, 3, 3, 18))
        return cols @ anp.reshape(w, (3, 18)).T

    check_grads(conv, x, w, modes=("fwd", "rev"), order=2)


# Methods and errors ------------------------------------------------------------------------
METHODS = [
    ("max", (), {}), ("min", (1,), {"keepdims": True}), ("prod", (0,), {}),
    ("var", (), {"ddof": 1}), ("std", (None,), {}), ("cumsum", (1,), {}), ("cumprod", (), {}),
    ("repeat", (2,), {"axis": 0}), ("take", ([0, 0, 5],), {}), ("trace", (), {}),
    ("diagonal", (1,), {}), ("ptp", (0,), {}), ("sum", (0, None, None, True), {}),
    ("mean", (1,), {}),
]  # fmt: skip


@pytest.mark.parametrize("name, args, kw", METHODS, ids=[m[0] for m in METHODS])
def test_traced_methods(name, args, kw):
    # x.name(...) on a traced value calls anp.name(x, ...) with NumPy's signature
    x, g = _distinct(2, 3), None
    expected = getattr(np, name)(x, *args, **kw)
    out_m, vjp_m = vjp(lambda x: getattr(x, name)(*args, **kw), x)
    out_f, vjp_f = vjp(lambda x: getattr(anp, name)(x, *args, **kw), x)
    np.testing.assert_allclose(_strip(out_m), expected, rtol=1e-12)
    g = _x(*np.shape(expected), seed=2)
    np.testing.assert_array_equal(vjp_m(g)[0], vjp_f(g)[0])


def test_traced_sort_method():
    x = _distinct(2, 3)
    np.testing.assert_array_equal(_strip(vjp(lambda x: x.sort(), x)[0]), np.sort(x))


def test_pad_rejects_nonlinear_mode():
    with pytest.raises(NotImplementedError, match="mode='maximum'"):
        grad(lambda x: anp.sum(anp.pad(x, 1, "maximum")))(_x(3))


def test_split_rejects_unequal_sections():
    with pytest.raises(ValueError, match="equal"):
        anp.split(_x(5), 2)
