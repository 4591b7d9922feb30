"""Sequence tasks that need no download: the adding problem and sequential MNIST.

Both return batch-first arrays ``x: (N, T, D)`` for ``nn.models.rnn``; ``patch_grid`` turns
images into the (N, R, C, D) grid that the 2-D sLSTM scans.
"""

from __future__ import annotations

import os

import numpy as np
from numpy.typing import DTypeLike, NDArray

from nn.data import load_mnist

__all__ = ["ADDING_BASELINE_MSE", "adding_problem", "sequential_mnist", "patch_grid"]

# Var(u1 + u2) for u1, u2 ~ U[0, 1]: the MSE of always predicting the mean 1
ADDING_BASELINE_MSE = 2.0 / 12.0


def adding_problem(
    rng: np.random.Generator, n: int, T: int, dtype: DTypeLike = np.float64
) -> tuple[NDArray, NDArray]:
    """The adding problem (Hochreiter & Schmidhuber 1997, Exp. 4; this form Le et al. 2015).

    Each step carries (u_t ~ U[0, 1], m_t); m_t is 1 at one step drawn in the first half of
    the sequence and one in the second half, else 0. The target is the sum of the two marked
    u_t, so predicting the mean 1 has MSE Var(u1 + u2) = 1/6 (``ADDING_BASELINE_MSE``); only a
    net that remembers a number across up to T steps does better.

    Returns x: (n, T, 2) and y: (n, 1).

    >>> x, y = adding_problem(np.random.default_rng(0), 3, 10)
    >>> x.shape, y.shape, x[..., 1].sum(axis=1).tolist()
    ((3, 10, 2), (3, 1), [2.0, 2.0, 2.0])
    """
    if T < 2:
        raise ValueError(f"adding_problem: T must be at least 2 (one marker per half), got {T}.")
    u = rng.uniform(0.0, 1.0, (n, T))
    half = T // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, T, n)
    m = np.zeros((n, T))
    rows = np.arange(n)
    m[rows, first] = 1.0
    m[rows, second] = 1.0
    x = np.stack([u, m], axis=-1).astype(dtype)
    y = (u[rows, first] + u[rows, second])[:, None].astype(dtype)
    return x, y


def sequential_mnist(
    data_dir: str | os.PathLike | None = None,
    split: str = "train",
    n: int | None = None,
    rng: np.random.Generator | None = None,
    dtype: DTypeLike = np.float64,
) -> tuple[NDArray, NDArray[np.int64]]:
    """MNIST read row by row: x: (N, 28, 28), step t is image row t scaled to [0, 1]; labels (N,).

    ``n`` keeps a subset: a random one if ``rng`` is given, else the first ``n`` images.
    Images come from ``nn.data.load_mnist(data_dir, split)``.
    """
    images, labels = load_mnist(data_dir, split)
    if n is not None and n < len(images):
        idx = rng.choice(len(images), n, replace=False) if rng is not None else np.arange(n)
        images, labels = images[idx], labels[idx]
    return (images / np.asarray(255.0, dtype)).astype(dtype), labels.astype(np.int64)


def patch_grid(images: NDArray, patch: int) -> NDArray:
    """Cut images (N, Hh, Ww) into a grid of patch x patch tiles: (N, Hh/p, Ww/p, p*p).

    Tile (i, j) holds the pixels of rows i p .. i p + p - 1 and columns j p .. j p + p - 1,
    row by row, the per-position input of ``nn.models.rnn.slstm``.

    >>> x = np.arange(16.0).reshape(1, 4, 4)
    >>> g = patch_grid(x, 2)
    >>> g.shape, g[0, 0, 1].tolist()
    ((1, 2, 2, 4), [2.0, 3.0, 6.0, 7.0])
    """
    N, Hh, Ww = images.shape
    if patch < 1 or Hh % patch or Ww % patch:
        raise ValueError(
            f"patch_grid: the patch size must divide the image size {Hh}x{Ww}, got {patch} "
            "(for 28x28 MNIST use 1, 2, 4, 7, 14 or 28)."
        )
    g = images.reshape(N, Hh // patch, patch, Ww // patch, patch).swapaxes(2, 3)
    return g.reshape(N, Hh // patch, Ww // patch, patch * patch)
