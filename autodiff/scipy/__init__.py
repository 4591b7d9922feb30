"""``autodiff.scipy``: differentiable parts of SciPy (special, stats, signal, linalg, integrate)."""

from . import integrate, linalg, signal, special, stats  # noqa: F401
