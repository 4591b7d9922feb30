"""Every public differentiable name is either a primitive in OPS or a tested composite."""

from __future__ import annotations

import glob
import os
import re

import autodiff.numpy as anp
import autodiff.scipy as asp
import nn.activations
import nn.losses
from autodiff.primitive import OPS, Primitive

HERE = os.path.dirname(__file__)
NAMESPACES = {
    "autodiff.numpy": anp,
    "autodiff.numpy.linalg": anp.linalg,
    "autodiff.numpy.fft": anp.fft,
    "autodiff.scipy.special": asp.special,
    "autodiff.scipy.stats": asp.stats,
    "autodiff.scipy.signal": asp.signal,
    "autodiff.scipy.linalg": asp.linalg,
    "autodiff.scipy.integrate": asp.integrate,
}


def _public_names(mod):
    if mod is anp:
        names = []
        for sub in anp._MODULES:
            names += list(sub.__all__)
        return names
    return list(getattr(mod, "__all__", []))


def _composite_test_text() -> str:
    text = ""
    for path in glob.glob(os.path.join(HERE, "test_*.py")):
        if path.endswith(("test_completeness.py", "test_ops.py")):
            continue
        with open(path) as f:
            text += f.read()
    return text


def test_every_public_name_is_a_primitive_or_a_tested_composite():
    prims = {id(p) for p in OPS.values()}
    text = _composite_test_text()
    untested = []
    for qual, mod in NAMESPACES.items():
        for name in _public_names(mod):
            obj = getattr(mod, name)
            if isinstance(obj, Primitive) and id(obj) in prims:
                continue
            if not callable(obj) or isinstance(obj, type):
                continue
            if not re.search(rf"[.\"']{re.escape(name)}\b", text):
                untested.append(f"{qual}.{name}")
    assert not untested, f"composites without a test in tests/autodiff/test_*.py: {untested}"


def test_every_primitive_is_reachable_or_private():
    public = set()
    for mod in NAMESPACES.values():
        for name in _public_names(mod):
            public.add(id(getattr(mod, name)))
    # nn's primitives are named "nn.<name>", and nn.activations or nn.losses has <name> public
    # (the primitive itself, or the function that checks its arguments and calls it)
    nn_public = set(nn.activations.__all__) | set(nn.losses.__all__)
    stray = [
        n
        for n, p in OPS.items()
        if id(p) not in public
        and not n.startswith("_")
        and not (n.startswith("nn.") and n[3:] in nn_public)
    ]
    # a primitive may be reachable under another public name (an alias); check by name too
    stray = [n for n in stray if not any(hasattr(m, n) for m in NAMESPACES.values())]
    assert not stray, f"primitives not exposed by any namespace: {stray}"
