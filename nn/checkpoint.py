"""Save and load pytrees of arrays (parameters, optimiser states, RNG states) as ``.npz``.

Each leaf is stored under its path in the tree (``"params/C1/w"``, ``"opt/hdiag/F6/b"``,
list and tuple items by index), so the file is readable with plain ``np.load``. The structure
(dict/list/tuple/None, and the Python type of each leaf) is kept as JSON under ``__tree__`` and
the metadata under ``__metadata__``; loading uses ``allow_pickle=False`` and restores every
leaf with its exact dtype and value. Python ints of any size (the 128-bit PCG64 state) are
stored as arrays of 64-bit limbs, so a ``np.random.Generator`` round-trips too
(``rng_state`` / ``rng_from_state``).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["save", "load", "rng_state", "rng_from_state"]

_TREE, _META, _ROOT = "__tree__", "__metadata__", "__root__"
_MASK64 = (1 << 64) - 1


def _int_to_array(v: int) -> tuple[str, np.ndarray]:
    if -(2**63) <= v < 2**63:
        return "int", np.asarray(v, np.int64)
    limbs, a = [], abs(v)
    while a:
        limbs.append(a & _MASK64)
        a >>= 64
    return ("int:-limbs" if v < 0 else "int:limbs"), np.asarray(limbs, np.uint64)


def _array_to_int(kind: str, arr: np.ndarray) -> int:
    if kind == "int":
        return int(arr)
    v = sum(int(limb) << (64 * i) for i, limb in enumerate(arr.tolist()))
    return -v if kind == "int:-limbs" else v


def _encode_leaf(x: Any, path: str) -> tuple[str, np.ndarray]:
    if isinstance(x, bool | np.bool_) and not isinstance(x, np.ndarray):
        return ("bool" if isinstance(x, bool) else "scalar"), np.asarray(x)
    if isinstance(x, int) and not isinstance(x, np.generic):
        return _int_to_array(x)
    if isinstance(x, float) and not isinstance(x, np.generic):
        return "float", np.asarray(x, np.float64)
    if isinstance(x, complex) and not isinstance(x, np.generic):
        return "complex", np.asarray(x, np.complex128)
    if isinstance(x, str):
        return "str", np.asarray(x)
    if isinstance(x, np.generic):
        return "scalar", np.asarray(x)
    if isinstance(x, np.ndarray):
        if x.dtype.hasobject:
            raise TypeError(
                f"checkpoint.save: leaf {path!r} is an object array, which cannot be loaded "
                "without pickle; store numeric or string arrays."
            )
        return "array", x
    raise TypeError(
        f"checkpoint.save: leaf {path!r} has type {type(x).__name__}; leaves must be arrays, "
        "NumPy scalars, or Python int/float/bool/complex/str. Convert it (np.asarray) first."
    )


def _encode(tree: Any, path: str, arrays: dict) -> dict:
    t = type(tree)
    if tree is None:
        return {"t": "none"}
    if t is dict:
        keys = sorted(tree)
        for k in keys:
            if not isinstance(k, str) or not k or "/" in k or k.startswith("__"):
                raise ValueError(
                    f"checkpoint.save: dict key {k!r} at {path or '/'!r} cannot be a path part; "
                    "keys must be non-empty strings without '/' that do not start with '__'."
                )
        children = [_encode(tree[k], f"{path}/{k}" if path else k, arrays) for k in keys]
        return {"t": "dict", "k": keys, "c": children}
    if t is list or t is tuple:
        children = [
            _encode(v, f"{path}/{i}" if path else str(i), arrays) for i, v in enumerate(tree)
        ]
        return {"t": t.__name__, "c": children}
    if isinstance(tree, tuple | dict):
        raise TypeError(
            f"checkpoint.save: {type(tree).__name__} at {path or '/'!r} is not a plain dict, "
            "list or tuple; convert it (e.g. namedtuple._asdict(), dict(...)) before saving."
        )
    key = path or _ROOT
    kind, arr = _encode_leaf(tree, key)
    arrays[key] = arr
    return {"t": "leaf", "kind": kind}


def save(path: str | os.PathLike, tree: Any, metadata: dict | None = None) -> None:
    """Write ``tree`` (and JSON-serialisable ``metadata``) to the ``.npz`` file ``path``.

    The file is written to a temporary name and then renamed, so an interrupted save never
    leaves a truncated checkpoint behind.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "ck.npz")
    >>> save(p, {"w": np.ones(2, np.float32), "step": 3}, {"epoch": 1})
    >>> load(p)
    ({'step': 3, 'w': array([1., 1.], dtype=float32)}, {'epoch': 1})
    """
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(tree, "", arrays)
    arrays[_TREE] = np.asarray(json.dumps(structure))
    arrays[_META] = np.asarray(json.dumps({} if metadata is None else metadata))
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _decode(spec: dict, path: str, data: Any) -> Any:
    t = spec["t"]
    if t == "none":
        return None
    if t == "dict":
        return {
            k: _decode(c, f"{path}/{k}" if path else k, data)
            for k, c in zip(spec["k"], spec["c"], strict=True)
        }
    if t in ("list", "tuple"):
        items = [
            _decode(c, f"{path}/{i}" if path else str(i), data) for i, c in enumerate(spec["c"])
        ]
        return items if t == "list" else tuple(items)
    key = path or _ROOT
    if key not in data:
        raise ValueError(f"checkpoint.load: the file lists leaf {key!r} but has no array for it.")
    arr = data[key]
    kind = spec["kind"]
    if kind == "array":
        return arr
    if kind == "scalar":
        return arr[()]
    if kind.startswith("int"):
        return _array_to_int(kind, arr)
    return {"float": float, "complex": complex, "bool": bool, "str": str}[kind](arr[()])


def load(path: str | os.PathLike) -> tuple[Any, dict]:
    """``(tree, metadata)`` from a file written by ``save`` (no pickle is ever loaded).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "ck.npz")
    >>> save(p, [np.arange(3), (None, 2.5)])
    >>> load(p)[0]
    [array([0, 1, 2]), (None, 2.5)]
    """
    with np.load(path, allow_pickle=False) as data:
        if _TREE not in data:
            raise ValueError(
                f"checkpoint.load: {path} has no {_TREE!r} entry; it was not written by "
                "nn.checkpoint.save."
            )
        structure = json.loads(str(data[_TREE]))
        metadata = json.loads(str(data[_META])) if _META in data else {}
        return _decode(structure, "", data), metadata


def rng_state(rng: np.random.Generator) -> dict:
    """The state of ``rng`` as a pytree of strings and ints, which ``save`` stores as arrays.

    >>> rng = np.random.default_rng(0)
    >>> rng_state(rng)["bit_generator"]
    'PCG64'
    """
    return rng.bit_generator.state


def rng_from_state(state: dict) -> np.random.Generator:
    """A ``np.random.Generator`` continuing exactly from ``state`` (from ``rng_state``).

    >>> rng = np.random.default_rng(0)
    >>> s = rng_state(rng)
    >>> bool(rng.random() == rng_from_state(s).random())
    True
    """
    name = state["bit_generator"]
    bit_generator_cls = getattr(np.random, name, None)
    if not isinstance(bit_generator_cls, type) or not issubclass(
        bit_generator_cls, np.random.BitGenerator
    ):
        raise ValueError(f"rng_from_state: unknown bit generator {name!r}.")
    bit_generator = bit_generator_cls()
    bit_generator.state = state
    return np.random.Generator(bit_generator)
