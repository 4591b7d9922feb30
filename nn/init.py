"""Weight initialisers: ``init(rng, shape, ...) -> array``.

Fan-in and fan-out follow the layouts of ``nn.layers``: a dense weight is ``(in, out)``, a
convolution kernel ``(out, in, kh, kw)`` (``fans``). Pass ``fan_in`` explicitly when only part
of the inputs is connected (LeNet-5's C3).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = [
    "fans",
    "lecun_uniform",
    "glorot_uniform",
    "glorot_normal",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "orthogonal",
    "zeros",
]


def fans(shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight: dense ``(in, out)``, conv ``(out, in, *kernel)``.

    >>> fans((120, 84)), fans((16, 6, 5, 5)), fans((10,))
    ((120, 84), (150, 400), (10, 10))
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[2:]))
    return shape[1] * receptive, shape[0] * receptive


def _fan_in(shape, fan_in):
    return fans(shape)[0] if fan_in is None else fan_in


def lecun_uniform(
    rng: np.random.Generator, shape: Sequence[int], fan_in=None, dtype: DTypeLike = np.float64
) -> NDArray:
    """U[-2.4/F, 2.4/F] with F the fan-in of the receiving unit, LeCun et al. (1998), App. A.

    ``fan_in`` may be an array broadcasting against ``shape`` (one fan-in per unit).

    >>> w = lecun_uniform(np.random.default_rng(0), (6, 1, 5, 5))
    >>> bool(abs(w).max() <= 2.4 / 25)
    True
    """
    fan_in = np.asarray(_fan_in(shape, fan_in), dtype=np.float64)
    return (rng.uniform(-1.0, 1.0, shape) * (2.4 / fan_in)).astype(dtype)


def glorot_uniform(
    rng: np.random.Generator, shape: Sequence[int], gain: float = 1.0, dtype: DTypeLike = np.float64
) -> NDArray:
    """U[-a, a], a = gain sqrt(6 / (fan_in + fan_out)), Glorot & Bengio (2010), eq. (16).

    >>> glorot_uniform(np.random.default_rng(0), (3, 4)).shape
    (3, 4)
    """
    fi, fo = fans(shape)
    a = gain * np.sqrt(6.0 / (fi + fo))
    return rng.uniform(-a, a, shape).astype(dtype)


def glorot_normal(
    rng: np.random.Generator, shape: Sequence[int], gain: float = 1.0, dtype: DTypeLike = np.float64
) -> NDArray:
    """N(0, gain^2 2 / (fan_in + fan_out)), the normal form of Glorot & Bengio (2010).

    >>> glorot_normal(np.random.default_rng(0), (3, 4)).dtype
    dtype('float64')
    """
    fi, fo = fans(shape)
    return (gain * np.sqrt(2.0 / (fi + fo)) * rng.standard_normal(shape)).astype(dtype)


xavier_uniform = glorot_uniform
xavier_normal = glorot_normal


def he_uniform(
    rng: np.random.Generator, shape: Sequence[int], fan_in=None, dtype: DTypeLike = np.float64
) -> NDArray:
    """U[-a, a], a = sqrt(6 / fan_in): variance 2 / fan_in, He et al. (2015) for ReLU.

    >>> bool(abs(he_uniform(np.random.default_rng(0), (6, 4))).max() <= 1.0)
    True
    """
    a = np.sqrt(6.0 / _fan_in(shape, fan_in))
    return rng.uniform(-a, a, shape).astype(dtype)


def he_normal(
    rng: np.random.Generator, shape: Sequence[int], fan_in=None, dtype: DTypeLike = np.float64
) -> NDArray:
    """N(0, 2 / fan_in), He et al. (2015), eq. (10).

    >>> he_normal(np.random.default_rng(0), (16, 6, 5, 5)).shape
    (16, 6, 5, 5)
    """
    std = np.sqrt(2.0 / _fan_in(shape, fan_in))
    return (std * rng.standard_normal(shape)).astype(dtype)


def orthogonal(
    rng: np.random.Generator, shape: Sequence[int], gain: float = 1.0, dtype: DTypeLike = np.float64
) -> NDArray:
    """A (semi-)orthogonal matrix times ``gain``, Saxe, McClelland & Ganguli (2014).

    ``shape[0]`` rows against the product of the others, from the QR decomposition of a
    Gaussian matrix with the signs of R's diagonal fixed so the result is Haar-distributed.

    >>> q = orthogonal(np.random.default_rng(0), (4, 4))
    >>> bool(np.allclose(q @ q.T, np.eye(4)))
    True
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(f"orthogonal: needs at least 2 dimensions, got shape {shape}.")
    rows, cols = shape[0], int(np.prod(shape[1:]))
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q.reshape(shape)).astype(dtype)


def zeros(
    rng: np.random.Generator | None, shape: Sequence[int], dtype: DTypeLike = np.float64
) -> NDArray:
    """Zeros (``rng`` is ignored; it is there so every initialiser has the same call).

    >>> zeros(None, (2,))
    array([0., 0.])
    """
    return np.zeros(shape, dtype)
