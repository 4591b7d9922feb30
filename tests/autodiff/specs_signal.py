"""Property-test cases of the convolutions: np.convolve/correlate, scipy.signal's N-D and 2-D."""

from hypothesis import strategies as st
from opspec import rng_of, values

MODES = ["full", "same", "valid"]


def _sides(draw, ndim, mode):
    """Shapes of the two inputs; ``valid`` needs one at least as large in every axis."""
    a = [draw(st.integers(1, 4)) for _ in range(ndim)]
    v = [draw(st.integers(1, 4)) for _ in range(ndim)]
    if mode == "valid":
        big, small = (a, v) if draw(st.booleans()) else (v, a)
        for i in range(ndim):
            big[i], small[i] = max(big[i], small[i]), min(big[i], small[i])
    return tuple(a), tuple(v)


def _numpy_case(scalars):
    """np.convolve takes scalars as length-1 arrays, np.correlate does not."""
    sizes = [(1,), (2,), (3,), (5,)] + ([()] if scalars else [])

    def case(draw, dtype):
        mode = draw(st.sampled_from(MODES))
        na, nv = (draw(st.sampled_from(sizes)) for _ in range(2))
        rng = rng_of(draw)
        return (values(rng, na, dtype), values(rng, nv, dtype)), {"mode": mode}

    return case


def _signal_case(draw, dtype):
    mode = draw(st.sampled_from(MODES))
    sa, sv = _sides(draw, draw(st.integers(0, 3)), mode)
    rng = rng_of(draw)
    kw = {"mode": mode, "method": draw(st.sampled_from(["auto", "direct", "fft"]))}
    return (values(rng, sa, dtype), values(rng, sv, dtype)), kw


def _signal_positional(draw, dtype):
    """Mode and method passed positionally, as SciPy allows."""
    (a, v), kw = _signal_case(draw, dtype)
    return (a, v, kw["mode"], kw["method"]), {}


def _case_2d(draw, dtype):
    mode = draw(st.sampled_from(MODES))
    sa, sv = _sides(draw, 2, mode)
    rng = rng_of(draw)
    return (values(rng, sa, dtype), values(rng, sv, dtype)), {"mode": mode}


SPECS = {
    "convolve": [_numpy_case(scalars=True)],
    "correlate": [_numpy_case(scalars=False)],
    "signal_convolve": [_signal_case, _signal_positional],
    "signal_correlate": [_signal_case, _signal_positional],
    "convolve2d": [_case_2d],
    "correlate2d": [_case_2d],
}
