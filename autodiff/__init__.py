"""autodiff: reverse-mode automatic differentiation for NumPy.

>>> import autodiff.numpy as anp
>>> from autodiff import grad
>>> float(grad(lambda x: anp.tanh(x) ** 2)(0.5))
0.7864477329659274
"""

from . import (
    numpy,  # noqa: F401  installs the ndarray methods on traced values
    scipy,  # noqa: F401
)
from .api import (
    elementwise_grad,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    stop_gradient,
    value_and_grad,
    vjp,
)
from .custom import checkpoint, custom_vjp
from .derivcheck import DerivationReport, check_derivation, compare_grads
from .primitive import OPS, defop
from .testing import check_grads
from .tree import tree_flatten, tree_leaves, tree_map, tree_unflatten

__all__ = [
    "OPS",
    "DerivationReport",
    "check_derivation",
    "compare_grads",
    "check_grads",
    "checkpoint",
    "custom_vjp",
    "defop",
    "elementwise_grad",
    "grad",
    "hessian",
    "hvp",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "stop_gradient",
    "tree_flatten",
    "tree_leaves",
    "tree_map",
    "tree_unflatten",
    "value_and_grad",
    "vjp",
]
