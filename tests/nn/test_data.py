"""Tests for nn.data: IDX files, locating, loading, verifying and downloading MNIST."""

import gzip
import hashlib
import io
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from nn import data
from nn.data import (
    batches,
    download_mnist,
    find_mnist_dir,
    lenet_input,
    load_mnist,
    read_idx,
    write_idx,
)

REAL_MNIST = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
GZ_NAMES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]
TYPE_CODES = [
    (np.uint8, 0x08),
    (np.int8, 0x09),
    (np.int16, 0x0B),
    (np.int32, 0x0C),
    (np.float32, 0x0D),
    (np.float64, 0x0E),
]


def fake_mnist(folder, n_train=6, n_test=4, gz=True):
    """Write small but well-formed MNIST files into ``folder``; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        suffix = ".gz" if gz else ""
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gzip=gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gzip=gz)
    return folder


@pytest.fixture
def no_mnist(tmp_path, monkeypatch):
    """Point every MNIST search location at empty folders."""
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(data, "_REPO_MNIST", tmp_path / "repo" / "shared" / "data" / "mnist")
    return tmp_path


# IDX reading and writing


@pytest.mark.parametrize("dtype,code", TYPE_CODES)
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip_every_type_code(tmp_path, dtype, code, compress):
    rng = np.random.default_rng(1)
    arr = (rng.standard_normal((3, 4, 2)) * 100).astype(dtype)
    path = tmp_path / "a.idx"
    write_idx(path, arr, gzip=compress)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == compress
    header = gzip.decompress(raw)[:16] if compress else raw[:16]
    assert header == bytes([0, 0, code, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 2])
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_idx_is_big_endian(tmp_path):
    write_idx(tmp_path / "a", np.array([1, 258], np.int16))
    assert (tmp_path / "a").read_bytes()[8:] == b"\x00\x01\x01\x02"


def test_read_idx_detects_gzip_by_magic_not_extension(tmp_path):
    arr = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "compressed.idx", arr, gzip=True)
    write_idx(tmp_path / "raw.gz", arr, gzip=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "compressed.idx"), arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "raw.gz"), arr)


def test_read_idx_rejects_truncated_payload(tmp_path):
    path = tmp_path / "t.idx"
    write_idx(path, np.zeros((2, 3), np.int32))
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"t\.idx: truncated file, shape \(2, 3\) needs 24 bytes"):
        read_idx(path)


def test_read_idx_rejects_truncated_gzip(tmp_path):
    path = tmp_path / "t.gz"
    write_idx(path, np.arange(1000, dtype=np.float64), gzip=True)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        read_idx(path)


def test_read_idx_rejects_truncated_header(tmp_path):
    path = tmp_path / "h.idx"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0, 0, 1]))
    with pytest.raises(ValueError, match="truncated header, 3 dimensions need 16 bytes"):
        read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="too short for an IDX header"):
        read_idx(path)


def test_read_idx_rejects_wrong_magic(tmp_path):
    path = tmp_path / "m.idx"
    path.write_bytes(bytes([1, 2, 8, 1, 0, 0, 0, 1, 7]))
    with pytest.raises(ValueError, match=r"m\.idx: wrong magic number 01020801"):
        read_idx(path)


def test_read_idx_rejects_unknown_type_code(tmp_path):
    path = tmp_path / "c.idx"
    path.write_bytes(bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 7]))
    with pytest.raises(ValueError, match="unknown IDX type code 0x0A"):
        read_idx(path)


def test_read_idx_rejects_trailing_bytes(tmp_path):
    path = tmp_path / "x.idx"
    write_idx(path, np.zeros(4, np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00\x00")
    with pytest.raises(ValueError, match="2 trailing bytes after the 4 bytes"):
        read_idx(path)


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="cannot store dtype int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))


def test_write_idx_accepts_big_endian_input(tmp_path):
    arr = np.arange(5, dtype=">f4")
    write_idx(tmp_path / "x", arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), arr)


# Finding and loading MNIST


def test_find_mnist_dir_prefers_argument_then_env_then_cache_then_repo(no_mnist, monkeypatch):
    arg = fake_mnist(no_mnist / "arg")
    env = fake_mnist(no_mnist / "env")
    cache = fake_mnist(no_mnist / "xdg" / "autodiff" / "mnist")
    repo = fake_mnist(data._REPO_MNIST)
    monkeypatch.setenv("MNIST_DIR", str(env))
    assert find_mnist_dir(arg) == arg
    assert find_mnist_dir() == env
    monkeypatch.delenv("MNIST_DIR")
    assert find_mnist_dir() == cache
    for f in cache.iterdir():
        f.unlink()
    assert find_mnist_dir() == repo


def test_find_mnist_dir_default_cache_is_home(no_mnist, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(no_mnist / "home"))
    home_cache = fake_mnist(no_mnist / "home" / ".cache" / "autodiff" / "mnist")
    assert find_mnist_dir() == home_cache


def test_find_mnist_dir_skips_env_folder_without_files(no_mnist, monkeypatch):
    (no_mnist / "env").mkdir()
    monkeypatch.setenv("MNIST_DIR", str(no_mnist / "env"))
    repo = fake_mnist(data._REPO_MNIST)
    assert find_mnist_dir() == repo


def test_find_mnist_dir_accepts_decompressed_files(no_mnist):
    folder = fake_mnist(no_mnist / "raw", gz=False)
    assert find_mnist_dir(folder) == folder
    images, labels = load_mnist(folder, "test")
    assert images.shape == (4, 28, 28) and labels.shape == (4,)


def test_find_mnist_dir_explicit_argument_is_not_a_fallback(no_mnist):
    fake_mnist(data._REPO_MNIST)
    with pytest.raises(FileNotFoundError, match=r"nowhere \(argument data_dir\): no such folder"):
        find_mnist_dir(no_mnist / "nowhere")


def test_find_mnist_dir_missing_data_message(no_mnist, monkeypatch):
    env = no_mnist / "env"
    env.mkdir()
    write_idx(env / "train-images-idx3-ubyte.gz", np.zeros((1, 28, 28), np.uint8), gzip=True)
    monkeypatch.setenv("MNIST_DIR", str(env))
    with pytest.raises(FileNotFoundError, match="MNIST not found") as info:
        find_mnist_dir()
    msg = str(info.value)
    assert f"{env} ($MNIST_DIR): missing train-labels-idx1-ubyte.gz" in msg
    assert "train-images-idx3-ubyte.gz," not in msg
    assert str(no_mnist / "xdg" / "autodiff" / "mnist") + " (cache): no such folder" in msg
    assert str(data._REPO_MNIST) in msg
    assert "python -m nn.data download" in msg and "MNIST_DIR" in msg


def test_load_mnist_reads_both_splits(no_mnist):
    folder = fake_mnist(no_mnist / "m")
    images, labels = load_mnist(folder)
    assert images.shape == (6, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (6,) and labels.dtype == np.uint8
    np.testing.assert_array_equal(images, read_idx(folder / "train-images-idx3-ubyte.gz"))
    assert load_mnist(folder, split="test")[0].shape == (4, 28, 28)


def test_load_mnist_rejects_count_mismatch(no_mnist):
    folder = fake_mnist(no_mnist / "m")
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8), gzip=True)
    with pytest.raises(ValueError, match="test split in .* has 4 images but 3 labels"):
        load_mnist(folder, "test")


def test_load_mnist_rejects_wrong_image_shape(no_mnist):
    folder = fake_mnist(no_mnist / "m")
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((4, 20, 20), np.uint8), gzip=True)
    with pytest.raises(ValueError, match=r"expected uint8 images of shape \(N, 28, 28\)"):
        load_mnist(folder, "test")


def test_load_mnist_rejects_wrong_label_dtype(no_mnist):
    folder = fake_mnist(no_mnist / "m")
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(4, np.int32), gzip=True)
    with pytest.raises(ValueError, match=r"expected uint8 labels of shape \(N,\), got int32"):
        load_mnist(folder, "test")


def test_load_mnist_rejects_unknown_split(no_mnist):
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'valid'"):
        load_mnist(no_mnist, "valid")


def test_load_mnist_verify_rejects_wrong_checksum(no_mnist):
    folder = fake_mnist(no_mnist / "m")
    load_mnist(folder, "test")  # well-formed, so only verification can fail
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: SHA-256 mismatch, expected"):
        load_mnist(folder, "test", verify=True)


# Downloading


@pytest.fixture
def mirror(monkeypatch):
    """A fake ``urlopen``: ``served[url]`` is bytes or an exception; ``calls`` logs the URLs."""
    served, calls = {}, []

    def urlopen(request, timeout=None):
        calls.append(request.full_url)
        got = served.get(request.full_url, urllib.error.URLError("no route to host"))
        if isinstance(got, Exception):
            raise got
        return io.BytesIO(got)

    monkeypatch.setattr(data.urllib.request, "urlopen", urlopen)
    payloads = {name: f"fake {name}".encode() for name in GZ_NAMES}
    for name, payload in payloads.items():
        monkeypatch.setitem(data.MNIST_SHA256, name, hashlib.sha256(payload).hexdigest())
    return served, calls, payloads


def test_download_mnist_falls_back_to_next_mirror(tmp_path, mirror):
    served, calls, payloads = mirror
    for name, payload in payloads.items():
        served["https://b.example/mnist/" + name] = payload
    dest = download_mnist(tmp_path / "d", mirrors=["https://a.example/", "https://b.example/mnist"])
    assert dest == tmp_path / "d"
    assert sorted(p.name for p in dest.iterdir()) == sorted(GZ_NAMES)  # no .part files left
    for name, payload in payloads.items():
        assert (dest / name).read_bytes() == payload
    assert len(calls) == 8
    download_mnist(dest, mirrors=["https://b.example/mnist"])
    assert len(calls) == 8  # files with the right checksum are not fetched again


def test_download_mnist_replaces_corrupt_file(tmp_path, mirror):
    served, calls, payloads = mirror
    for name, payload in payloads.items():
        served["https://a.example/" + name] = payload
    (tmp_path / GZ_NAMES[0]).write_bytes(b"corrupt")
    download_mnist(tmp_path, mirrors=["https://a.example/"])
    assert (tmp_path / GZ_NAMES[0]).read_bytes() == payloads[GZ_NAMES[0]]


def test_download_mnist_rejects_wrong_checksum(tmp_path, mirror):
    served, calls, payloads = mirror
    for name in payloads:
        served["https://a.example/" + name] = b"tampered"
    with pytest.raises(
        ValueError, match=r"(?s)could not fetch train-images.*SHA-256 mismatch.*expected SHA-256"
    ):
        download_mnist(tmp_path, mirrors=["https://a.example/"])
    assert list(tmp_path.iterdir()) == []


def test_download_mnist_skips_mirror_with_wrong_checksum(tmp_path, mirror):
    served, calls, payloads = mirror
    for name, payload in payloads.items():
        served["https://a.example/" + name] = b"tampered"
        served["https://b.example/" + name] = payload
    download_mnist(tmp_path, mirrors=["https://a.example/", "https://b.example/"])
    assert (tmp_path / GZ_NAMES[3]).read_bytes() == payloads[GZ_NAMES[3]]


def test_download_mnist_without_network(tmp_path, mirror):
    with pytest.raises(ConnectionError, match="no route to host") as info:
        download_mnist(tmp_path, mirrors=["https://a.example/", "https://b.example/"])
    assert "https://b.example/train-images-idx3-ubyte.gz" in str(info.value)
    assert f"copy the four MNIST .gz files into {tmp_path}" in str(info.value)


def test_cli_download_and_info(tmp_path, mirror, capsys, monkeypatch):
    served, calls, payloads = mirror
    for name, payload in payloads.items():
        served[data.MIRRORS[0] + name] = payload
    assert data.main(["download", "--dest", str(tmp_path / "d")]) == 0
    assert f"MNIST is in {tmp_path / 'd'}" in capsys.readouterr().out
    folder = fake_mnist(tmp_path / "m")
    assert data.main(["info", "--data", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "test: images (4, 28, 28)" in out and "sha256 BAD" in out
    assert data.main(["info", "--data", str(tmp_path / "none")]) == 1
    assert "error: MNIST not found" in capsys.readouterr().err


# Model helpers


def test_lenet_input_pads_and_scales():
    images = np.zeros((2, 28, 28), np.uint8)
    images[0, 0, 0], images[1, 27, 27] = 255, 51
    x = lenet_input(images)
    assert x.shape == (2, 1, 32, 32) and x.dtype == np.float64
    assert x[0, 0, 2, 2] == pytest.approx(1.175)
    assert x[1, 0, 29, 29] == pytest.approx(-0.1 + 1.275 * 51 / 255)
    assert x[0, 0, 0, 0] == pytest.approx(-0.1) and x[1, 0, 31, 31] == pytest.approx(-0.1)
    assert np.sum(x != x[0, 0, 0, 0]) == 2


def test_lenet_input_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"shape \(N, 28, 28\), got \(28, 28\)"):
        lenet_input(np.zeros((28, 28), np.uint8))


def test_batches_cover_every_index_once():
    out = list(batches(np.random.default_rng(0), 10, 4))
    assert [len(b) for b in out] == [4, 4, 2]
    assert sorted(np.concatenate(out).tolist()) == list(range(10))
    again = list(batches(np.random.default_rng(0), 10, 4))
    assert all(np.array_equal(a, b) for a, b in zip(out, again, strict=True))
    ordered = np.concatenate(list(batches(None, 10, 3, shuffle=False)))
    np.testing.assert_array_equal(ordered, np.arange(10))


def test_batches_rejects_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        list(batches(None, 10, 0))


# The real data, when the shared copy is present


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason="shared MNIST copy not present")
def test_real_mnist_test_split():
    images, labels = load_mnist(REAL_MNIST, "test", verify=True)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,)
    counts = np.bincount(labels, minlength=10)
    assert counts.sum() == 10000
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert images.mean() == pytest.approx(33.791, abs=1e-3)


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason="shared MNIST copy not present")
def test_real_mnist_checksums_match_table():
    for name in GZ_NAMES:
        digest = hashlib.sha256((REAL_MNIST / name).read_bytes()).hexdigest()
        assert digest == data.MNIST_SHA256[name]
