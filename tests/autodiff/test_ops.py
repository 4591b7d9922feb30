"""The generic property test of every primitive in ``OPS``.

For each primitive, hypothesis draws calls (shapes, broadcasting, 0-d, values in the
op's domain) from its cases (``specs_*.py``, or the default elementwise case) and checks:
the traced forward equals NumPy; reverse mode, forward mode and central differences
agree through random projections, to second order; gradients have their input's shape
and dtype in float64 and float32; inputs are not mutated; a zero cotangent gives zero;
two backward passes agree. A differentiable primitive without cases fails the suite.
"""

from __future__ import annotations

import glob
import importlib.util
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from opspec import elementwise_case

import autodiff.numpy  # noqa: F401  registers every primitive
import nn.activations  # noqa: F401  registers nn's primitives (OPS["nn.*"])
import nn.losses  # noqa: F401
from autodiff import check_grads, jvp, vjp
from autodiff.primitive import OPS, _strip


def _load_specs() -> dict:
    specs: dict = {}
    here = os.path.dirname(__file__)
    for path in sorted(glob.glob(os.path.join(here, "specs_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for op, cases in mod.SPECS.items():
            if op in specs:
                raise ValueError(f"op {op!r} has cases in two spec files")
            specs[op] = cases
    return specs


SPECS = _load_specs()
DIFFERENTIABLE = sorted(n for n, p in OPS.items() if not p.nondiff)


def _cases(name):
    if name in SPECS:
        return SPECS[name]
    prim = OPS[name]
    if prim.domain is not None or name in _DEFAULT_ELEMENTWISE:
        return [elementwise_case(prim.domain, len(prim.vjps))]
    return None


# elementwise ops whose domain is all reals (domain None) take the default case too
_DEFAULT_ELEMENTWISE = {
    n for n, p in OPS.items() if p.batch_jvp and not p.nondiff and n not in ("astype", "where")
}


def test_every_primitive_has_cases():
    missing = [n for n in DIFFERENTIABLE if _cases(n) is None]
    assert not missing, f"primitives without property-test cases: {missing}"


def test_spec_names_are_primitives():
    unknown = sorted(set(SPECS) - set(OPS))
    assert not unknown, f"spec files name unknown primitives: {unknown}"


def _diff_positions(prim, args):
    pos = []
    for i, a in enumerate(args):
        if not isinstance(a, np.ndarray | np.generic) or not np.issubdtype(a.dtype, np.inexact):
            continue
        if prim.has_vjp(i):
            pos.append(i)
    return pos


def _restrict(prim, args, kw, pos):
    def f(*xs):
        full = list(args)
        for i, x in zip(pos, xs, strict=False):
            full[i] = x
        return prim(*full, **kw)

    return f


def _leaves(x):
    if isinstance(x, tuple | list):
        return [y for item in x for y in _leaves(item)]
    return [x]


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@given(data=st.data())
def test_primitive(name, data):
    prim = OPS[name]
    cases = _cases(name)
    if cases is None:
        pytest.fail(f"primitive {name} has no property-test cases")
    case = data.draw(st.sampled_from(cases))
    args, kw = case(data.draw, np.float64)
    pos = _diff_positions(prim, args)
    assert pos, f"case for {name} has no differentiable argument"
    copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    f = _restrict(prim, args, kw, pos)
    xs = [args[i] for i in pos]

    # forward value equals NumPy's, through a tape
    expected = prim.fun(*args, **kw)
    out, f_vjp = vjp(f, *xs)
    for o, e in zip(_leaves(out), _leaves(expected), strict=False):
        np.testing.assert_allclose(np.asarray(_strip(o)), e, rtol=1e-12, atol=1e-12)

    # reverse, forward and finite differences agree, to second order
    check_grads(f, *xs, modes=("fwd", "rev"), order=2, rng=np.random.default_rng(1))

    # gradient shapes and dtypes; zero cotangent; two sweeps agree
    g = [np.ones_like(np.asarray(_strip(o))) for o in _leaves(out)]
    g_tree = g[0] if not isinstance(out, tuple | list) else type(out)(g)
    grads1 = f_vjp(g_tree)
    grads2 = f_vjp(g_tree)
    for x, g1, g2 in zip(xs, grads1, grads2, strict=False):
        assert np.shape(g1) == np.shape(x) and np.asarray(g1).dtype == x.dtype
        np.testing.assert_array_equal(g1, g2)
    zero = [np.zeros_like(a) for a in g]
    z_tree = zero[0] if not isinstance(out, tuple | list) else type(out)(zero)
    for gz in f_vjp(z_tree):
        assert not np.any(np.asarray(gz))

    # inputs are never mutated
    for a, c in zip(args, copies, strict=False):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, c)

    # float32 in, float32 out (values close to float64)
    args32 = tuple(
        np.asarray(a, np.float32)
        if isinstance(a, np.ndarray | np.generic) and a.dtype == np.float64
        else a
        for a in args
    )
    f32 = _restrict(prim, args32, kw, pos)
    xs32 = [args32[i] for i in pos]
    out32, f_vjp32 = vjp(f32, *xs32)
    g32 = [a.astype(np.float32) if a.dtype == np.float64 else a for a in g]
    g32_tree = g32[0] if not isinstance(out, tuple | list) else type(out)(g32)
    for x, g1, gref in zip(xs32, f_vjp32(g32_tree), grads1, strict=False):
        assert np.asarray(g1).dtype == x.dtype, f"{name}: {x.dtype} input gave {g1.dtype} grad"
        atol = 2e-3 * (1 + np.max(np.abs(gref), initial=0))
        np.testing.assert_allclose(g1, gref, rtol=2e-3, atol=atol)
    t32 = [np.ones_like(x) for x in xs32]
    _, tout = jvp(f32, tuple(xs32), tuple(t32))
    for t, o in zip(_leaves(tout), _leaves(out32), strict=False):
        dt, odt = np.asarray(t).dtype, np.asarray(_strip(o)).dtype
        assert dt == odt, f"{name}: tangent dtype {dt} for an output of dtype {odt}"
