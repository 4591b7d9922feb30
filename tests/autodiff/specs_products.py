"""Property-test cases of the products: matmul, tensordot, einsum (any subscripts), cross."""

from hypothesis import strategies as st
from opspec import rng_of, values


def _matmul(draw, dtype):
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(st.sampled_from([(), (2,), (2, 1)]))
    a_shape = draw(st.sampled_from([(k,), batch + (n, k)]))
    b_shape = draw(st.sampled_from([(k,), batch[-1:] + (k, m), (k, m)]))
    rng = rng_of(draw)
    return (values(rng, a_shape, dtype), values(rng, b_shape, dtype)), {}


def _tensordot(draw, dtype):
    rng = rng_of(draw)
    contracted = draw(st.lists(st.integers(1, 3), max_size=2))
    free_a = draw(st.lists(st.integers(1, 3), max_size=2))
    free_b = draw(st.lists(st.integers(1, 3), max_size=2))
    if draw(st.booleans()):  # int axes: last of a with first of b
        a = values(rng, tuple(free_a + contracted), dtype)
        b = values(rng, tuple(contracted + free_b), dtype)
        return (a, b), {"axes": len(contracted)}
    # axis lists: contracted axes anywhere, paired in any order, negative or not
    na, nb = len(free_a) + len(contracted), len(free_b) + len(contracted)
    pos_a = draw(st.permutations(range(na)))[: len(contracted)]
    pos_b = draw(st.permutations(range(nb)))[: len(contracted)]
    shape_a, shape_b = list(free_a) + [0] * len(contracted), list(free_b) + [0] * len(contracted)
    sa = _place(shape_a[: len(free_a)], pos_a, contracted, na)
    sb = _place(shape_b[: len(free_b)], pos_b, contracted, nb)
    ax_a = [p - na if draw(st.booleans()) else p for p in pos_a]
    ax_b = [p - nb if draw(st.booleans()) else p for p in pos_b]
    return (values(rng, sa, dtype), values(rng, sb, dtype)), {"axes": (ax_a, ax_b)}


def _place(free, positions, sizes, ndim):
    shape = [None] * ndim
    for p, s in zip(positions, sizes, strict=True):
        shape[p] = s
    it = iter(free)
    return tuple(next(it) if s is None else s for s in shape)


# subscripts: explicit and implicit outputs, diagonals, sums, traces, ellipses, many operands
_EINSUM = [
    "ij,jk->ik", "ij,jk", "ii->i", "ii", "ij->", "ij->ji", "ij", "i,i", "i,i->", "i,j->ij",
    "ijk,kjl->il", "...ij,...jk->...ik", "...i,...i->...", "ij,jk,kl->il", "iij->j", "ii,i->i",
    "bij,bjk->bik", "i->", "ba,ab", "aB,Bc", "i,i,i->i", ",ij->ij", "...ii->...i", "ij...->ji",
    "iji->j", "i...,...->i...",
]  # fmt: skip


def _einsum(draw, dtype):
    subs = draw(st.sampled_from(_EINSUM))
    ins = subs.split("->")[0].split(",")
    sizes = {c: draw(st.integers(1, 3)) for c in set(subs) - set(",.->")}
    ell = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    rng = rng_of(draw)
    ops = []
    for s in ins:
        shape = []
        for part in s.split("..."):
            shape.append(tuple(sizes[c] for c in part))
        if "..." in s:  # broadcast: drop leading axes or shrink some to 1
            e = ell[draw(st.integers(0, len(ell))) :]
            e = tuple(1 if draw(st.booleans()) else d for d in e)
            if "->" in subs and "..." not in subs.split("->")[1]:
                e = ()  # NumPy needs '...' in an explicit output to keep any ellipsis axis
            shape.insert(1, e)
        ops.append(values(rng, sum(shape, ()), dtype))
    return tuple(ops), {"subscripts": subs}


def _cross(draw, dtype):
    rng = rng_of(draw)
    na, nb = draw(st.sampled_from([(3, 3), (3, 3), (2, 3), (3, 2), (2, 2)]))
    batch_a, batch_b = draw(st.sampled_from([((), ()), ((4,), ()), ((2, 1), (3,)), ((1,), (2,))]))
    kind = draw(st.sampled_from(["default", "axes", "axis"]))
    if kind == "axis" and na == nb == 3:
        ax = draw(
            st.integers(-len(batch_a) - 1, len(batch_a)) if batch_a == batch_b else st.just(-1)
        )
        sa, sb = list(batch_a), list(batch_b)
        sa.insert(ax % (len(sa) + 1), na)
        sb.insert(ax % (len(sb) + 1), nb)
        return (values(rng, tuple(sa), dtype), values(rng, tuple(sb), dtype)), {"axis": ax}
    kw = {}
    sa, sb = list(batch_a) + [na], list(batch_b) + [nb]
    if kind == "axes":
        axa = draw(st.integers(0, len(batch_a)))
        sa = list(batch_a)
        sa.insert(axa, na)
        kw = {"axisa": axa, "axisb": -1}
        if na == 3 or nb == 3:
            out_ndim = max(len(batch_a), len(batch_b)) + 1
            kw["axisc"] = draw(st.integers(-out_ndim, out_ndim - 1))
    return (values(rng, tuple(sa), dtype), values(rng, tuple(sb), dtype)), kw


SPECS = {
    "matmul": [_matmul],
    "tensordot": [_tensordot],
    "einsum": [_einsum],
    "cross": [_cross],
}
