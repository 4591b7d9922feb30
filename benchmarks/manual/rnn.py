"""Backpropagation through time (BPTT) derived by hand in pure NumPy for the RNNs of SPEC.md.

Cells: vanilla (Elman 1990), LSTM (Hochreiter & Schmidhuber 1997, forget gate of Gers et al.
2000), GRU (Cho et al. 2014), UGRNN and +RNN (Collins et al. 2017), and a convolutional UGRNN
whose affine maps are same-padded convolutions (conv.py).

Written the way the "only NumPy" tutorials derive it (cs231n's rnn_layers.py, Karpathy's
min-char-rnn): a forward loop over time keeps a cache, a backward loop walks time in reverse
applying the chain rule, each step cited. Notation: dq = dL/dq, the total derivative of the
loss w.r.t. q; pre-activations a_t = x_t Wx + h_{t-1} Wh + b, (N, G*H), split into G blocks
of width H in SPEC.md's order. What makes it "through time":
    dh_{t-1} = (direct paths of the gated update) + da_t Wh^T    (h_{t-1} feeds every gate),
    dWh = sum_t h_{t-1}^T da_t,  dWx = sum_t x_t^T da_t,  db = sum_{t,n} da_t   (shared weights).

Speed (this is the floor the AD engine is measured against): only time is a Python loop. The
input projection x_t Wx + b and the weight gradients are single products over all T*N rows,
and each gate's local derivative (everything in da_t except the factor dh_t or dc_t, known
only inside the loop) is formed for all t at once. States are stored time-major, (T, N, ...).

Published pitfalls: two LSTM mistakes are attributed to popular "only NumPy" blog derivations
(second-hand; the posts themselves were not checked here): (1) dropping the recurrent term
da_t Wh^T from dh_{t-1}, and (2) dropping dc_{t-1} = dc_t * f_t. ``lstm_loss_and_grads_planted``
reproduces either, so a derivation checker can be shown catching it. Both are exact for T = 1,
so a check must use T >= 2. For the GRU, a derivation for the cuDNN/PyTorch variant
r * (h Wh_n + b_hn) does not fit the Cho et al. form (r * h) Wh_n used here, and texts differ
on whether z or 1 - z multiplies h_{t-1} (here z, as in Cho et al.).
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import DTypeLike

from .conv import conv2d_backward, conv2d_backward_params, conv2d_forward

__all__ = [
    "CELLS",
    "init_params",
    "make_batch",
    "loss",
    "loss_and_grads",
    "bptt_hidden_grads",
    "lstm_loss_and_grads_planted",
]

CELLS = ("vanilla", "lstm", "gru", "ugrnn", "plusrnn", "convugrnn")
_GATES = dict(zip(CELLS, (1, 4, 3, 2, 4, 2), strict=True))
_MISTAKES = ("dh_recurrent", "dc_forget")


def _check_cell(cell: str) -> None:
    if cell not in _GATES:
        raise ValueError(f"unknown cell {cell!r}; use one of {CELLS}.")


def init_params(
    rng: np.random.Generator,
    cell: str,
    D: int,
    H: int,
    O: int,  # noqa: E741 (SPEC.md's name for the output size)
    dtype: DTypeLike = np.float64,
    k: int = 3,
) -> dict:
    """PyTorch-style U[-s, s] weights and biases, s = 1/sqrt(H) (1/sqrt(H k^2) for convugrnn).

    For convugrnn D = C input channels, H = K state channels, k the odd kernel size, O unused.

    >>> p = init_params(np.random.default_rng(0), "lstm", 3, 4, 2)
    >>> p["cell"]["Wh"].shape, p["out"]["W"].shape
    ((4, 16), (4, 2))
    """
    _check_cell(cell)
    gh = _GATES[cell] * H
    if cell == "plusrnn" and D != H:
        raise ValueError(f"+RNN needs D == H (y_t = gy*x_t + ...), got D={D}, H={H}.")

    def uniform(s, shape):
        return rng.uniform(-s, s, shape).astype(dtype)

    if cell == "convugrnn":
        if k % 2 != 1:
            raise ValueError(f"a same-padded conv needs an odd kernel size, got k={k}.")
        s = 1 / np.sqrt(H * k * k)
        return {
            "cell": {
                "Wx": uniform(s, (gh, D, k, k)),
                "Wh": uniform(s, (gh, H, k, k)),
                "b": uniform(s, (gh,)),
            }
        }
    s = 1 / np.sqrt(H)
    return {
        "cell": {"Wx": uniform(s, (D, gh)), "Wh": uniform(s, (H, gh)), "b": uniform(s, (gh,))},
        "out": {"W": uniform(s, (H, O)), "b": uniform(s, (O,))},
    }


def make_batch(
    rng: np.random.Generator,
    cell: str,
    N: int,
    T: int,
    D: int,
    H: int,
    O: int,  # noqa: E741
    dtype: DTypeLike = np.float64,
    last_only: bool = False,
    spatial: tuple[int, int] = (6, 6),
) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal (x (N, T, D), targets (N, T, O)); targets (N, O) if ``last_only``.

    For convugrnn x is (N, T, D, *spatial) and targets (N, T, H, *spatial) or (N, H, *spatial).
    """
    _check_cell(cell)
    conv = cell == "convugrnn"
    x_shape = (N, T, D, *spatial) if conv else (N, T, D)
    y_shape = (H, *spatial) if conv else (O,)
    y_shape = (N, *y_shape) if last_only else (N, T, *y_shape)
    return rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(y_shape).astype(dtype)


# ---------------------------------------------------------------------------- shared pieces


def _sigmoid(a, out=None):
    """Logistic sigmoid as 0.5 tanh(a/2) + 0.5: never overflows, keeps float32."""
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def _dense(x, w):
    """x @ w over all leading axes of x as one (rows, in) @ (in, out) BLAS call."""
    return (x.reshape(-1, x.shape[-1]) @ w).reshape(*x.shape[:-1], w.shape[1])


def _dense_grad(x, g):
    """sum over all leading axes of x^T g, as one product: the gradient of a shared weight."""
    return x.reshape(-1, x.shape[-1]).T @ g.reshape(-1, g.shape[-1])


def _pad(cp):
    return (cp["Wh"].shape[-1] - 1) // 2


def _project(cp, xt, conv):
    """x_t Wx + b for all t at once (no recurrence in it), with the cache for its backward."""
    if not conv:
        xa = _dense(xt, cp["Wx"])
        xa += cp["b"]
        return xa, None
    T, N = xt.shape[:2]
    xa, cache = conv2d_forward(xt.reshape(T * N, *xt.shape[2:]), cp["Wx"], cp["b"], 1, _pad(cp))
    return xa.reshape(T, N, *xa.shape[1:]), cache


def _project_back(xt, da, cache):
    """dWx = sum_t x_t^T da_t and db = sum_{t,n} da_t (the same weights at every step)."""
    if cache is None:
        return _dense_grad(xt, da), da.sum(axis=(0, 1))
    return conv2d_backward_params(da.reshape(-1, *da.shape[2:]), cache)


def _output(params, ys, targets, last_only):
    """SPEC.md loss 0.5 sum_{t,n,o} (y_t W + b - target_t)^2 / N, and dL/dz_t for its z_t."""
    y = ys[-1:] if last_only else ys
    out = params.get("out")
    z = y if out is None else _dense(y, out["W"]) + out["b"]
    want = z.shape[1:] if last_only else (z.shape[1], z.shape[0], *z.shape[2:])
    if targets.shape != want:
        raise ValueError(f"targets have shape {targets.shape}, expected {want} ({last_only=}).")
    r = z - (targets[None] if last_only else np.swapaxes(targets, 0, 1))
    n = ys.shape[1]
    # L = 0.5 sum r^2 / N  =>  dL/dz_t = r_t / N
    return 0.5 * float(np.vdot(r, r)) / n, r / n


def _output_back(params, ys, dz, last_only):
    """dL/dy_t for every t (zero where the loss does not read y_t) and the output layer grads."""
    dys = np.zeros_like(ys)
    steps = slice(-1, None) if last_only else slice(None)
    out = params.get("out")
    if out is None:  # convugrnn: the loss reads h_t itself
        dys[steps] = dz
        return dys, None
    # z_t = y_t W + b  =>  dW = sum_t y_t^T dz_t, db = sum_{t,n} dz_t, dy_t = dz_t W^T
    dys[steps] = _dense(dz, out["W"].T)
    return dys, {"W": _dense_grad(ys[steps], dz), "b": dz.sum(axis=(0, 1))}


# ---------------------------------------------------------------------------- the cells
# Each *_forward(cp, xa, xt) gets xa = x_t Wx + b for all t and returns (ys, cache), ys the
# (T, N, ...) sequence the loss reads. Each *_backward(cp, cache, dys) gets dys = dL/dy_t from
# the loss and returns (da, dWh, dhs): da = dL/da_t, and dhs = dL/dh_t, total over all paths.


def _vanilla_forward(cp, xa, xt):
    """h_t = tanh(a_t) (Elman 1990); the cache is hs, hs[t] = h_{t-1}, hs[0] = 0."""
    T, N, H = xa.shape
    hs = np.zeros((T + 1, N, H), xa.dtype)
    for t in range(T):
        np.tanh(xa[t] + hs[t] @ cp["Wh"], out=hs[t + 1])
    return hs[1:], hs


def _vanilla_backward(cp, hs, dys):
    wh_t = cp["Wh"].T
    # h_t = tanh(a_t)  =>  da_t = dh_t tanh'(a_t) = dh_t (1 - h_t^2); the factor for all t now
    da = 1 - hs[1:] * hs[1:]
    dhs = np.empty_like(dys)
    dh_next = np.zeros_like(dys[0])
    for t in reversed(range(len(dys))):
        # h_t feeds the loss at t and a_{t+1}: dh_t = dy_t + da_{t+1} Wh^T
        np.add(dys[t], dh_next, out=dhs[t])
        da[t] *= dhs[t]
        # a_t = x_t Wx + h_{t-1} Wh + b  =>  dh_{t-1} = da_t Wh^T  (not needed for h_{-1} = 0)
        if t:
            dh_next = da[t] @ wh_t
    return da, _dense_grad(hs[:-1], da), dhs


def _lstm_forward(cp, xa, xt):
    """[f, i, g, o] = [sig, sig, tanh, sig](a_t), c_t = f c_{t-1} + i g, h_t = o tanh(c_t)."""
    T, N, G = xa.shape
    H = G // 4
    acts = np.empty_like(xa)  # gate values, blocks [f, i, g, o]
    cs = np.zeros((T + 1, N, H), xa.dtype)  # cs[t] = c_{t-1}, zero initial state
    hs = np.zeros_like(cs)
    tcs = np.empty((T, N, H), xa.dtype)  # tanh(c_t)
    for t in range(T):
        a = xa[t] + hs[t] @ cp["Wh"]
        s = _sigmoid(a, out=acts[t])  # f, i, o; the g block is overwritten next
        np.tanh(a[:, 2 * H : 3 * H], out=s[:, 2 * H : 3 * H])
        np.multiply(s[:, :H], cs[t], out=cs[t + 1])
        cs[t + 1] += s[:, H : 2 * H] * s[:, 2 * H : 3 * H]
        np.tanh(cs[t + 1], out=tcs[t])
        np.multiply(s[:, 3 * H :], tcs[t], out=hs[t + 1])
    return hs[1:], (acts, cs, tcs, hs)


def _lstm_backward(cp, cache, dys, mistake=None):
    acts, cs, tcs, hs = cache
    T, N, G = acts.shape
    H = G // 4
    wh_t = cp["Wh"].T
    f, i, g, o = np.moveaxis(acts.reshape(T, N, 4, H), 2, 0)
    # c_t = f c_{t-1} + i g  =>  df = dc_t c_{t-1}, di = dc_t g, dg = dc_t i;
    # h_t = o tanh(c_t)      =>  do = dh_t tanh(c_t);
    # then through sigma' = s (1 - s) for f, i, o and tanh' = 1 - g^2 for g. All but dc_t, dh_t:
    da = np.empty_like(acts)
    da4 = da.reshape(T, N, 4, H)
    da4[:, :, 0] = cs[:-1] * f * (1 - f)
    da4[:, :, 1] = g * i * (1 - i)
    da4[:, :, 2] = i * (1 - g * g)
    da4[:, :, 3] = tcs * o * (1 - o)
    # h_t = o tanh(c_t)  =>  dh_t/dc_t = o (1 - tanh^2 c_t)
    dtc = o * (1 - tcs * tcs)
    dhs = np.empty_like(dys)
    dh_next = np.zeros_like(dys[0])
    dc_next = np.zeros_like(dh_next)
    for t in reversed(range(T)):
        # h_t feeds the loss at t and all four gates at t + 1: dh_t = dy_t + da_{t+1} Wh^T
        dh = np.add(dys[t], dh_next, out=dhs[t])
        # c_t feeds h_t and c_{t+1} = f_{t+1} c_t + ...: dc_t = dh_t o tanh'(c_t) + dc_{t+1} f_{t+1}
        dc = dh * dtc[t]
        dc += dc_next
        da4[t, :, :3] *= dc[:, None]
        da4[t, :, 3] *= dh
        if mistake != "dc_forget":
            # dc_{t-1} = dc_t f_t: the constant error carousel. Pitfall (2), see the module
            # docstring, drops it, so c carries no gradient back in time.
            dc_next = dc * f[t]
        if mistake != "dh_recurrent" and t:
            # a_t = x_t Wx + h_{t-1} Wh + b  =>  dh_{t-1} gets da_t Wh^T from all four gates.
            # Pitfall (1) drops it, leaving h_{t-1} only its own output's gradient.
            dh_next = da[t] @ wh_t
    return da, _dense_grad(hs[:-1], da), dhs


def _gru_forward(cp, xa, xt):
    """r, z = sig(a_r), sig(a_z), n = tanh(x Wx_n + (r h) Wh_n + b_n), h_t = z h + (1 - z) n."""
    T, N, G = xa.shape
    H = G // 3
    wh_rz, wh_n = cp["Wh"][:, : 2 * H], cp["Wh"][:, 2 * H :]
    acts = np.empty_like(xa)  # blocks [r, z, n]
    hs = np.zeros((T + 1, N, H), xa.dtype)
    rhs = np.empty((T, N, H), xa.dtype)  # r_t * h_{t-1}, the input of Wh_n
    for t in range(T):
        h = hs[t]
        s = _sigmoid(xa[t, :, : 2 * H] + h @ wh_rz, out=acts[t, :, : 2 * H])
        np.multiply(s[:, :H], h, out=rhs[t])
        n = np.tanh(xa[t, :, 2 * H :] + rhs[t] @ wh_n, out=acts[t, :, 2 * H :])
        np.subtract(h, n, out=hs[t + 1])  # h_t = n + z (h_{t-1} - n)
        hs[t + 1] *= s[:, H:]
        hs[t + 1] += n
    return hs[1:], (acts, rhs, hs)


def _gru_backward(cp, cache, dys):
    acts, rhs, hs = cache
    T, N, G = acts.shape
    H = G // 3
    wh_rz_t, wh_n_t = cp["Wh"][:, : 2 * H].T, cp["Wh"][:, 2 * H :].T
    r, z, n = np.moveaxis(acts.reshape(T, N, 3, H), 2, 0)
    # h_t = z h_{t-1} + (1 - z) n  =>  dz = dh_t (h_{t-1} - n), dn = dh_t (1 - z);
    # r h_{t-1} feeds a_n via Wh_n   =>  dr = d(rh) h_{t-1};
    # then sigma' = s (1 - s) for r, z and tanh' = 1 - n^2. All but the factors dh_t, d(rh):
    da = np.empty_like(acts)
    da4 = da.reshape(T, N, 3, H)
    da4[:, :, 0] = hs[:-1] * r * (1 - r)
    da4[:, :, 1] = (hs[:-1] - n) * z * (1 - z)
    da4[:, :, 2] = (1 - z) * (1 - n * n)
    dhs = np.empty_like(dys)
    dh_next = np.zeros_like(dys[0])
    for t in reversed(range(T)):
        # h_t feeds the loss at t and step t + 1 (directly, via r h, and via a_r, a_z, a_n)
        dh = np.add(dys[t], dh_next, out=dhs[t])
        da4[t, :, 1:] *= dh[:, None]
        # a_n = x Wx_n + (r h_{t-1}) Wh_n + b_n  =>  d(rh) = da_n Wh_n^T
        drh = da4[t, :, 2] @ wh_n_t
        da4[t, :, 0] *= drh
        if t:
            # dh_{t-1} = dh_t z (direct) + d(rh) r (reset product) + [da_r, da_z] Wh_rz^T
            dh_next = dh * z[t]
            dh_next += drh * r[t]
            dh_next += da[t, :, : 2 * H] @ wh_rz_t
    # dWh_rz = sum_t h_{t-1}^T [da_r, da_z];  dWh_n = sum_t (r h_{t-1})^T da_n
    dwh = np.concatenate(
        [_dense_grad(hs[:-1], da[..., : 2 * H]), _dense_grad(rhs, da[..., 2 * H :])], axis=1
    )
    return da, dwh, dhs


def _ugrnn_forward_loop(xa, rec):
    """c = tanh(a_c), g = sig(a_g), h_t = g h_{t-1} + (1 - g) c (Collins et al. 2017).

    ``rec(h)`` is the recurrent map (h Wh or conv_same(h, Wh)); blocks [c, g] lie on axis 1 of
    a step's a_t, the feature axis (N, 2H) or the channel axis (N, 2K, Hh, Ww).
    """
    T, N, G = xa.shape[:3]
    K = G // 2
    acts = np.empty_like(xa)  # blocks [c, g]
    hs = np.zeros((T + 1, N, K, *xa.shape[3:]), xa.dtype)
    for t in range(T):
        a = xa[t] + rec(hs[t])
        c = np.tanh(a[:, :K], out=acts[t, :, :K])
        g = _sigmoid(a[:, K:], out=acts[t, :, K:])
        np.subtract(hs[t], c, out=hs[t + 1])  # h_t = c + g (h_{t-1} - c)
        hs[t + 1] *= g
        hs[t + 1] += c
    return hs[1:], (acts, hs)


def _ugrnn_backward_loop(cache, dys, rec_back):
    """da and dhs of the UGRNN; ``rec_back(da_t, t)`` is dh_{t-1} through the recurrent map."""
    acts, hs = cache
    T, N, G = acts.shape[:3]
    K = G // 2
    c, g = acts[:, :, :K], acts[:, :, K:]
    # h_t = g h_{t-1} + (1 - g) c  =>  dc = dh_t (1 - g), dg = dh_t (h_{t-1} - c);
    # then tanh' = 1 - c^2 and sigma' = g (1 - g). All but the factor dh_t:
    da = np.empty_like(acts)
    da2 = da.reshape(T, N, 2, K, *acts.shape[3:])
    da2[:, :, 0] = (1 - g) * (1 - c * c)
    da2[:, :, 1] = (hs[:-1] - c) * g * (1 - g)
    dhs = np.empty_like(dys)
    dh_next = np.zeros_like(dys[0])
    for t in reversed(range(T)):
        # h_t feeds the loss at t and step t + 1 (directly and via a_{t+1})
        dh = np.add(dys[t], dh_next, out=dhs[t])
        da2[t] *= dh[:, None]
        if t:
            # dh_{t-1} = dh_t g (direct) + dL/dh_{t-1} through a_t = ... + rec(h_{t-1})
            dh_next = dh * g[t]
            dh_next += rec_back(da[t], t)
    return da, dhs


def _ugrnn_forward(cp, xa, xt):
    return _ugrnn_forward_loop(xa, lambda h: h @ cp["Wh"])


def _ugrnn_backward(cp, cache, dys):
    wh_t = cp["Wh"].T
    # a_t = ... + h_{t-1} Wh  =>  dh_{t-1} += da_t Wh^T
    da, dhs = _ugrnn_backward_loop(cache, dys, lambda d, t: d @ wh_t)
    return da, _dense_grad(cache[1][:-1], da), dhs


def _convugrnn_forward(cp, xa, xt):
    convs = []  # each step's im2col, for conv2d_backward

    def rec(h):
        out, conv_cache = conv2d_forward(h, cp["Wh"], None, 1, _pad(cp))
        convs.append(conv_cache)
        return out

    hs, cache = _ugrnn_forward_loop(xa, rec)
    return hs, (cache, convs)


def _convugrnn_backward(cp, cache, dys):
    cache, convs = cache
    dwh = np.zeros_like(cp["Wh"])

    def rec_back(d, t):
        # a_t = ... + conv(h_{t-1}, Wh)  =>  dh_{t-1} += conv^T(da_t), dWh += (h_{t-1} * da_t)
        dh, dw, _ = conv2d_backward(d, convs[t])
        dwh[...] += dw
        return dh

    da, dhs = _ugrnn_backward_loop(cache, dys, rec_back)
    # t = 0 (h_{-1} = 0) contributes nothing to dWh, so skipping it in the loop is exact
    return da, dwh, dhs


def _plusrnn_forward(cp, xa, xt):
    """y' = relu, h' = tanh, gy, gh = sig of a_t; y_t = gy x_t + (1 - gy) y',
    h_t = gh h_{t-1} + (1 - gh) h' (Collins et al. 2017). The loss reads y_t, the recurrence h_t.
    """
    T, N, G = xa.shape
    H = G // 4
    acts = np.empty_like(xa)  # blocks [y', h', gy, gh]
    hs = np.zeros((T + 1, N, H), xa.dtype)
    ys = np.empty((T, N, H), xa.dtype)
    for t in range(T):
        a = xa[t] + hs[t] @ cp["Wh"]
        s = acts[t]
        yp, hp, gy, gh = s[:, :H], s[:, H : 2 * H], s[:, 2 * H : 3 * H], s[:, 3 * H :]
        np.maximum(a[:, :H], 0, out=yp)
        np.tanh(a[:, H : 2 * H], out=hp)
        _sigmoid(a[:, 2 * H :], out=s[:, 2 * H :])
        np.subtract(xt[t], yp, out=ys[t])  # y_t = y' + gy (x_t - y')
        ys[t] *= gy
        ys[t] += yp
        np.subtract(hs[t], hp, out=hs[t + 1])  # h_t = h' + gh (h_{t-1} - h')
        hs[t + 1] *= gh
        hs[t + 1] += hp
    return ys, (acts, hs, xt)


def _plusrnn_backward(cp, cache, dys):
    acts, hs, xt = cache
    T, N, G = acts.shape
    H = G // 4
    wh_t = cp["Wh"].T
    yp, hp, gy, gh = np.moveaxis(acts.reshape(T, N, 4, H), 2, 0)
    # y_t = gy x_t + (1 - gy) y'       =>  dy' = dy_t (1 - gy), dgy = dy_t (x_t - y');
    # h_t = gh h_{t-1} + (1 - gh) h'   =>  dh' = dh_t (1 - gh), dgh = dh_t (h_{t-1} - h');
    # then relu'(a) = [a > 0] = [y' > 0], tanh' = 1 - h'^2, sigma' = s (1 - s).
    da = np.empty_like(acts)
    da4 = da.reshape(T, N, 4, H)
    da4[:, :, 0] = (1 - gy) * (yp > 0)
    da4[:, :, 1] = (1 - gh) * (1 - hp * hp)
    da4[:, :, 2] = (xt - yp) * gy * (1 - gy)
    da4[:, :, 3] = (hs[:-1] - hp) * gh * (1 - gh)
    # y_t feeds only the loss, so its blocks [y', gy] take dy_t for all t at once
    da4[:, :, 0::2] *= dys[:, :, None]
    dhs = np.empty_like(dys)
    dh_next = np.zeros_like(dys[0])
    for t in reversed(range(T)):
        # h_t feeds only step t + 1 (directly and via a_{t+1}); dh_{T-1} = 0
        dh = dhs[t] = dh_next
        da4[t, :, 1::2] *= dh[:, None]
        # dh_{t-1} = dh_t gh (direct) + da_t Wh^T (all four blocks read h_{t-1})
        dh_next = dh * gh[t]
        dh_next += da[t] @ wh_t
    return da, _dense_grad(hs[:-1], da), dhs


_CELL_FNS = {
    "vanilla": (_vanilla_forward, _vanilla_backward),
    "lstm": (_lstm_forward, _lstm_backward),
    "gru": (_gru_forward, _gru_backward),
    "ugrnn": (_ugrnn_forward, _ugrnn_backward),
    "plusrnn": (_plusrnn_forward, _plusrnn_backward),
    "convugrnn": (_convugrnn_forward, _convugrnn_backward),
}


# ---------------------------------------------------------------------------- public API


def _run(params, batch, cell, last_only):
    """Forward pass: the loss and everything the backward pass needs."""
    _check_cell(cell)
    x, targets = batch
    cp = params["cell"]
    if cell == "plusrnn" and x.shape[-1] != cp["Wh"].shape[0]:
        raise ValueError(f"+RNN needs D == H, got x {x.shape} and Wh {cp['Wh'].shape}.")
    xt = np.ascontiguousarray(np.swapaxes(x, 0, 1))  # time-major (T, N, ...)
    xa, proj_cache = _project(cp, xt, cell == "convugrnn")
    ys, cache = _CELL_FNS[cell][0](cp, xa, xt)
    value, dz = _output(params, ys, targets, last_only)
    return value, (xt, proj_cache, ys, cache, dz)


def _backprop(params, last_only, fwd, backward):
    """Gradients (same pytree, shapes and dtypes as params) and dL/dh_t, time-major."""
    xt, proj_cache, ys, cache, dz = fwd
    dys, gout = _output_back(params, ys, dz, last_only)
    da, dwh, dhs = backward(params["cell"], cache, dys)
    dwx, db = _project_back(xt, da, proj_cache)
    grads = {"cell": {"Wx": dwx, "Wh": dwh, "b": db}}
    if gout is not None:
        grads["out"] = gout
    grads = {
        m: {k: v.astype(params[m][k].dtype, copy=False) for k, v in gm.items()}
        for m, gm in grads.items()
    }
    return grads, dhs


def loss(params: dict, batch: tuple, cell: str, last_only: bool = False) -> float:
    """SPEC.md loss of ``cell`` on ``batch = (x, targets)``, a Python float."""
    return _run(params, batch, cell, last_only)[0]


def loss_and_grads(
    params: dict, batch: tuple, cell: str, last_only: bool = False
) -> tuple[float, dict]:
    """Loss and its gradient w.r.t. every parameter (same structure, shapes and dtypes).

    >>> rng = np.random.default_rng(0)
    >>> p = init_params(rng, "gru", 3, 4, 2)
    >>> batch = make_batch(rng, "gru", 5, 6, 3, 4, 2)
    >>> value, grads = loss_and_grads(p, batch, "gru")
    >>> value == loss(p, batch, "gru"), grads["cell"]["Wh"].shape
    (True, (4, 12))
    """
    value, fwd = _run(params, batch, cell, last_only)
    return value, _backprop(params, last_only, fwd, _CELL_FNS[cell][1])[0]


def bptt_hidden_grads(params: dict, batch: tuple, cell: str, last_only: bool = False) -> np.ndarray:
    """dL/dh_t for every t, (N, T, H) ((N, T, K, Hh, Ww) for convugrnn), over all paths.

    h_t is the recurrent state (for +RNN not y_t, so dL/dh_{T-1} = 0 there). With
    ``last_only=True`` the norms over t show vanishing or exploding gradients.

    >>> rng = np.random.default_rng(0)
    >>> p = init_params(rng, "vanilla", 3, 4, 2)
    >>> bptt_hidden_grads(p, make_batch(rng, "vanilla", 5, 6, 3, 4, 2), "vanilla").shape
    (5, 6, 4)
    """
    _, fwd = _run(params, batch, cell, last_only)
    dhs = _backprop(params, last_only, fwd, _CELL_FNS[cell][1])[1]
    return np.ascontiguousarray(np.swapaxes(dhs, 0, 1))


def lstm_loss_and_grads_planted(
    params: dict, batch: tuple, last_only: bool = False, mistake: str = "dh_recurrent"
) -> tuple[float, dict]:
    """LSTM ``loss_and_grads`` with a published-style BPTT mistake, for testing checkers.

    ``mistake="dh_recurrent"`` drops da_t Wh^T from dh_{t-1}; ``"dc_forget"`` drops
    dc_{t-1} = dc_t f_t. The loss is right; the gradients are wrong whenever T >= 2.

    >>> rng = np.random.default_rng(0)
    >>> p, batch = init_params(rng, "lstm", 3, 4, 2), make_batch(rng, "lstm", 5, 6, 3, 4, 2)
    >>> good = loss_and_grads(p, batch, "lstm")[1]["cell"]["Wh"]
    >>> bool(np.allclose(lstm_loss_and_grads_planted(p, batch)[1]["cell"]["Wh"], good))
    False
    """
    if mistake not in _MISTAKES:
        raise ValueError(f"unknown mistake {mistake!r}; use one of {_MISTAKES}.")
    value, fwd = _run(params, batch, "lstm", last_only)
    backward = functools.partial(_lstm_backward, mistake=mistake)
    return value, _backprop(params, last_only, fwd, backward)[0]
