"""Pytrees: nested dicts, lists and tuples whose leaves are arrays or scalars.

``tree_flatten`` returns the leaves in a fixed order (dicts by sorted key) and a
``TreeDef`` that ``tree_unflatten`` uses to rebuild the same structure.
``None`` is an empty subtree, as in JAX.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["TreeDef", "tree_flatten", "tree_unflatten", "tree_map", "tree_leaves", "tree_structure"]


class TreeDef:
    """The structure of a pytree without its leaves."""

    __slots__ = ("kind", "meta", "children", "num_leaves")

    def __init__(self, kind: str, meta: Any, children: tuple[TreeDef, ...]):
        self.kind = kind  # "leaf", "none", "tuple", "list", "dict", "namedtuple"
        self.meta = meta  # dict keys or namedtuple type
        self.children = children
        self.num_leaves = 1 if kind == "leaf" else sum([c.num_leaves for c in children])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TreeDef)
            and self.kind == other.kind
            and self.meta == other.meta
            and self.children == other.children
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.children))

    def __repr__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(repr(c) for c in self.children)
        if self.kind == "dict":
            inner = ", ".join(
                f"{k!r}: {c!r}" for k, c in zip(self.meta, self.children, strict=False)
            )
            return "{" + inner + "}"
        return {"tuple": f"({inner})", "list": f"[{inner}]"}.get(self.kind, f"{self.meta}({inner})")


_LEAF = TreeDef("leaf", None, ())
_NONE = TreeDef("none", None, ())
_ndarray = np.ndarray


def _flatten(tree: Any, leaves: list) -> TreeDef:
    t = type(tree)
    if t is dict:
        keys = sorted(tree)
        return TreeDef("dict", tuple(keys), _children([tree[k] for k in keys], leaves))
    if t is list:
        return TreeDef("list", None, _children(tree, leaves))
    if t is tuple:
        return TreeDef("tuple", None, _children(tree, leaves))
    if tree is None:
        return _NONE
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return TreeDef("namedtuple", t, _children(tree, leaves))
    if isinstance(tree, dict):
        keys = sorted(tree)
        return TreeDef("dict", tuple(keys), _children([tree[k] for k in keys], leaves))
    leaves.append(tree)
    return _LEAF


def _children(items: Any, leaves: list) -> tuple[TreeDef, ...]:
    defs = []
    for x in items:
        if type(x) is _ndarray:  # the common leaf, without a call
            leaves.append(x)
            defs.append(_LEAF)
        else:
            defs.append(_flatten(x, leaves))
    return tuple(defs)


def tree_flatten(tree: Any) -> tuple[list, TreeDef]:
    """Return the leaves of ``tree`` in order and its structure.

    >>> tree_flatten({"b": 1.0, "a": (2.0, [3.0])})[0]
    [2.0, 3.0, 1.0]
    """
    leaves: list = []
    return leaves, _flatten(tree, leaves)


def _unflatten(td: TreeDef, it) -> Any:
    kind = td.kind
    if kind == "leaf":
        return next(it)
    if kind == "none":
        return None
    children = [next(it) if c is _LEAF else _unflatten(c, it) for c in td.children]
    if kind == "dict":
        return dict(zip(td.meta, children, strict=False))
    if kind == "list":
        return children
    if kind == "tuple":
        return tuple(children)
    return td.meta(*children)


def tree_unflatten(treedef: TreeDef, leaves: list) -> Any:
    """Rebuild a pytree of structure ``treedef`` from ``leaves``.

    >>> leaves, td = tree_flatten([1, (2, 3)])
    >>> tree_unflatten(td, [x * 10 for x in leaves])
    [10, (20, 30)]
    """
    leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(
            f"tree_unflatten: structure {treedef} has {treedef.num_leaves} leaves, "
            f"got {len(leaves)}."
        )
    return _unflatten(treedef, iter(leaves))


def tree_leaves(tree: Any) -> list:
    """The leaves of ``tree`` in flattening order."""
    return tree_flatten(tree)[0]


def tree_structure(tree: Any) -> TreeDef:
    """The ``TreeDef`` of ``tree``."""
    return tree_flatten(tree)[1]


def tree_map(fun: Callable, tree: Any, *rest: Any) -> Any:
    """Apply ``fun`` leafwise to ``tree`` and trees of the same structure.

    >>> tree_map(lambda a, b: a + b, {"w": 1.0, "b": 2.0}, {"w": 10.0, "b": 20.0})
    {'b': 22.0, 'w': 11.0}
    """
    leaves, td = tree_flatten(tree)
    others = []
    for r in rest:
        rl, rtd = tree_flatten(r)
        if rtd != td:
            raise ValueError(f"tree_map: trees have different structures: {td} and {rtd}.")
        others.append(rl)
    return tree_unflatten(td, [fun(*xs) for xs in zip(leaves, *others, strict=False)])
