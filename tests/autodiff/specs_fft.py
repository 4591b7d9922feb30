"""Property-test cases of anp.fft: lengths n/s (cut, padded, even, odd), axes, every norm."""

from hypothesis import strategies as st
from opspec import array, rng_of, shape, values

_NORMS = [None, "backward", "ortho", "forward"]


def _one_d(inverse_real=False):
    def case(draw, dtype):
        x = array(draw, dtype, min_dims=1, max_dims=3, max_side=5)
        axis = draw(st.integers(-x.ndim, x.ndim - 1))
        length = x.shape[axis]
        n = draw(st.sampled_from([None, 1, 2, 3, 4, 5, 6, 7]))
        if inverse_real and n is None and length < 2:
            n = draw(st.integers(1, 6))  # the default n = 2 (length - 1) would be 0
        kw = {"n": n, "axis": axis, "norm": draw(st.sampled_from(_NORMS))}
        return (x,), kw

    return case


def _n_d(inverse_real=False):
    def case(draw, dtype):
        x = array(draw, dtype, min_dims=1, max_dims=3, max_side=4)
        nd = x.ndim
        k = draw(st.integers(1, nd))
        axes = list(draw(st.permutations(range(nd)))[:k])
        axes = [a - nd if draw(st.booleans()) else a for a in axes]
        kw = {"norm": draw(st.sampled_from(_NORMS))}
        kind = draw(st.sampled_from(["all", "axes", "s"]))
        last = x.shape[axes[-1]]
        if kind == "all" and not (inverse_real and x.shape[-1] < 2):
            return (x,), kw
        kw["axes"] = axes
        if kind == "axes" and not (inverse_real and last < 2):
            return (x,), kw
        kw["s"] = [draw(st.integers(1, 6)) for _ in axes]
        return (x,), kw

    return case


def _shift(draw, dtype):
    s = shape(draw, min_dims=1, max_dims=3, max_side=5)
    axes = draw(st.sampled_from([None, -1, 0, tuple(range(len(s)))]))
    return (values(rng_of(draw), s, dtype),), {"axes": axes}


SPECS = {
    "fft": [_one_d()],
    "ifft": [_one_d()],
    "rfft": [_one_d()],
    "irfft": [_one_d(inverse_real=True)],
    "fftn": [_n_d()],
    "ifftn": [_n_d()],
    "rfftn": [_n_d()],
    "irfftn": [_n_d(inverse_real=True)],
    "fftshift": [_shift],
    "ifftshift": [_shift],
}
