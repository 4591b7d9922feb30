"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998) with backpropagation derived by hand in NumPy.

Faithful to the paper as fixed in SPEC.md: 32x32 input, C1 conv 6@5x5, S2 trainable 2x2 sum
subsampling (one coefficient and one bias per map), C3 conv 16@5x5 partially connected by
Table I, S4 like S2, C5 conv 120@5x5 (fully connected to S4 on a 32x32 input), F6 dense 84,
scaled tanh f(a) = A tanh(S a), A = 1.7159, S = 2/3 (eq. 5-6) after every layer up to F6, and
fixed Euclidean RBF outputs y_i = sum_j (F6_j - c_ij)^2 (eq. 7) with the +/-1 bitmaps of
Fig. 3 as centres. The loss is the discriminative criterion of eq. (9).

The backward pass follows the paper's own recipe (Sec. II-C, Appendix C, eq. 19-20):
derivatives with respect to each connection as if unshared, summed over the connections
that share a parameter; here that sum is what the im2col products and the spatial sums do.
Every step names the chain-rule factor it applies. All arithmetic stays in the
parameters' dtype.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from benchmarks.manual.conv import (
    conv2d_backward,
    conv2d_backward_params,
    conv2d_forward,
    sum_pool2x2_backward,
    sum_pool2x2_forward,
)

__all__ = [
    "C3_TABLE",
    "c3_mask",
    "rbf_centres",
    "init_params",
    "make_batch",
    "forward",
    "loss",
    "loss_and_grads",
]

A, S = 1.7159, 2.0 / 3.0  # f(a) = A tanh(S a), eq. (5)-(6) and Appendix A

# Table I: the S2 maps each C3 map reads from.
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip

RBF_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "lenet5-rbf-bitmaps.txt"


def c3_mask(dtype=np.float64) -> np.ndarray:
    """Connection mask of C3, (16, 6, 1, 1): 1 where C3 map k reads S2 map c (Table I).

    >>> int(c3_mask().sum())
    60
    """
    mask = np.zeros((16, 6, 1, 1), dtype=dtype)
    for k, inputs in enumerate(C3_TABLE):
        mask[k, list(inputs)] = 1
    return mask


def rbf_centres(path: str | Path | None = None) -> np.ndarray:
    """RBF centres of the 10 digits, (10, 84): Fig. 3 bitmaps '0'..'9', ink '#' = +1, '.' = -1.

    Each 7-wide, 12-tall bitmap of ``lenet5-rbf-bitmaps.txt`` is flattened row-major.

    >>> rbf_centres()[1, :7]
    array([-1., -1., -1.,  1.,  1., -1., -1.])
    """
    path = RBF_PATH if path is None else Path(path)
    lines = path.read_text().splitlines()
    bitmaps = {}
    for i, line in enumerate(lines):
        if line.startswith("char "):
            code = int(line.split()[1])
            if ord("0") <= code <= ord("9"):
                bitmaps[code - ord("0")] = "".join(lines[i + 1 : i + 13])
    missing = [d for d in range(10) if d not in bitmaps]
    if missing:
        raise ValueError(f"{path} has no bitmap for digits {missing}; expected 'char 48 '0''...")
    for d, bits in bitmaps.items():
        if len(bits) != 84 or set(bits) - {"#", "."}:
            raise ValueError(f"bitmap of {d!r} in {path} is not 12 rows of 7 '#'/'.': {bits!r}")
    return np.array([[1.0 if ch == "#" else -1.0 for ch in bitmaps[d]] for d in range(10)])


@functools.cache
def _centres(dtype: np.dtype) -> np.ndarray:
    """The default centres in ``dtype``, read once: they are constants, not parameters."""
    centres = rbf_centres().astype(dtype)
    centres.flags.writeable = False
    return centres


def _uniform(rng: np.random.Generator, fan_in, shape) -> np.ndarray:
    # U[-2.4/F, 2.4/F], F = fan-in of the receiving unit (Appendix A)
    return rng.uniform(-1.0, 1.0, shape) * (2.4 / np.asarray(fan_in, dtype=np.float64))


def init_params(rng: np.random.Generator, dtype=np.float64) -> dict:
    """Parameters with the paper's fan-in initialisation U[-2.4/F, 2.4/F] (Appendix A).

    Biases count as weights from a constant input and get the range of their unit.
    For C3, F counts only the connected inputs (25 per S2 map read); the unconnected
    entries of ``C3.w`` are zero.

    >>> p = init_params(np.random.default_rng(0))
    >>> p["C3"]["w"].shape, float(abs(p["C1"]["w"]).max()) <= 2.4 / 25
    ((16, 6, 5, 5), True)
    """
    mask = c3_mask()
    c3_fan_in = 25 * mask.sum(axis=1)  # (16, 1, 1)
    params = {
        "C1": {"w": _uniform(rng, 25, (6, 1, 5, 5)), "b": _uniform(rng, 25, (6,))},
        "S2": {"coef": _uniform(rng, 4, (6,)), "b": _uniform(rng, 4, (6,))},
        "C3": {
            "w": _uniform(rng, c3_fan_in[:, None], (16, 6, 5, 5)) * mask,
            "b": _uniform(rng, c3_fan_in.ravel(), (16,)),
        },
        "S4": {"coef": _uniform(rng, 4, (16,)), "b": _uniform(rng, 4, (16,))},
        "C5": {"w": _uniform(rng, 400, (120, 16, 5, 5)), "b": _uniform(rng, 400, (120,))},
        "F6": {"w": _uniform(rng, 120, (120, 84)), "b": _uniform(rng, 120, (84,))},
    }
    return {
        layer: {k: v.astype(dtype) for k, v in leaves.items()} for layer, leaves in params.items()
    }


def make_batch(rng: np.random.Generator, n: int = 64, dtype=np.float64) -> tuple:
    """Random batch (x (n, 1, 32, 32), labels int (n,)), pixels in the paper's [-0.1, 1.175]."""
    x = rng.uniform(-0.1, 1.175, (n, 1, 32, 32)).astype(dtype)
    return x, rng.integers(0, 10, size=n)


def _squash(a: np.ndarray) -> np.ndarray:
    f = np.tanh(S * a)
    f *= A
    return f


def _squash_deriv(f: np.ndarray) -> np.ndarray:
    # f'(a) = A S (1 - tanh^2(S a)) = (S / A) (A^2 - f(a)^2), from the stored output f(a)
    d = f * f
    np.subtract(A * A, d, out=d)
    d *= S / A
    return d


def _forward(params: dict, x: np.ndarray) -> tuple[np.ndarray, dict]:
    """RBF penalties (N, 10) and the activations the backward pass needs."""
    if x.ndim != 4 or x.shape[1:] != (1, 32, 32):
        raise ValueError(f"LeNet-5 takes x of shape (N, 1, 32, 32), got {x.shape}.")
    p = params
    a1, conv1 = conv2d_forward(x, p["C1"]["w"], p["C1"]["b"])
    c1 = _squash(a1)  # (N, 6, 28, 28)
    pool2, _ = sum_pool2x2_forward(c1)
    s2 = _squash(pool2 * p["S2"]["coef"][:, None, None] + p["S2"]["b"][:, None, None])
    mask = c3_mask(s2.dtype)
    a3, conv3 = conv2d_forward(s2, p["C3"]["w"] * mask, p["C3"]["b"])
    c3 = _squash(a3)  # (N, 16, 10, 10)
    pool4, _ = sum_pool2x2_forward(c3)
    s4 = _squash(pool4 * p["S4"]["coef"][:, None, None] + p["S4"]["b"][:, None, None])
    # C5's 5x5 kernels cover all of S4's 5x5 maps, so the convolution is one dense product
    # (Sec. II-B: "fully connected to S4" on a 32x32 input).
    s4_flat = s4.reshape(len(x), -1)  # (N, 400)
    c5 = _squash(s4_flat @ p["C5"]["w"].reshape(120, -1).T + p["C5"]["b"])  # (N, 120)
    f6 = _squash(c5 @ p["F6"]["w"] + p["F6"]["b"])  # (N, 84)
    diff = f6[:, None, :] - _centres(f6.dtype)  # (N, 10, 84)
    penalties = (diff * diff).sum(axis=2)  # y_i = sum_j (x_j - w_ij)^2, eq. (7)
    cache = dict(
        conv1=conv1, c1=c1, pool2=pool2, s2=s2, mask=mask, conv3=conv3, c3=c3,
        pool4=pool4, s4=s4, s4_flat=s4_flat, c5=c5, f6=f6, diff=diff,
    )  # fmt: skip
    return penalties, cache


def forward(params: dict, x: np.ndarray) -> np.ndarray:
    """RBF output penalties (N, 10) for x (N, 1, 32, 32); the smallest one is the prediction.

    >>> rng = np.random.default_rng(0)
    >>> forward(init_params(rng), make_batch(rng, 3)[0]).shape
    (3, 10)
    """
    return _forward(params, x)[0]


def _map_loss(penalties: np.ndarray, labels: np.ndarray, j: float) -> tuple[float, np.ndarray]:
    """Eq. (9) averaged over the batch, and dE/dy (N, 10).

    E_n = y_{D_n} + log(e^{-j} + sum_i e^{-y_i}), the log-sum-exp taken over the 11 terms
    {-j, -y_0, ..., -y_9} after subtracting their maximum m.
    """
    n = len(labels)
    j = float(j)  # a Python float, so that float32 penalties stay float32 (NEP 50)
    neg = -penalties
    m = np.maximum(neg.max(axis=1), -j)  # (N,)
    log_z = m + np.log(np.exp(-j - m) + np.exp(neg - m[:, None]).sum(axis=1))
    value = float((penalties[np.arange(n), labels] + log_z).mean())
    # dE_n/dy_i = [i = D_n] - e^{-y_i} / (e^{-j} + sum_k e^{-y_k}),  then the 1/N of the mean
    dy = -np.exp(neg - log_z[:, None])
    dy[np.arange(n), labels] += 1
    dy /= n
    return value, dy


def loss(params: dict, batch: tuple, j: float = 1.0) -> float:
    """Eq. (9) loss on ``batch = (x (N, 1, 32, 32), labels int (N,))``, j the rubbish-class term."""
    x, labels = batch
    return _map_loss(forward(params, x), labels, j)[0]


def loss_and_grads(params: dict, batch: tuple, j: float = 1.0) -> tuple[float, dict]:
    """Eq. (9) loss and its gradient w.r.t. every parameter (same nested keys, shapes, dtypes).

    >>> rng = np.random.default_rng(0)
    >>> params, batch = init_params(rng), make_batch(rng, 2)
    >>> value, grads = loss_and_grads(params, batch)
    >>> value == loss(params, batch), grads["C3"]["w"].shape
    (True, (16, 6, 5, 5))
    """
    x, labels = batch
    p = params
    penalties, c = _forward(params, x)
    value, dy = _map_loss(penalties, labels, j)

    # RBF, eq. (7): dy_i/dF6_j = 2 (F6_j - c_ij)  =>  dE/dF6 = 2 sum_i dE/dy_i (F6 - c_i)
    d_f6 = 2 * (dy[:, :, None] * c["diff"]).sum(axis=1)  # (N, 84)
    # F6 dense: delta6 = dE/dF6 * f'(a6);  dE/dW6 = C5^T delta6;  dE/dC5 = delta6 W6^T
    delta6 = d_f6 * _squash_deriv(c["f6"])
    g_f6 = {"w": c["c5"].T @ delta6, "b": delta6.sum(axis=0)}
    d_c5 = delta6 @ p["F6"]["w"].T
    # C5 (dense over S4's 400 units): delta5 = dE/dC5 * f'(a5);  dE/dW5 = delta5^T S4
    delta5 = d_c5 * _squash_deriv(c["c5"])
    w5 = p["C5"]["w"]
    g_c5 = {"w": (delta5.T @ c["s4_flat"]).reshape(w5.shape), "b": delta5.sum(axis=0)}
    d_s4 = (delta5 @ w5.reshape(120, -1)).reshape(c["s4"].shape)  # dE/dS4 = delta5 W5
    # S4, a4 = coef * pool4 + b: delta4 = dE/dS4 * f'(a4);  dE/dcoef = sum delta4 * pool4
    # (summed over the batch and the map's units, which share coef and b)
    delta4 = d_s4 * _squash_deriv(c["s4"])
    g_s4 = {"coef": np.einsum("nchw,nchw->c", delta4, c["pool4"]), "b": delta4.sum(axis=(0, 2, 3))}
    # dE/dpool4 = coef * delta4; each C3 unit of a 2x2 window gets its window's value
    d_c3 = sum_pool2x2_backward(delta4 * p["S4"]["coef"][:, None, None], c["c3"].shape)
    # C3: delta3 = dE/dC3 * f'(a3); conv backward gives dE/dS2 and dE/d(w * mask)
    delta3 = d_c3 * _squash_deriv(c["c3"])
    d_s2, d_w3, db3 = conv2d_backward(delta3, c["conv3"])
    # a3 uses w * mask: dE/dw = dE/d(w * mask) * mask, exactly 0 for the missing connections
    g_c3 = {"w": d_w3 * c["mask"], "b": db3}
    # S2 as S4: delta2 = dE/dS2 * f'(a2); dE/dcoef = sum delta2 * pool2
    delta2 = d_s2 * _squash_deriv(c["s2"])
    g_s2 = {"coef": np.einsum("nchw,nchw->c", delta2, c["pool2"]), "b": delta2.sum(axis=(0, 2, 3))}
    d_c1 = sum_pool2x2_backward(delta2 * p["S2"]["coef"][:, None, None], c["c1"].shape)
    # C1: delta1 = dE/dC1 * f'(a1); dE/dW1 only (the input needs no gradient)
    delta1 = d_c1 * _squash_deriv(c["c1"])
    dw1, db1 = conv2d_backward_params(delta1, c["conv1"])
    g_c1 = {"w": dw1, "b": db1}
    return value, {"C1": g_c1, "S2": g_s2, "C3": g_c3, "S4": g_s4, "C5": g_c5, "F6": g_f6}
