"""MNIST: IDX files, finding, verifying and downloading the data, and batching helpers.

The four MNIST files are looked up by ``find_mnist_dir`` (argument, ``$MNIST_DIR``, the user
cache, ``../shared/data/mnist`` beside the repo). Get them with ``python -m nn.data download``.
"""

from __future__ import annotations

import argparse
import gzip as _gzip
import hashlib
import os
import sys
import tempfile
import urllib.request
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "read_idx",
    "write_idx",
    "find_mnist_dir",
    "load_mnist",
    "download_mnist",
    "lenet_input",
    "batches",
    "MNIST_FILES",
    "MNIST_SHA256",
    "MIRRORS",
]

# IDX type codes (third magic byte); all multi-byte values are big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_GZ_NAMES = [name + ".gz" for pair in MNIST_FILES.values() for name in pair]

# The .gz lines are shared/data/mnist/SHA256SUMS verbatim (files identical to LeCun's page);
# the others are the same files decompressed, for users who gunzipped them.
_SHA256SUMS = """
440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609  train-images-idx3-ubyte.gz
3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c  train-labels-idx1-ubyte.gz
8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6  t10k-images-idx3-ubyte.gz
f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6  t10k-labels-idx1-ubyte.gz
ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte
"""
MNIST_SHA256 = {name: digest for digest, name in map(str.split, _SHA256SUMS.strip().splitlines())}

# shared/data/mnist beside the repository root (this file is <root>/nn/data.py).
_REPO_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"

# Tried in order; each serves the original .gz files (same SHA-256).
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

_GET_DATA = (
    "Get the data with `python -m nn.data download` (saves to {cache}) "
    "or set MNIST_DIR to a folder holding the four files."
)


def _parse_idx(data: bytes, name: str | os.PathLike) -> np.ndarray:
    if data[:2] == b"\x1f\x8b":
        try:
            data = _gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{name}: corrupt or truncated gzip data ({e}).") from e
    if len(data) < 4:
        raise ValueError(f"{name}: {len(data)} bytes is too short for an IDX header (4 bytes).")
    if data[:2] != b"\x00\x00":
        raise ValueError(
            f"{name}: wrong magic number {data[:4].hex()}; an IDX file starts with 0000, "
            "then a type code and the number of dimensions."
        )
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise ValueError(f"{name}: unknown IDX type code 0x{code:02X}; expected one of {known}.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: truncated header, {ndim} dimensions need {header} bytes.")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape)) * dtype.itemsize
    found = len(data) - header
    if found < expected:
        raise ValueError(
            f"{name}: truncated file, shape {shape} needs {expected} bytes of data, found {found}."
        )
    if found > expected:
        raise ValueError(
            f"{name}: {found - expected} trailing bytes after the {expected} bytes "
            f"of shape {shape}."
        )
    arr = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzip-compressed (detected by its magic bytes) or raw.

    Returns a native-endian array of the stored shape; raises ``ValueError`` on a bad magic
    number or type code, a truncated file or trailing bytes.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.idx")
    >>> write_idx(p, np.arange(6, dtype=np.int16).reshape(2, 3), gzip=True)
    >>> read_idx(p)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=int16)
    """
    return _parse_idx(Path(path).read_bytes(), path)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_idx(path: str | os.PathLike, array: ArrayLike, gzip: bool = False) -> None:
    """Write ``array`` as an IDX file (gzip-compressed if ``gzip``), replacing ``path`` atomically.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "y.idx")
    >>> write_idx(p, np.zeros((2, 28, 28), np.uint8))
    >>> os.path.getsize(p)
    1584
    """
    arr = np.asarray(array)
    code = _IDX_CODES.get(arr.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(
            f"write_idx: IDX cannot store dtype {arr.dtype}; cast to one of "
            "uint8, int8, int16, int32, float32, float64."
        )
    if arr.ndim > 255 or any(d >= 2**32 for d in arr.shape):
        raise ValueError(f"write_idx: shape {arr.shape} does not fit the IDX header.")
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    data = header + arr.astype(_IDX_DTYPES[code], copy=False).tobytes()
    if gzip:
        data = _gzip.compress(data, mtime=0)
    _atomic_write(Path(path), data)


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "autodiff" / "mnist"


def _missing(folder: Path) -> list[str]:
    """Names of the MNIST files that ``folder`` lacks (either .gz or raw counts)."""
    return [n for n in _GZ_NAMES if not (folder / n).is_file() and not (folder / n[:-3]).is_file()]


def find_mnist_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder holding the four MNIST files.

    Looks at ``data_dir`` if given (and nowhere else), otherwise in order at ``$MNIST_DIR``,
    ``$XDG_CACHE_HOME/autodiff/mnist`` (default ``~/.cache/autodiff/mnist``) and
    ``shared/data/mnist`` beside the repository root. Raises ``FileNotFoundError`` listing
    where it looked.

    >>> find_mnist_dir().name
    'mnist'
    """
    if data_dir is not None:
        places = [("argument data_dir", Path(data_dir))]
    else:
        places = []
        if os.environ.get("MNIST_DIR"):
            places.append(("$MNIST_DIR", Path(os.environ["MNIST_DIR"])))
        places.append(("cache", _cache_dir()))
        places.append(("beside the repo", _REPO_MNIST))
    looked = []
    for what, folder in places:
        if not folder.is_dir():
            looked.append(f"  {folder} ({what}): no such folder")
        elif missing := _missing(folder):
            looked.append(f"  {folder} ({what}): missing {', '.join(missing)}")
        else:
            return folder
    raise FileNotFoundError(
        "MNIST not found. Looked in:\n"
        + "\n".join(looked)
        + "\n"
        + _GET_DATA.format(cache=_cache_dir())
    )


def _check_sha256(data: bytes, path: Path) -> None:
    expected = MNIST_SHA256[path.name]
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise ValueError(
            f"{path}: SHA-256 mismatch, expected {expected}, got {got}. The file is corrupt or "
            "not the original MNIST; delete it and run `python -m nn.data download`."
        )


def _read_mnist_file(folder: Path, name: str, verify: bool) -> np.ndarray:
    path = folder / (name + ".gz")
    if not path.is_file():
        path = folder / name
    data = path.read_bytes()
    if verify:
        _check_sha256(data, path)
    return _parse_idx(data, path)


def load_mnist(
    data_dir: str | os.PathLike | None = None, split: str = "train", verify: bool = False
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """MNIST ``images: (N, 28, 28)`` and ``labels: (N,)``, both uint8; N is 60000 or 10000.

    ``verify=True`` checks each file's SHA-256 against ``MNIST_SHA256`` first.

    >>> images, labels = load_mnist(split="test")
    >>> images.shape, labels[:5]
    ((10000, 28, 28), array([7, 2, 1, 0, 4], dtype=uint8))
    """
    if split not in MNIST_FILES:
        raise ValueError(f"load_mnist: split must be 'train' or 'test', got {split!r}.")
    folder = find_mnist_dir(data_dir)
    image_name, label_name = MNIST_FILES[split]
    images = _read_mnist_file(folder, image_name, verify)
    labels = _read_mnist_file(folder, label_name, verify)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"{folder / image_name}: expected uint8 images of shape (N, 28, 28), "
            f"got {images.dtype} {images.shape}."
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"{folder / label_name}: expected uint8 labels of shape (N,), "
            f"got {labels.dtype} {labels.shape}."
        )
    if len(images) != len(labels):
        raise ValueError(
            f"load_mnist: {split} split in {folder} has {len(images)} images "
            f"but {len(labels)} labels."
        )
    return images, labels


def _fetch(url: str, timeout: float = 60.0) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "autodiff-nn-data"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def download_mnist(dest: str | os.PathLike | None = None, mirrors: Sequence[str] = MIRRORS) -> Path:
    """Download the four MNIST .gz files into ``dest`` (default: the user cache) and return it.

    Files already present with the right SHA-256 are kept. Each file is fetched from the first
    mirror that serves it with the right SHA-256 and written atomically. Raises
    ``ConnectionError`` if no mirror could be reached, ``ValueError`` if the bytes served had
    the wrong checksum.

    >>> download_mnist(tempfile.mkdtemp(), mirrors=[])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ConnectionError: ...
    """
    folder = Path(dest) if dest is not None else _cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name in _GZ_NAMES:
        path = folder / name
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == MNIST_SHA256[name]:
            continue
        failures, bad_checksum = [], False
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            try:
                data = _fetch(url)
            except OSError as e:  # URLError, HTTPError, timeouts are all OSErrors
                failures.append(f"  {url}: {e}")
                continue
            got = hashlib.sha256(data).hexdigest()
            if got != MNIST_SHA256[name]:
                bad_checksum = True
                failures.append(f"  {url}: SHA-256 mismatch, got {got}")
                continue
            _atomic_write(path, data)
            break
        else:
            tried = "\n".join(failures) or "  (no mirrors given)"
            msg = f"download_mnist: could not fetch {name}. Tried:\n{tried}\n"
            if bad_checksum:
                raise ValueError(
                    msg + f"The expected SHA-256 is {MNIST_SHA256[name]}; the bytes served are "
                    "not the original file. Try another mirror (mirrors=...)."
                )
            raise ConnectionError(
                msg + f"If this machine is offline, copy the four MNIST .gz files into {folder} "
                "or set MNIST_DIR to a folder holding them."
            )
    return folder


def lenet_input(images: ArrayLike) -> NDArray[np.float64]:
    """LeNet-5 input ``(N, 1, 32, 32)`` from MNIST bytes ``images: (N, 28, 28)``.

    Pads by 2 pixels of background and maps byte p to x = -0.1 + 1.275 p / 255, so white
    is -0.1 and black 1.175 (LeCun et al. 1998, Sec. II-B).

    >>> x = lenet_input(np.full((1, 28, 28), 255, np.uint8))
    >>> print(x.shape, x[0, 0, 0, 0], x[0, 0, 2, 2].round(6))
    (1, 1, 32, 32) -0.1 1.175
    """
    p = np.asarray(images, dtype=np.float64)
    if p.ndim != 3:
        raise ValueError(f"lenet_input: expected images of shape (N, 28, 28), got {p.shape}.")
    p = np.pad(p, ((0, 0), (2, 2), (2, 2)))
    return (-0.1 + 1.275 * p / 255.0)[:, None]


def batches(
    rng: np.random.Generator | None, n: int, batch_size: int, shuffle: bool = True
) -> Iterator[NDArray[np.intp]]:
    """Index arrays covering ``range(n)`` in batches of ``batch_size`` (the last may be smaller).

    >>> [b.tolist() for b in batches(None, 5, 2, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    """
    if batch_size < 1:
        raise ValueError(f"batches: batch_size must be at least 1, got {batch_size}.")
    order = rng.permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def _info(data_dir: str | None) -> None:
    folder = find_mnist_dir(data_dir)
    print(f"MNIST folder: {folder}")
    for split in MNIST_FILES:
        for name in MNIST_FILES[split]:
            path = folder / (name + ".gz")
            path = path if path.is_file() else folder / name
            ok = hashlib.sha256(path.read_bytes()).hexdigest() == MNIST_SHA256[path.name]
            print(
                f"  {path.name:28s} {path.stat().st_size:>10,d} B  sha256 {'ok' if ok else 'BAD'}"
            )
        images, labels = load_mnist(folder, split)
        counts = np.bincount(labels, minlength=10)
        print(f"  {split}: images {images.shape}, mean pixel {images.mean():.3f}")
        print(f"  {split}: label counts {' '.join(str(c) for c in counts)}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nn.data download [--dest DIR]`` or ``python -m nn.data info [--data DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m nn.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    dl = sub.add_parser("download", help="download MNIST and verify its SHA-256")
    dl.add_argument("--dest", help=f"target folder (default {_cache_dir()})")
    info = sub.add_parser("info", help="show where MNIST is found and check it")
    info.add_argument("--data", help="MNIST folder (default: search, see find_mnist_dir)")
    args = parser.parse_args(argv)
    try:
        if args.command == "download":
            print(f"MNIST is in {download_mnist(args.dest)}")
        else:
            _info(args.data)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
