"""Cells of notebooks/01_autodiff_tour.ipynb (built by notebooks/_build.py)."""

CELLS = [
    (
        "md",
        """
# A tour of autodiff

`autodiff` records the NumPy operations your function performs on a *tape* and sweeps
it backwards to get exact gradients. You write plain NumPy code against
`autodiff.numpy` and ask for `grad`.""",
    ),
    (
        "code",
        """
import numpy as np

import autodiff.numpy as anp
from autodiff import check_grads, grad, hessian, jacfwd, jacobian, jvp, value_and_grad

def loss(w, x, y):
    return anp.mean((anp.tanh(x @ w) - y) ** 2)

rng = np.random.default_rng(0)
w, x, y = rng.normal(size=(3, 2)), rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
g = grad(loss)(w, x, y)
print(g)""",
    ),
    (
        "md",
        """
## The same gradient by hand

The chain rule through `mean`, the square, `tanh` and the matrix product gives
`x.T @ (2 (t - y) / size * (1 - t^2))`. The tape agrees to rounding:""",
    ),
    (
        "code",
        """
t = np.tanh(x @ w)
by_hand = x.T @ (2 * (t - y) / t.size * (1 - t ** 2))
print("max difference:", np.max(np.abs(g - by_hand)))""",
    ),
    (
        "md",
        """
## Gradients of gradients

Rules are written with `autodiff.numpy` too, so the backward sweep can itself be
recorded. Here are the first four derivatives of `tanh`:""",
    ),
    (
        "code",
        """
import matplotlib.pyplot as plt

from autodiff import elementwise_grad

xs = np.linspace(-3, 3, 200)
f = anp.tanh
fig, ax = plt.subplots(figsize=(6, 3.5))
for k in range(5):
    ax.plot(xs, f(xs), label=f"order {k}")
    f = elementwise_grad(f)
ax.legend()
ax.set_title("tanh and its derivatives")""",
    ),
    (
        "md",
        """
Nested differentiation never confuses the two perturbations (the classic test case of
Siskind & Pearlmutter):""",
    ),
    (
        "code",
        """
print(grad(lambda x: x * grad(lambda y: x * y)(1.0))(3.0))   # 6.0, not 3.0""",
    ),
    (
        "md",
        """
## Forward mode

`jvp` pushes a tangent forwards with dual numbers. `jacfwd` pushes every input direction
at once; `jacobian` (reverse mode) sweeps once per output. Forward wins for few inputs,
reverse for few outputs; `hessian` is forward-over-reverse.""",
    ),
    (
        "code",
        """
W = rng.normal(size=(50, 3))


def f(v):
    return anp.sin(W @ v)


v = rng.normal(size=3)
print(jvp(f, (v,), (np.ones(3),))[1][:4])
print(np.allclose(jacfwd(f)(v), jacobian(f)(v)))
print(hessian(lambda v: anp.sum(f(v)))(v))""",
    ),
    (
        "md",
        """
## Parameters as pytrees

Arguments may be nested dicts, lists and tuples; the gradient has the same structure.
This is how `nn` keeps the parameters of a model.""",
    ),
    (
        "code",
        """
params = {"hidden": {"w": rng.normal(size=(3, 8)), "b": np.zeros(8)},
          "out": {"w": rng.normal(size=(8, 1)), "b": np.zeros(1)}}

def mlp_loss(p, x, y):
    h = anp.tanh(x @ p["hidden"]["w"] + p["hidden"]["b"])
    return anp.mean((h @ p["out"]["w"] + p["out"]["b"] - y[:, :1]) ** 2)

value, grads = value_and_grad(mlp_loss)(params, x, y)
print(value, {k: {n: a.shape for n, a in v.items()} for k, v in grads.items()})""",
    ),
    (
        "md",
        """
## Checking a derivative

`check_grads` compares reverse mode, forward mode and central finite differences through
random projections, to second order. A wrong rule does not pass:""",
    ),
    (
        "code",
        """
from autodiff import defop
check_grads(lambda w: loss(w, x, y), w)          # passes silently
bad_sin = defop(np.sin, deriv=lambda ans, x: anp.cos(x) * 1.01, register=False)
try:
    check_grads(lambda v: anp.sum(bad_sin(v)), np.array([0.3, 0.5]))
except AssertionError as e:
    print(e)""",
    ),
    (
        "md",
        """
## Your own rule: `custom_vjp`

For example, gradient clipping inside the backward pass:""",
    ),
    (
        "code",
        """
from autodiff import custom_vjp

@custom_vjp
def clip_grad(x):
    return x

clip_grad.defvjp(lambda x: (x, None), lambda res, g: (anp.clip(g, -1.0, 1.0),))
print(grad(lambda x: anp.sum(clip_grad(x) * 10.0))(np.ones(3)))""",
    ),
    (
        "md",
        """
## Memory: `checkpoint`

A checkpointed block keeps only its inputs on the tape and recomputes the rest during
the backward sweep.""",
    ),
    (
        "code",
        """
from autodiff import checkpoint
from benchmarks.timing import peak_memory

def block(v):
    for _ in range(10):
        v = anp.tanh(v * 1.1 + 0.1)
    return v

def deep(v, blk):
    for _ in range(16):
        v = blk(v)
    return anp.sum(v)

big = rng.uniform(-1, 1, 100_000)
plain = peak_memory(lambda: grad(lambda v: deep(v, block))(big))
saved = peak_memory(lambda: grad(lambda v: deep(v, checkpoint(block)))(big))
print(f"peak memory {plain / 2**20:.0f} MB -> {saved / 2**20:.0f} MB with checkpoint")""",
    ),
    (
        "md",
        """
## Clear errors

Non-scalar outputs, integer inputs and in-place mutation of traced arrays are refused
with a message that says what to do instead:""",
    ),
    (
        "code",
        """
for bad in (lambda: grad(lambda v: v * 2)(np.ones(3)),
            lambda: grad(lambda v: anp.sum(v))(np.arange(3))):
    try:
        bad()
    except TypeError as e:
        print("TypeError:", e)""",
    ),
]
