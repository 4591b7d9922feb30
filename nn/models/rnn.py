"""Recurrent networks as functions over pytrees, trained by backpropagation through time.

Every cell is ``cell(p, x_t, state) -> (state, y_t)``: ``state`` is what the next step reads,
``y_t`` what the layer above (or the loss) reads. Cells compose ``autodiff.numpy`` ops and
nothing else, so BPTT is the tape's reverse sweep over the unrolled loop. A model is
``{"cell": cell_params or [cell_params, ...] (a stack), "out": {"W", "b"}}`` (plus ``"in"`` for
a +RNN whose input size is not its state size), the pytree of benchmarks/manual/SPEC.md, so
its loss and gradients can be compared with the hand-derived BPTT leaf by leaf.

>>> import numpy as np
>>> p = init_model(np.random.default_rng(0), "lstm", 3, 4, 2)
>>> ys, (h, c) = unroll(p, np.zeros((5, 7, 3)), "lstm")
>>> ys.shape, c.shape
((5, 7, 4), (5, 4))
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

import autodiff
import autodiff.numpy as anp
from autodiff import stop_gradient, value_and_grad
from nn import init as nn_init
from nn.activations import relu, sigmoid
from nn.losses import mse, softmax_cross_entropy
from nn.optim import Optimizer, clip_by_global_norm, global_norm

__all__ = [
    "KINDS",
    "CELLS",
    "rnn_cell",
    "lstm_cell",
    "gru_cell",
    "ugrnn_cell",
    "plusrnn_cell",
    "convugrnn_cell",
    "slstm",
    "init_cell",
    "init_model",
    "unroll",
    "predict",
    "sequence_loss",
    "truncated_value_and_grad",
    "hidden_grads",
    "train_step",
]

KINDS = ("vanilla", "lstm", "gru", "ugrnn", "plusrnn", "convugrnn")
_GATES = {"vanilla": 1, "lstm": 4, "gru": 3, "ugrnn": 2, "plusrnn": 4, "convugrnn": 2, "slstm": 5}
# the block of b whose sigmoid decides how much of the old state is kept
_CARRY = {"vanilla": (), "lstm": (0,), "gru": (1,), "ugrnn": (1,), "plusrnn": (3,)}
_CARRY.update(convugrnn=(1,), slstm=(3, 4))
LOSSES = ("sse", "mse", "xent")


def _plain(x):
    """The value of x (traced or not) as a plain array, for shapes, dtypes and constants."""
    return np.asarray(stop_gradient(x))


# ------------------------------------------------------------------------------------ cells


def rnn_cell(p: dict, x, h) -> tuple:
    """Elman (1990) RNN: h_t = tanh(x_t Wx + h_{t-1} Wh + b); y_t = h_t.

    p {"Wx": (D, H), "Wh": (H, H), "b": (H,)}, x: (N, D), h: (N, H).

    >>> p = init_cell(np.random.default_rng(0), "vanilla", 3, 4)
    >>> rnn_cell(p, np.ones((2, 3)), np.zeros((2, 4)))[0].shape
    (2, 4)
    """
    h = anp.tanh(x @ p["Wx"] + h @ p["Wh"] + p["b"])
    return h, h


def lstm_cell(p: dict, x, state: tuple) -> tuple:
    """LSTM (Hochreiter & Schmidhuber 1997) with the forget gate of Gers et al. (2000).

    a = x_t Wx + h_{t-1} Wh + b in blocks [f, i, g, o]; f, i, o = sigmoid, g = tanh;
    c_t = f c_{t-1} + i g; h_t = o tanh(c_t); y_t = h_t (SPEC.md). p {"Wx": (D, 4H),
    "Wh": (H, 4H), "b": (4H,)}, state (h, c), each (N, H).

    >>> p = init_cell(np.random.default_rng(0), "lstm", 3, 4)
    >>> (h, c), y = lstm_cell(p, np.ones((2, 3)), (np.zeros((2, 4)), np.zeros((2, 4))))
    >>> h.shape, c.shape
    ((2, 4), (2, 4))
    """
    h, c = state
    H = h.shape[-1]
    a = x @ p["Wx"] + h @ p["Wh"] + p["b"]
    s = sigmoid(a)  # the g block of s is unused: one sigmoid beats three sliced ones
    c = s[:, :H] * c + s[:, H : 2 * H] * anp.tanh(a[:, 2 * H : 3 * H])
    h = s[:, 3 * H :] * anp.tanh(c)
    return (h, c), h


def gru_cell(p: dict, x, h) -> tuple:
    """GRU, Eqs. (5)-(8) of Cho et al. (2014), blocks [r, z, n] (SPEC.md).

    r = sig(x Wx_r + h Wh_r + b_r); z = sig(x Wx_z + h Wh_z + b_z);
    n = tanh(x Wx_n + (r h) Wh_n + b_n); h_t = z h_{t-1} + (1 - z) n; y_t = h_t.
    p {"Wx": (D, 3H), "Wh": (H, 3H), "b": (3H,)}, h: (N, H).

    >>> p = init_cell(np.random.default_rng(0), "gru", 3, 4)
    >>> gru_cell(p, np.ones((2, 3)), np.zeros((2, 4)))[0].shape
    (2, 4)
    """
    H = h.shape[-1]
    wh_rz, wh_n = _gru_blocks(p, H)
    xa = x @ p["Wx"] + p["b"]
    rz = sigmoid(xa[:, : 2 * H] + h @ wh_rz)
    z = rz[:, H:]
    n = anp.tanh(xa[:, 2 * H :] + (rz[:, :H] * h) @ wh_n)
    h = z * h + (1 - z) * n
    return h, h


def _gru_blocks(p: dict, H: int) -> tuple:
    """Wh's column blocks [r, z] and [n]: sliced once per sequence by ``_per_sequence``.

    A cell called on its own slices them here; a sequence slices them once, so the tape
    records two slices of Wh, not two at every step (7-10% of the GRU's gradient time).
    """
    if "Wh_rz" in p:
        return p["Wh_rz"], p["Wh_n"]
    wh = p["Wh"]
    return wh[:, : 2 * H], wh[:, 2 * H :]


def _ugrnn_update(a, h):
    K = h.shape[1]
    c = anp.tanh(a[:, :K])
    g = sigmoid(a[:, K:])
    return g * h + (1 - g) * c


def ugrnn_cell(p: dict, x, h) -> tuple:
    """Update-gate RNN of Collins, Sohl-Dickstein & Sussillo (2017), REFERENCE.md b).

    c_t = tanh(W^cx x_t + W^ch h_{t-1} + b_c); g_t = sig(W^gx x_t + W^gh h_{t-1} + b_g);
    h_t = g_t h_{t-1} + (1 - g_t) c_t; y_t = h_t. p {"Wx": (D, 2H), "Wh": (H, 2H), "b": (2H,)},
    blocks [c, g]; h: (N, H).

    >>> p = init_cell(np.random.default_rng(0), "ugrnn", 3, 4)
    >>> ugrnn_cell(p, np.ones((2, 3)), np.zeros((2, 4)))[0].shape
    (2, 4)
    """
    h = _ugrnn_update(x @ p["Wx"] + h @ p["Wh"] + p["b"], h)
    return h, h


def plusrnn_cell(p: dict, x, h) -> tuple:
    """Intersection RNN (+RNN) of Collins et al. (2017), REFERENCE.md b); needs D == H.

    y'_t = relu(.), h'_t = tanh(.), g^y_t = sig(.), g^h_t = sig(.) of x_t W^.x + h_{t-1} W^.h + b,
    blocks [y', h', gy, gh]; y_t = gy x_t + (1 - gy) y'_t is the depth output (to the layer above
    and the loss), h_t = gh h_{t-1} + (1 - gh) h'_t the recurrent one.
    p {"Wx": (H, 4H), "Wh": (H, 4H), "b": (4H,)}, x, h: (N, H).

    >>> p = init_cell(np.random.default_rng(0), "plusrnn", 4, 4)
    >>> h, y = plusrnn_cell(p, np.ones((2, 4)), np.zeros((2, 4)))
    >>> h.shape, y.shape
    ((2, 4), (2, 4))
    """
    H = h.shape[-1]
    a = x @ p["Wx"] + h @ p["Wh"] + p["b"]
    yp = relu(a[:, :H])
    s = sigmoid(a[:, 2 * H :])
    gy, gh = s[:, :H], s[:, H:]
    y = gy * x + (1 - gy) * yp
    h = gh * h + (1 - gh) * anp.tanh(a[:, H : 2 * H])
    return h, y


def convugrnn_cell(p: dict, x, h) -> tuple:
    """UGRNN whose affine maps are same-padded convolutions (SPEC.md's conv UGRNN).

    a = conv(x_t, Wx) + conv(h_{t-1}, Wh) + b, zero padding (k-1)/2, stride 1, channel blocks
    [c, g]; then ugrnn_cell's update. p {"Wx": (2K, C, k, k), "Wh": (2K, K, k, k), "b": (2K,)},
    x: (N, C, Hh, Ww), h: (N, K, Hh, Ww).
    """
    from nn.layers import conv2d

    a = conv2d(x, p["Wx"], p["b"], padding="same") + conv2d(h, p["Wh"], padding="same")
    h = _ugrnn_update(a, h)
    return h, h


CELLS: dict[str, Callable] = {
    "vanilla": rnn_cell,
    "lstm": lstm_cell,
    "gru": gru_cell,
    "ugrnn": ugrnn_cell,
    "plusrnn": plusrnn_cell,
    "convugrnn": convugrnn_cell,
}


def slstm(p: dict, x, boundary: tuple | None = None):
    """2-D spatial LSTM of Theis & Bethge (2015), REFERENCE.md c); h: (N, R, C, H).

    At pixel (i, j), z = [x_ij; h_{i,j-1}; h_{i-1,j}] and a = W z + b in blocks
    [g, i, o, f^r, f^c]: g = tanh, the others sigmoid; c_ij = g i + c_{i,j-1} f^c +
    c_{i-1,j} f^r; h_ij = tanh(c_ij o) (not o tanh(c)). W is kept as its three column blocks
    p {"Wx": (D, 5H), "Wl": (H, 5H) (left), "Wu": (H, 5H) (up), "b": (5H,)}; x: (N, R, C, D)
    per-pixel inputs (e.g. the causal neighbourhood). States outside the image are
    ``boundary = (h, c)``, each (N, H), zero by default. Its gradient is the tape's alone.
    ``python -m nn.rnn smnist --cell slstm`` reads MNIST as a 7 x 7 grid of 4 x 4 patches
    (``nn.tasks.patch_grid``) and classifies from h at the bottom-right pixel.

    >>> p = init_cell(np.random.default_rng(0), "slstm", 2, 3)
    >>> slstm(p, np.ones((1, 4, 5, 2))).shape
    (1, 4, 5, 3)
    """
    N, R, C, _ = x.shape
    H = p["Wl"].shape[0]
    if boundary is None:
        zero = np.zeros((N, H), np.result_type(_plain(p["b"])))
        boundary = (zero, zero)
    up = [boundary] * C
    rows = []
    for i in range(R):
        left, row = boundary, []
        for j in range(C):
            a = x[:, i, j] @ p["Wx"] + left[0] @ p["Wl"] + up[j][0] @ p["Wu"] + p["b"]
            s = sigmoid(a[:, H:])  # i, o, f^r, f^c
            c = (
                anp.tanh(a[:, :H]) * s[:, :H]
                + left[1] * s[:, 3 * H :]
                + up[j][1] * s[:, 2 * H : 3 * H]
            )
            left = (anp.tanh(c * s[:, H : 2 * H]), c)
            row.append(left)
        up = row
        rows.append(anp.stack([h for h, _ in row], axis=1))
    return anp.stack(rows, axis=1)


# ------------------------------------------------------------------------------------ init


def init_cell(
    rng: np.random.Generator,
    kind: str,
    D: int,
    H: int,
    k: int = 3,
    dtype: DTypeLike = np.float64,
    forget_bias: float = 0.0,
    orthogonal: bool = False,
) -> dict:
    """Cell parameters, U[-s, s] with s = 1/sqrt(H) (1/sqrt(H k^2) for convugrnn), as the
    hand derivations (PyTorch's default); slstm uses U[-0.08, 0.08], the RIDE Caffe template.

    ``forget_bias`` is added to the bias of the gate that keeps the old state (LSTM f, GRU z,
    UGRNN g, +RNN g^h, sLSTM f^r and f^c), as TF's ``forget_bias`` (1.0 there). The sLSTM's
    two forget gates add up, so 1.0 there makes c grow ~1.46^k over k diagonals; 0.0 keeps
    f^r + f^c near 1.
    ``orthogonal`` makes each (H, H) block of Wh orthogonal (Saxe et al. 2014), which keeps
    the vanilla RNN's gradients from vanishing at the start. For convugrnn D is the input
    channels C and H the state channels K.

    >>> sorted(init_cell(np.random.default_rng(0), "gru", 3, 4))
    ['Wh', 'Wx', 'b']
    """
    _check_kind(kind, slstm=True)
    G = _GATES[kind] * H
    if kind == "plusrnn" and D != H:
        raise ValueError(
            f"+RNN needs input size D == state size H (y_t = gy x_t + ...), got D={D}, H={H}; "
            "use init_model, which adds a linear input projection."
        )

    def uniform(s, shape):
        return rng.uniform(-s, s, shape).astype(dtype)

    if kind == "convugrnn":
        if k % 2 != 1:
            raise ValueError(f"a same-padded conv needs an odd kernel size, got k={k}.")
        s = 1 / math.sqrt(H * k * k)
        p = {"Wx": uniform(s, (G, D, k, k)), "Wh": uniform(s, (G, H, k, k)), "b": uniform(s, G)}
    elif kind == "slstm":
        s = 0.08
        p = {"Wx": uniform(s, (D, G)), "Wl": uniform(s, (H, G)), "Wu": uniform(s, (H, G))}
        p["b"] = uniform(s, G)
    else:
        s = 1 / math.sqrt(H)
        p = {"Wx": uniform(s, (D, G)), "Wh": uniform(s, (H, G)), "b": uniform(s, G)}
    for block in _CARRY[kind]:
        p["b"][block * H : (block + 1) * H] += np.asarray(forget_bias, dtype)
    if orthogonal and "Wh" in p and kind != "convugrnn":
        for block in range(_GATES[kind]):
            p["Wh"][:, block * H : (block + 1) * H] = nn_init.orthogonal(rng, (H, H), dtype=dtype)
    return p


def init_model(
    rng: np.random.Generator,
    kind: str,
    D: int,
    H: int,
    O: int | None,  # noqa: E741 (SPEC.md's name for the output size)
    layers: int = 1,
    k: int = 3,
    spatial: tuple[int, int] | None = None,
    dtype: DTypeLike = np.float64,
    forget_bias: float = 0.0,
    orthogonal: bool = False,
) -> dict:
    """A stack of ``layers`` cells and a linear read-out of the top layer's y_t.

    ``params["cell"]`` is one cell's dict for ``layers=1`` (SPEC.md's pytree) and a list
    otherwise. A +RNN with D != H gets ``params["in"] = {"W": (D, H), "b": (H,)}``, a linear
    input projection (as TF's IntersectionRNNCell). For convugrnn the read-out takes the
    flattened state, so ``spatial = (Hh, Ww)`` is needed; ``O=None`` omits the read-out (the
    loss then reads y_t itself, as SPEC.md's conv UGRNN). A stack of sLSTMs (``"slstm"``)
    feeds each layer's h grid to the next as its per-pixel input, as RIDE; the read-out takes
    the top layer's h at the last (bottom-right) pixel.

    >>> p = init_model(np.random.default_rng(0), "plusrnn", 2, 8, 1, layers=2)
    >>> sorted(p), len(p["cell"]), p["in"]["W"].shape
    (['cell', 'in', 'out'], 2, (2, 8))
    """
    _check_kind(kind, slstm=True)
    if layers < 1:
        raise ValueError(f"init_model: layers must be at least 1, got {layers}.")
    params: dict[str, Any] = {}
    if kind == "plusrnn" and D != H:
        s = 1 / math.sqrt(D)
        params["in"] = {
            "W": rng.uniform(-s, s, (D, H)).astype(dtype),
            "b": np.zeros(H, dtype),
        }
        D = H
    cells = [
        init_cell(rng, kind, D if i == 0 else H, H, k, dtype, forget_bias, orthogonal)
        for i in range(layers)
    ]
    params["cell"] = cells[0] if layers == 1 else cells
    if O is not None:
        F = H
        if kind == "convugrnn":
            if spatial is None:
                raise ValueError("init_model: convugrnn with a read-out needs spatial=(Hh, Ww).")
            F = H * spatial[0] * spatial[1]
        s = 1 / math.sqrt(F)
        params["out"] = {
            "W": rng.uniform(-s, s, (F, O)).astype(dtype),
            "b": rng.uniform(-s, s, O).astype(dtype),
        }
    return params


def _check_kind(kind: str, slstm: bool = False) -> None:
    if kind == "slstm" and not slstm:
        raise ValueError(
            "slstm scans a 2-D grid and has no time steps, so this needs a cell with a time "
            f"axis, one of {KINDS}; slstm works with init_model, unroll, predict and "
            "sequence_loss(last_only=True)."
        )
    kinds = (*KINDS, "slstm") if slstm else KINDS
    if kind not in kinds:
        raise ValueError(f"unknown cell kind {kind!r}; use one of {kinds}.")


# ------------------------------------------------------------------------------------ unroll


def _layers(params: dict) -> list:
    cell = params["cell"]
    return cell if isinstance(cell, list) else [cell]


def _per_sequence(params: dict, kind: str) -> dict:
    """params with what every step reuses computed once: the GRU's blocks of Wh."""
    if kind != "gru":
        return params
    layers = []
    for p in _layers(params):
        H = p["Wh"].shape[0]
        wh_rz, wh_n = _gru_blocks(p, H)
        layers.append(dict(p, Wh_rz=wh_rz, Wh_n=wh_n))
    return dict(params, cell=layers if isinstance(params["cell"], list) else layers[0])


def _dtype(params: dict) -> np.dtype:
    return np.result_type(_plain(_layers(params)[0]["b"]))


def _zero_state(p: dict, kind: str, x_t) -> Any:
    dtype = np.result_type(_plain(p["b"]))
    if kind == "convugrnn":
        h = np.zeros((x_t.shape[0], p["Wh"].shape[1], *x_t.shape[2:]), dtype)
    else:
        h = np.zeros((x_t.shape[0], p["Wh"].shape[0]), dtype)
    return (h, h) if kind == "lstm" else h


def _initial(params: dict, kind: str, x_t, h0) -> list:
    """The list of per-layer states; ``h0`` has the structure of ``params["cell"]``."""
    if h0 is not None:
        return list(h0) if isinstance(params["cell"], list) else [h0]
    states, y = [], x_t
    for p in _layers(params):
        states.append(_zero_state(p, kind, y))
        y = states[-1][0] if kind == "lstm" else states[-1]
    return states


def _step(params: dict, kind: str, x_t, states: list, probe=None) -> tuple[list, Any]:
    """One time step through the stack; ``probe`` is added to the first layer's h_t."""
    cell = CELLS[kind]
    y = x_t
    if "in" in params:
        y = y @ params["in"]["W"] + params["in"]["b"]
    new = []
    for i, (p, s) in enumerate(zip(_layers(params), states, strict=True)):
        s, y = cell(p, y, s)
        if probe is not None and i == 0:
            # every later use of h_t reads h_t + probe, so dLoss/dprobe = dLoss/dh_t
            h = s[0] if kind == "lstm" else s
            s = (h + probe, s[1]) if kind == "lstm" else h + probe
            if y is h:  # y_t = h_t (all cells but +RNN, whose y_t is its depth output)
                y = s[0] if kind == "lstm" else s
        new.append(s)
    return new, y


def _check_input(x, kind: str, slstm: bool = False) -> None:
    _check_kind(kind, slstm)
    want = {"convugrnn": 5, "slstm": 4}.get(kind, 3)
    if np.ndim(_plain(x)) != want:
        shape = {5: "(N, T, C, Hh, Ww)", 4: "(N, R, C, D)", 3: "(N, T, D)"}[want]
        raise ValueError(
            f"{kind} input must be batch-first with {want} axes {shape}, got shape {x.shape}."
        )


def _grid(params: dict, x, h0: Any = None):
    """The top layer's h: (N, R, C, H) of a stack of sLSTMs over x: (N, R, C, D)."""
    layers = _layers(params)
    if h0 is None:
        h0 = [None] * len(layers)
    elif not isinstance(params["cell"], list):
        h0 = [h0]
    for p, boundary in zip(layers, h0, strict=True):
        x = slstm(p, x, boundary)
    return x


def unroll(params: dict, x, kind: str, h0: Any = None) -> tuple:
    """Run the cell stack over x: (N, T, ...) batch-first; returns (ys, final state).

    ``ys`` (N, T, ...) stacks the top layer's y_t; the state has the structure of
    ``params["cell"]`` (one layer's state, or a list). ``h0`` defaults to zeros. For slstm
    x: (N, R, C, D) is a grid, ys the top layer's h: (N, R, C, H), the state its h at the
    last (bottom-right) pixel, and ``h0`` the boundary (h, c) of each layer (see ``slstm``).

    >>> p = init_model(np.random.default_rng(0), "gru", 3, 4, 2, layers=2)
    >>> ys, states = unroll(p, np.zeros((5, 6, 3)), "gru")
    >>> ys.shape, len(states)
    ((5, 6, 4), 2)
    """
    _check_input(x, kind, slstm=True)
    if kind == "slstm":
        ys = _grid(params, x, h0)
        return ys, ys[:, -1, -1]
    states = _initial(params, kind, x[:, 0], h0)
    params = _per_sequence(params, kind)
    ys = []
    for t in range(x.shape[1]):
        states, y = _step(params, kind, x[:, t], states)
        ys.append(y)
    final = states if isinstance(params["cell"], list) else states[0]
    return anp.stack(ys, axis=1), final


def predict(params: dict, x, kind: str, last_only: bool = True, h0: Any = None):
    """The read-out z_t = y_t W + b of the top layer: (N, O) at the last step, or (N, T, O).

    For slstm the steps are the R C pixels in raster order, the last one bottom-right.

    >>> p = init_model(np.random.default_rng(0), "ugrnn", 2, 4, 3)
    >>> predict(p, np.zeros((5, 6, 2)), "ugrnn").shape
    (5, 3)
    """
    ys, _ = unroll(params, x, kind, h0)
    if kind == "slstm":
        ys = anp.reshape(ys, (ys.shape[0], -1, ys.shape[-1]))
    z = _readout(params.get("out"), ys[:, -1:] if last_only else ys)
    return z[:, 0] if last_only else z


# ------------------------------------------------------------------------------------ losses


def _readout(out: dict | None, ys):
    """z = y W + b over the trailing feature axes of ys: (N, S, ...)."""
    if out is None:
        return ys
    N, S = ys.shape[:2]
    if ys.ndim > 3:
        ys = anp.reshape(ys, (N, S, -1))
    return ys @ out["W"] + out["b"]


def _loss_term(out: dict | None, ys, ts, loss: str, scale: float):
    """Sum over the steps of ys (N, S, ...) of the per-step loss, times ``scale``."""
    z = _readout(out, ys)
    N, S = z.shape[:2]
    if loss == "sse":  # SPEC.md: 0.5 sum_{t,n,o} (z_t - target_t)^2 / N
        r = z - ts
        return 0.5 * anp.sum(r * r) * (scale / N)
    if loss == "mse":  # mean over (N, S, ...) times S: the sum over steps of each step's mean
        return mse(z, ts) * (scale * S)
    # the mean over (N, S) labels times S: the sum over steps of each step's batch mean
    return softmax_cross_entropy(z, np.asarray(ts)) * (scale * S)


def _segment(params, states, xs, ts, probes, *, kind, loss, scale, read):
    """Steps xs: (N, S, ...) from ``states``; returns (states, loss of the steps read).

    ``read`` is "all" (every step), "last" or "none"; ts holds the targets of those steps.
    All arrays are arguments (none closed over), so ``autodiff.checkpoint`` can wrap it.
    """
    params = _per_sequence(params, kind)
    ys = []
    for j in range(xs.shape[1]):
        states, y = _step(params, kind, xs[:, j], states, None if probes is None else probes[j])
        if read == "all":
            ys.append(y)
    if read == "last":
        ys.append(y)
    if not ys:
        return states, np.zeros((), _dtype(params))
    return states, _loss_term(params.get("out"), anp.stack(ys, axis=1), ts, loss, scale)


def _prepare(params, x, targets, kind, last_only, loss, slstm=False):
    _check_input(x, kind, slstm)
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use one of {LOSSES}.")
    N, T = x.shape[:2]
    tt = np.asarray(targets)
    if loss != "xent":
        tt = tt.astype(_dtype(params), copy=False)
    if last_only:
        tt = tt[:, None]
    if tt.shape[:2] != (N, 1 if last_only else T):
        raise ValueError(
            f"targets of shape {np.shape(targets)} do not fit x of shape {x.shape} "
            f"({'(N, ...) for last_only' if last_only else '(N, T, ...) for every step'})."
        )
    # mse and xent average over the steps that carry a loss; sse sums them (SPEC.md)
    scale = 1.0 if loss == "sse" or last_only else 1.0 / T
    return tt, scale


def sequence_loss(
    params: dict,
    x,
    targets: ArrayLike,
    kind: str,
    last_only: bool = False,
    loss: str = "sse",
    h0: Any = None,
    checkpoint: bool | int = False,
):
    """Loss of the model on x: (N, T, ...) at every step, or at the last (``last_only``).

    ``loss``: "sse" is SPEC.md's 0.5 sum_{t,n,o} (z_t - target_t)^2 / N; "mse" the mean squared
    error; "xent" softmax cross-entropy with integer targets, mean over the batch; "mse" and
    "xent" average over the steps that carry a loss. ``checkpoint=True`` wraps segments of
    ceil(sqrt(T)) steps (an int: that many) in ``autodiff.checkpoint``, so the tape keeps only
    the states between segments and the backward sweep recomputes one segment at a time:
    memory ~ sqrt(T) instead of ~ T, for one extra forward pass (Chen et al. 2016).
    For slstm, x: (N, R, C, D) is a grid and the loss reads the top layer's h at the last
    (bottom-right) pixel: it needs ``last_only=True`` and no checkpoint.

    >>> rng = np.random.default_rng(0)
    >>> p = init_model(rng, "ugrnn", 2, 8, 1)
    >>> x, y = rng.standard_normal((4, 9, 2)), rng.standard_normal((4, 9, 1))
    >>> bool(np.isclose(sequence_loss(p, x, y, "ugrnn"),
    ...                 sequence_loss(p, x, y, "ugrnn", checkpoint=3)))
    True
    """
    if kind == "slstm":
        return _grid_loss(params, x, targets, last_only, loss, h0, checkpoint)
    tt, scale = _prepare(params, x, targets, kind, last_only, loss)
    T = x.shape[1]
    S = T if not checkpoint else math.isqrt(T - 1) + 1 if checkpoint is True else int(checkpoint)
    if S < 1:
        raise ValueError(f"sequence_loss: checkpoint segment length must be >= 1, got {S}.")
    seg = functools.partial(_segment, kind=kind, loss=loss, scale=scale)
    states = _initial(params, kind, x[:, 0], h0)
    total = 0.0
    for s in range(0, T, S):
        e = min(s + S, T)
        read = "all" if not last_only else "last" if e == T else "none"
        ts = tt if last_only else tt[:, s:e]
        fn = functools.partial(seg, read=read)
        if checkpoint:
            fn = autodiff.checkpoint(fn)
        states, value = fn(params, states, x[:, s:e], ts, None)
        total = total + value
    return total


def _grid_loss(params, x, targets, last_only, loss, h0, checkpoint):
    """sequence_loss of an sLSTM stack on x: (N, R, C, D): the read-out of the bottom-right h."""
    if not last_only or checkpoint:
        raise ValueError(
            "slstm scans a 2-D grid with no time steps: its loss reads the last (bottom-right) "
            "state only, so it needs last_only=True and checkpoint=False, got "
            f"last_only={last_only}, checkpoint={checkpoint}."
        )
    tt, scale = _prepare(params, x, targets, "slstm", True, loss, slstm=True)
    _, last = unroll(params, x, "slstm", h0)
    return _loss_term(params.get("out"), last[:, None], tt, loss, scale)


def truncated_value_and_grad(
    params: dict,
    x,
    targets: ArrayLike,
    kind: str,
    k1: int,
    k2: int | None = None,
    last_only: bool = False,
    loss: str = "sse",
    h0: Any = None,
) -> tuple[float, dict]:
    """Truncated BPTT(k1, k2) of Williams & Peng (1990): (loss, approximate gradient).

    Every k1 steps the losses of those k1 steps are backpropagated through the last k2 >= k1
    steps only; the state entering each window is a constant. The windows' gradients (all at
    the same ``params``) are summed; with k1 >= T, or k2 >= T, this is full BPTT. Memory
    grows with k2, not T.

    >>> rng = np.random.default_rng(0)
    >>> p = init_model(rng, "vanilla", 2, 3, 1)
    >>> x, y = rng.standard_normal((4, 6, 2)), rng.standard_normal((4, 6, 1))
    >>> v, g = truncated_value_and_grad(p, x, y, "vanilla", k1=2, k2=6)
    >>> full = autodiff.grad(sequence_loss)(p, x, y, "vanilla")
    >>> bool(np.allclose(g["cell"]["Wh"], full["cell"]["Wh"]))
    True
    """
    k2 = k1 if k2 is None else k2
    if not 1 <= k1 <= k2:
        raise ValueError(f"truncated BPTT needs 1 <= k1 <= k2, got k1={k1}, k2={k2}.")
    tt, scale = _prepare(params, x, targets, kind, last_only, loss)
    T = x.shape[1]
    ends = [*range(k1, T, k1), T]
    starts = {max(0, e - k2) for e in ends}
    plain = {0: _initial(params, kind, x[:, 0], h0)}  # constant states at window starts
    seg = functools.partial(_segment, kind=kind, loss=loss, scale=scale)
    total, grads, prev = 0.0, None, 0
    for e in ends:
        s = max(0, e - k2)
        # the steps [s, prev) only carry the state into the losses of [prev, e)
        cuts = sorted({s, prev, e} | {b for b in starts if s < b < e})

        def window(p, s=s, cuts=cuts, prev=prev):
            states, saved, value = plain[s], {}, 0.0
            for a, b in itertools.pairwise(cuts):
                if last_only:
                    read, ts = ("last" if b == T else "none"), tt
                else:
                    read, ts = ("all" if a >= prev else "none"), tt[:, a:b]
                states, v = seg(p, states, x[:, a:b], ts, None, read=read)
                value = value + v
                saved[b] = stop_gradient(states)
            return value, saved

        (value, saved), g = value_and_grad(window, has_aux=True)(params)
        plain.update(saved)
        total += float(value)
        grads = g if grads is None else autodiff.tree_map(np.add, grads, g)
        prev = e
    return total, grads


def hidden_grads(
    params: dict,
    x,
    targets: ArrayLike,
    kind: str,
    last_only: bool = True,
    loss: str = "sse",
) -> np.ndarray:
    """dLoss/dh_t of the first layer for every t, (N, T, ...), from the tape.

    Adds a zero probe to each h_t and differentiates with respect to the probes: the total
    derivative over all paths (for LSTM h, not c; for +RNN the recurrent h, not y). Their
    norms against t show vanishing or exploding gradients.

    >>> rng = np.random.default_rng(0)
    >>> p = init_model(rng, "lstm", 2, 3, 1)
    >>> hidden_grads(p, rng.standard_normal((4, 6, 2)), np.zeros((4, 1)), "lstm").shape
    (4, 6, 3)
    """
    tt, scale = _prepare(params, x, targets, kind, last_only, loss)
    states = _initial(params, kind, x[:, 0], None)
    h = states[0][0] if kind == "lstm" else states[0]
    probes = [np.zeros_like(h) for _ in range(x.shape[1])]
    read = "last" if last_only else "all"

    def f(probes):
        return _segment(
            params, states, x, tt, probes, kind=kind, loss=loss, scale=scale, read=read
        )[1]

    return np.stack(autodiff.grad(f)(probes), axis=1)


def train_step(
    params: dict,
    opt_state: dict,
    opt: Optimizer,
    x,
    targets: ArrayLike,
    kind: str,
    clip: float | None = None,
    **loss_kw: Any,
) -> tuple[dict, dict, float, float]:
    """One optimiser step on ``sequence_loss``, the gradient clipped to global norm ``clip``.

    Returns (params, opt_state, loss, gradient norm before clipping) (Pascanu et al. 2013).

    >>> from nn.optim import sgd
    >>> rng = np.random.default_rng(0)
    >>> p, opt = init_model(rng, "gru", 2, 3, 1), sgd(0.1)
    >>> x, y = rng.standard_normal((4, 5, 2)), rng.standard_normal((4, 1))
    >>> p, s, loss, norm = train_step(p, opt.init(p), opt, x, y, "gru", clip=1.0, last_only=True)
    """
    value, grads = value_and_grad(sequence_loss)(params, x, targets, kind, **loss_kw)
    norm = global_norm(grads)
    if clip is not None:
        grads = clip_by_global_norm(grads, clip)
    params, opt_state = opt.update(grads, opt_state, params)
    return params, opt_state, float(value), norm
