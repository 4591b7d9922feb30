"""nn.checkpoint: exact round trips of pytrees, dtypes, RNG and optimiser states; no pickle."""

import numpy as np
import pytest

from autodiff.tree import tree_leaves, tree_structure
from nn import checkpoint, optim


def _assert_identical(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b) or sorted(a) == sorted(b)
        for k in a:
            _assert_identical(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_identical(x, y)
    elif isinstance(a, np.ndarray | np.generic):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


def test_round_trip_is_exact_for_every_leaf_kind(tmp_path):
    rng = np.random.default_rng(0)
    tree = {
        "params": {"C1": {"w": rng.normal(size=(2, 3)).astype(np.float32), "b": np.zeros(0)}},
        "ints": [np.arange(4, dtype=np.uint8), np.asarray(7, np.int64), np.asarray(True)],
        "complex": np.array([1 + 2j], np.complex64),
        "scalars": (np.float32(1.5), np.int16(-3), np.bool_(False), 3, 2.5, True, 1j, "text"),
        "big": [2**100 + 1, -(2**70)],
        "nothing": None,
        "empty": {"list": [], "tuple": ()},
        "nan": np.array([np.nan, -np.inf, 1e-310]),
    }
    path = tmp_path / "ck.npz"
    checkpoint.save(path, tree, {"epoch": 3, "note": "x"})
    loaded, meta = checkpoint.load(path)
    _assert_identical(tree, loaded)
    assert meta == {"epoch": 3, "note": "x"}
    with np.load(path, allow_pickle=False) as raw:  # plain arrays, keyed by pytree paths
        assert "params/C1/w" in raw.files and "ints/0" in raw.files and "scalars/7" in raw.files


def test_root_leaf_and_no_metadata(tmp_path):
    checkpoint.save(tmp_path / "a.npz", np.arange(3.0))
    value, meta = checkpoint.load(tmp_path / "a.npz")
    np.testing.assert_array_equal(value, np.arange(3.0))
    assert meta == {}


@pytest.mark.parametrize("make", [np.random.PCG64, np.random.MT19937, np.random.Philox,
                                  np.random.SFC64, np.random.PCG64DXSM])  # fmt: skip
def test_rng_state_round_trip(tmp_path, make):
    rng = np.random.Generator(make(42))
    rng.normal(size=5)
    checkpoint.save(tmp_path / "r.npz", {"rng": checkpoint.rng_state(rng)})
    restored = checkpoint.rng_from_state(checkpoint.load(tmp_path / "r.npz")[0]["rng"])
    np.testing.assert_array_equal(rng.normal(size=10), restored.normal(size=10))
    assert rng.integers(2**62) == restored.integers(2**62)


@pytest.mark.parametrize("opt", [optim.adam(1e-2), optim.nadam(), optim.sdlm(0.1),
                                 optim.gradient_noise(optim.sgd(0.1), rng=1)],
                         ids=["adam", "nadam", "sdlm", "noise"])  # fmt: skip
def test_optimizer_state_round_trip_continues_identically(tmp_path, opt):
    params = {"w": np.array([1.0, -2.0], np.float32), "b": [np.array(0.5)]}
    state = opt.init(params)
    if "hessian_set" in state:
        state = optim.sdlm_set_hessian(state, {"w": np.ones(2, np.float32), "b": [np.array(2.0)]})

    def grads(p):
        return {"w": 2 * p["w"], "b": [p["b"][0] - 1]}

    for _ in range(3):
        params, state = opt.update(grads(params), state, params)
    checkpoint.save(tmp_path / "o.npz", {"params": params, "state": state})
    loaded, _ = checkpoint.load(tmp_path / "o.npz")
    _assert_identical({"params": params, "state": state}, loaded)
    assert tree_structure(loaded["state"]) == tree_structure(state)
    p1, s1 = opt.update(grads(params), state, params)
    p2, s2 = opt.update(grads(loaded["params"]), loaded["state"], loaded["params"])
    for a, b in zip(tree_leaves((p1, s1)), tree_leaves((p2, s2)), strict=True):
        np.testing.assert_array_equal(a, b)


def test_save_rejects_what_cannot_be_loaded_without_pickle(tmp_path):
    with pytest.raises(TypeError, match="object array"):
        checkpoint.save(tmp_path / "x.npz", {"a": np.array([1, "x", None], dtype=object)})
    with pytest.raises(TypeError, match="leaves must be arrays"):
        checkpoint.save(tmp_path / "x.npz", {"a": object()})
    with pytest.raises(ValueError, match="without '/'"):
        checkpoint.save(tmp_path / "x.npz", {"a/b": np.zeros(1)})
    with pytest.raises(ValueError, match="keys must be non-empty strings"):
        checkpoint.save(tmp_path / "x.npz", {1: np.zeros(1)})
    with pytest.raises(TypeError, match="namedtuple"):
        checkpoint.save(tmp_path / "x.npz", optim.sgd(0.1))
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_load_rejects_foreign_files_and_pickles(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not written by nn.checkpoint.save"):
        checkpoint.load(tmp_path / "plain.npz")
    np.savez(tmp_path / "obj.npz", __tree__=np.array('{"t": "leaf", "kind": "array"}'),
             __root__=np.array([None], dtype=object))  # fmt: skip
    with pytest.raises(ValueError, match="allow_pickle"):
        checkpoint.load(tmp_path / "obj.npz")
