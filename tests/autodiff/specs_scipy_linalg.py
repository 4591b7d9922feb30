"""Property-test cases of autodiff.scipy.linalg's primitives (well-conditioned matrices)."""

import numpy as np
import scipy.linalg as sl
from hypothesis import strategies as st
from opspec import rng_of, values


def _spd(rng, n, dtype):
    """A symmetric positive definite matrix with eigenvalues in about [n/2, 2n]."""
    b = rng.uniform(-1.0, 1.0, (n, n))
    return (0.5 * b @ b.T + n * np.eye(n)).astype(dtype)


def _rhs(draw, rng, n, dtype):
    return values(rng, draw(st.sampled_from([(n,), (n, 1), (n, 3)])), dtype)


def _solve_triangular(draw, dtype):
    n = draw(st.integers(1, 4))
    rng = rng_of(draw)
    a = (0.3 * rng.uniform(-1.0, 1.0, (n, n)) + 2 * np.eye(n)).astype(dtype)
    kw = {
        "trans": draw(st.sampled_from([0, 1, 2, "N", "T", "C"])),
        "lower": draw(st.booleans()),
        "unit_diagonal": draw(st.booleans()),
    }
    return (a, _rhs(draw, rng, n, dtype)), kw


def _cho_factor(draw, dtype):
    rng = rng_of(draw)
    a = _spd(rng, draw(st.integers(1, 4)), dtype)
    # the solver reads one triangle only: the other may hold anything
    a = a + np.triu(rng.uniform(-0.3, 0.3, a.shape), 1).astype(dtype)
    return (a,), {"lower": draw(st.booleans())}


def _cho_solve(draw, dtype):
    n = draw(st.integers(1, 4))
    rng = rng_of(draw)
    lower = draw(st.booleans())
    c = sl.cho_factor(_spd(rng, n, np.float64), lower=lower)[0].astype(dtype)
    return (c, _rhs(draw, rng, n, dtype)), {"lower": lower}


def _solve_banded(draw, dtype):
    n = draw(st.integers(1, 5))
    lower, upper = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    rng = rng_of(draw)
    ab = 0.4 * rng.uniform(-1.0, 1.0, (lower + upper + 1, n))
    ab[upper] += 3.0  # diagonally dominant
    return (ab.astype(dtype), _rhs(draw, rng, n, dtype)), {"l_and_u": (lower, upper)}


def _solve_sylvester(draw, dtype):
    n, m = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    rng = rng_of(draw)
    a = _spd(rng, n, dtype) + 0.2 * values(rng, (n, n), dtype)
    b = _spd(rng, m, dtype) + 0.2 * values(rng, (m, m), dtype)
    return (a, b, values(rng, (n, m), dtype)), {}


def _sqrtm(draw, dtype):
    """SPD, or not symmetric but with eigenvalues near the SPD's (a real square root)."""
    n = draw(st.integers(1, 3))
    rng = rng_of(draw)
    skew = draw(st.sampled_from([0.0, 0.3])) * values(rng, (n, n), dtype)
    return (_spd(rng, n, dtype) + skew,), {}


def _expm(draw, dtype):
    n = draw(st.integers(1, 3))
    batch = draw(st.sampled_from([(), (2,)]))
    return (0.5 * values(rng_of(draw), batch + (n, n), dtype),), {}


SPECS = {
    "solve_triangular": [_solve_triangular],
    "cho_factor": [_cho_factor],
    "cho_solve": [_cho_solve],
    "solve_banded": [_solve_banded],
    "solve_sylvester": [_solve_sylvester],
    "sqrtm": [_sqrtm],
    "expm": [_expm],
}
