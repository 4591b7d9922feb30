"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998), faithful, plus a "modern" variant.

Faithful (``benchmarks/manual/SPEC.md``, same parameter pytree as the hand-written
``benchmarks.manual.lenet5``): 32x32 input in [-0.1, 1.175]; C1 conv 6@5x5; S2 trainable 2x2
subsampling (coefficient and bias per map); C3 conv 16@5x5 connected to S2 by Table I; S4 like
S2; C5 conv 120@5x5 (a dense layer on 32x32 input); F6 dense 84; ``1.7159 tanh(2a/3)`` after
each of them (eq. 5-6); Euclidean RBF outputs ``y_i = sum_j (F6_j - c_ij)^2`` (eq. 7) with the
fixed +-1 bitmaps of Fig. 3 as centres; the loss of eq. (9). The smallest penalty wins.

Modern: the same sizes with ReLU, 2x2 max pooling (no parameters in S2/S4), C3 connected to
all six S2 maps, F6 followed by a dense layer to 10 logits and softmax cross-entropy.
``params`` says which variant it is (``"S2"`` in faithful params, ``"out"`` in modern ones).

Training (``python -m nn.lenet5 train``) lives in ``nn.models.lenet5_train``.
"""

from __future__ import annotations

import functools

import numpy as np

import autodiff.numpy as anp
from autodiff import stop_gradient, tree_map, vjp

from .. import init as _init
from ..activations import relu, scaled_tanh
from ..layers import conv2d, dense, max_pool2d, subsample2d
from ..losses import lenet5_map_loss, softmax_cross_entropy

__all__ = [
    "VARIANTS",
    "C3_TABLE",
    "RBF_BITMAPS",
    "c3_mask",
    "rbf_centres",
    "init",
    "variant_of",
    "features",
    "apply",
    "predict",
    "loss",
    "gauss_newton_diag",
    "train",
    "main",
]

VARIANTS = ("faithful", "modern")

# Table I: the S2 maps each C3 map reads from.
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip

# Fig. 3, digits '0'..'9': 12 rows of 7 pixels each, '#' (ink) = +1, '.' = -1; the same
# bitmaps as ../shared/lenet5-rbf-bitmaps.txt (checked in tests), kept here so that the
# package works without that file.
RBF_BITMAPS = (
    ".#####..........###...##.##.##...####...####...####...##.##.##...###................",
    "...##....###...####.....##.....##.....##.....##.....##.....##...######..............",
    ".#####.........#####.##...###....##....##...###...##....##.....#######..............",
    "#######.....##....##....##....####......##.....##.....####...##.#####...............",
    ".#####................##..##.##..#####..####...####...####..###.######.....##.....##",
    ".#####........#########.....##......####....####......####...##.#####...............",
    "..####..##....##.....##.....######.###..####...####...#####..##.#####...............",
    "#######.....##.....##....##....##.....##....##.....##.....##.....##.................",
    ".#####.##...####...####...##.#####.##...####...####...####...##.#####...............",
    ".#####.##..#####...####...####..###.######.....##.....##....##..####................",
)


def c3_mask(dtype=np.float64) -> np.ndarray:
    """Connection mask of C3, (16, 6, 1, 1): 1 where C3 map k reads S2 map c (Table I).

    >>> int(c3_mask().sum())
    60
    """
    mask = np.zeros((16, 6, 1, 1), dtype=dtype)
    for k, inputs in enumerate(C3_TABLE):
        mask[k, list(inputs)] = 1
    return mask


@functools.cache
def rbf_centres(dtype=np.float64) -> np.ndarray:
    """RBF centres (10, 84) of the digits, Fig. 3 bitmaps flattened row-major (read-only).

    >>> rbf_centres()[1, :7]
    array([-1., -1., -1.,  1.,  1., -1., -1.])
    """
    c = np.array([[1.0 if ch == "#" else -1.0 for ch in bits] for bits in RBF_BITMAPS], dtype)
    c.flags.writeable = False
    return c


def init(rng: np.random.Generator, variant: str = "faithful", dtype=np.float64) -> dict:
    """Parameters of LeNet-5.

    Faithful: the paper's U[-2.4/F, 2.4/F], F the fan-in of the receiving unit (App. A),
    biases included (a weight from a constant input), C3's F counting only connected inputs
    and its unconnected weights 0. The draws are those of ``benchmarks.manual.lenet5``, so the
    same ``rng`` gives the same parameters. Modern: He-normal weights (ReLU), zero biases.

    >>> p = init(np.random.default_rng(0))
    >>> p["C3"]["w"].shape, sorted(init(np.random.default_rng(0), "modern"))
    ((16, 6, 5, 5), ['C1', 'C3', 'C5', 'F6', 'out'])
    """
    if variant == "modern":
        shapes = {"C1": (6, 1, 5, 5), "C3": (16, 6, 5, 5), "C5": (120, 16, 5, 5), "F6": (120, 84)}
        params = {
            name: {"w": _init.he_normal(rng, shape, dtype=dtype), "b": np.zeros(shape[0], dtype)}
            for name, shape in shapes.items()
        }
        params["F6"]["b"] = np.zeros(84, dtype)
        params["out"] = {
            "w": _init.glorot_uniform(rng, (84, 10), dtype=dtype),
            "b": np.zeros(10, dtype),
        }
        return params
    if variant != "faithful":
        raise ValueError(f"lenet5.init: variant must be one of {VARIANTS}, got {variant!r}.")
    mask = c3_mask()
    c3_fan_in = 25 * mask.sum(axis=1)  # (16, 1, 1): 25 inputs per S2 map read

    def lecun(shape, fan_in):
        return _init.lecun_uniform(rng, shape, fan_in, dtype)

    return {
        "C1": {"w": lecun((6, 1, 5, 5), 25), "b": lecun((6,), 25)},
        "S2": {"coef": lecun((6,), 4), "b": lecun((6,), 4)},
        "C3": {
            "w": lecun((16, 6, 5, 5), c3_fan_in[:, None]) * mask.astype(dtype),
            "b": lecun((16,), c3_fan_in.ravel()),
        },
        "S4": {"coef": lecun((16,), 4), "b": lecun((16,), 4)},
        "C5": {"w": lecun((120, 16, 5, 5), 400), "b": lecun((120,), 400)},
        "F6": {"w": lecun((120, 84), 120), "b": lecun((84,), 120)},
    }


def variant_of(params: dict) -> str:
    """``"faithful"`` or ``"modern"``, from the layers present in ``params``.

    >>> variant_of(init(np.random.default_rng(0), "modern"))
    'modern'
    """
    if "S2" in params:
        return "faithful"
    if "out" in params:
        return "modern"
    raise ValueError(
        f"lenet5: params with layers {sorted(params)} are neither faithful (C1, S2, C3, S4, C5, "
        "F6) nor modern (C1, C3, C5, F6, out); build them with lenet5.init."
    )


def features(params: dict, x) -> dict:
    """All activations: ``{"input", "C1", "S2", "C3", "S4", "C5", "F6", "output"}``.

    x: (N, 1, 32, 32). The output is (N, 10): RBF penalties (faithful) or logits (modern).

    >>> f = features(init(np.random.default_rng(0)), np.zeros((2, 1, 32, 32)))
    >>> f["C3"].shape, f["F6"].shape
    ((2, 16, 10, 10), (2, 84))
    """
    if np.ndim(x) != 4 or tuple(np.shape(x)[1:]) != (1, 32, 32):
        raise ValueError(
            "lenet5: x must have shape (N, 1, 32, 32) (see nn.data.lenet_input), "
            f"got {np.shape(x)}."
        )
    p = params
    n = x.shape[0]
    if variant_of(p) == "faithful":
        f = scaled_tanh
        c1 = f(conv2d(x, p["C1"]["w"], p["C1"]["b"]))  # (N, 6, 28, 28)
        s2 = f(subsample2d(c1, p["S2"]["coef"], p["S2"]["b"]))  # (N, 6, 14, 14)
        mask = c3_mask(np.result_type(stop_gradient(p["C3"]["w"])))
        c3 = f(conv2d(s2, p["C3"]["w"] * mask, p["C3"]["b"]))  # (N, 16, 10, 10)
        s4 = f(subsample2d(c3, p["S4"]["coef"], p["S4"]["b"]))  # (N, 16, 5, 5)
        c5 = f(anp.reshape(conv2d(s4, p["C5"]["w"], p["C5"]["b"]), (n, 120)))
        f6 = f(dense(c5, p["F6"]["w"], p["F6"]["b"]))  # (N, 84)
        diff = f6[:, None, :] - rbf_centres(np.result_type(stop_gradient(f6)))  # (N, 10, 84)
        out = anp.sum(diff * diff, axis=2)  # y_i = sum_j (F6_j - c_ij)^2, eq. (7)
    else:
        c1 = relu(conv2d(x, p["C1"]["w"], p["C1"]["b"]))
        s2 = max_pool2d(c1, 2)
        c3 = relu(conv2d(s2, p["C3"]["w"], p["C3"]["b"]))
        s4 = max_pool2d(c3, 2)
        c5 = relu(anp.reshape(conv2d(s4, p["C5"]["w"], p["C5"]["b"]), (n, 120)))
        f6 = relu(dense(c5, p["F6"]["w"], p["F6"]["b"]))
        out = dense(f6, p["out"]["w"], p["out"]["b"])
    return {"input": x, "C1": c1, "S2": s2, "C3": c3, "S4": s4, "C5": c5, "F6": f6, "output": out}


def apply(params: dict, x):
    """Outputs (N, 10) for x (N, 1, 32, 32): RBF penalties (faithful) or logits (modern).

    >>> rng = np.random.default_rng(0)
    >>> apply(init(rng), np.zeros((3, 1, 32, 32))).shape
    (3, 10)
    """
    return features(params, x)["output"]


def predict(params: dict, x, batch_size: int = 1000) -> np.ndarray:
    """Predicted digits (N,), computed in batches: smallest penalty or largest logit.

    >>> predict(init(np.random.default_rng(0)), np.zeros((2, 1, 32, 32))).shape
    (2,)
    """
    pick = np.argmin if variant_of(params) == "faithful" else np.argmax
    outs = [
        pick(apply(params, x[i : i + batch_size]), axis=1) for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(outs) if outs else np.zeros(0, np.intp)


def loss(params: dict, batch: tuple, j: float = 1.0):
    """Mean loss on ``batch = (x (N, 1, 32, 32), labels int (N,))``.

    Faithful: eq. (9) with the rubbish-class constant ``j`` (the paper gives no value; 1.0 is
    the default, see ``nn.models.lenet5_train`` for why and for its effect). Modern: softmax
    cross-entropy (``j`` unused).

    >>> rng = np.random.default_rng(0)
    >>> float(loss(init(rng), (np.zeros((2, 1, 32, 32)), np.array([0, 1])))) > 0
    True
    """
    x, labels = batch
    out = apply(params, x)
    if variant_of(params) == "faithful":
        return lenet5_map_loss(out, labels, j)
    return softmax_cross_entropy(out, labels)


def _loss_hessian_probe(out: np.ndarray, faithful: bool, j: float, rng: np.random.Generator):
    """A random ``s`` with ``E[s s^T] = H``, the Hessian of the loss in the split outputs.

    Modern: the outputs are the logits z, the loss ``-z_D + logsumexp(z)``, and ``H = diag(q) -
    q q^T`` (q = softmax z) factors as ``L L^T``, ``L = (I - q 1^T) diag(sqrt q)``; so
    ``s = L r`` with r random signs.

    Faithful: the outputs are F6 (the fixed RBF layer belongs to the loss). Eq. (9) is
    ``-z_D + logsumexp(z, -j)`` in ``z = -y`` with the rubbish logit ``-j`` (11-way softmax
    q), and ``y_i = |F6 - c_i|^2``, so ``H = 2 q_rubbish I + 4 D^T (diag(q) - q q^T) D`` with
    D (10, 84) the rows ``F6 - c_i`` (the first term is the RBF's own curvature weighted by
    ``sum_i dE/dy_i = q_rubbish``). Both terms are PSD; ``s = sqrt(2 q_r) r_1 + 2 D^T L r_2``.
    Splitting at the penalties y instead would miss the RBF curvature, which is all there is
    at initialisation (every y_i is about 84, q_rubbish about 1 and diag(q) - q q^T about 0).
    Neither Hessian depends on the label.
    """
    if faithful:
        d = out[:, None, :] - rbf_centres(out.dtype)  # (N, 10, 84)
        z = np.concatenate([-(d * d).sum(axis=2), np.full((len(out), 1), -j, out.dtype)], axis=1)
    else:
        z = out
    q = np.exp(z - z.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    sq = np.sqrt(q) * rng.choice(np.array([-1.0, 1.0], out.dtype), size=q.shape)
    s = sq - q * sq.sum(axis=1, keepdims=True)
    if not faithful:
        return s
    r1 = rng.choice(np.array([-1.0, 1.0], out.dtype), size=out.shape)
    return np.sqrt(2 * q[:, 10:]) * r1 + 2 * np.einsum("nic,ni->nc", d, s[:, :10])


def gauss_newton_diag(
    params: dict, x: np.ndarray, rng: np.random.Generator, j: float = 1.0
) -> dict:
    """Estimate of the Gauss-Newton diagonal h_kk of App. C, averaged over the patterns of x.

    For each pattern p, with J_p the Jacobian of the network's outputs in the parameters
    (F6 for the faithful net, whose fixed RBF layer is part of the loss; the logits for the
    modern one) and H_p = L_p L_p^T the PSD Hessian of the loss in those outputs
    (``_loss_hessian_probe``), the Gauss-Newton matrix is G_p = J_p^T H_p J_p. One
    vector-Jacobian product per pattern, with the cotangent ``L_p r_p`` for random signs r_p
    ("curvature propagation", Martens, Sutskever & Swersky 2012; Chapelle & Erhan 2011),
    gives ``(J_p^T L_p r_p)^2``, whose expectation is exactly diag(G_p). Averaged over the
    500 patterns the paper uses, the noise per parameter is about sqrt(2 / 500), 6%.

    Why not eq. (27) literally: its recursion also drops the off-diagonal terms of every
    hidden layer (the "diagonal approximation" of Becker & LeCun 1989), a biased
    approximation of this same diagonal, and it needs a second backward pass written by
    hand for every layer type (squared weights and inputs), which nn does not define. Both
    drop the f'' terms (eq. 26), so h_kk >= 0 as the paper requires. Measured on the
    initial faithful network (500 MNIST digits): eq. (27) gives the same means for F6 and C5
    (within 1%) and up to 16x smaller ones for S4 down to C1, where the off-diagonal terms it
    drops add up.

    Returns a pytree like ``params`` (>= 0, in the params' dtype).

    >>> rng = np.random.default_rng(0)
    >>> h = gauss_newton_diag(init(rng), rng.uniform(-0.1, 1.175, (3, 1, 32, 32)), rng)
    >>> h["F6"]["b"].shape, bool(h["C1"]["w"].min() >= 0)
    ((84,), True)
    """
    faithful = variant_of(params) == "faithful"
    split = "F6" if faithful else "output"
    acc = None
    for i in range(len(x)):
        out, pullback = vjp(lambda p, xi=x[i : i + 1]: features(p, xi)[split], params)
        (g,) = pullback(_loss_hessian_probe(out, faithful, j, rng))
        sq = tree_map(lambda v: v * v, g)
        acc = sq if acc is None else tree_map(np.add, acc, sq)
    return tree_map(lambda a, p: (a / len(x)).astype(p.dtype), acc, params)


def train(*args, **kwargs):
    """Train LeNet-5 on MNIST; see ``nn.models.lenet5_train.train``."""
    from .lenet5_train import train as _train

    return _train(*args, **kwargs)


def main(argv=None) -> int:
    """``lenet5 train [...]`` console script; see ``nn.models.lenet5_train.main``."""
    from .lenet5_train import main as _main

    return _main(argv)
