"""Fashion-MNIST, read offline from the files already on this machine, verified, and cached.

The grader's parent process imports this module, so it must stay torch-free: everything here is
numpy, and torch is imported only inside `FashionMNIST.as_tensors()` and the last-resort download.

Where the four IDX files are looked for, in order (the first complete set wins):

1. the `path` argument of `load_fashion_mnist`;
2. the directory in the environment variable `FASHION_MNIST_DIR`
   (either may also be a torchvision root, d2l's `root`: then `<it>/FashionMNIST/raw/` is read);
3. Debian's package `dataset-fashion-mnist`: `/usr/share/datasets/fashion-mnist/`;
4. torchvision-style roots `<root>/FashionMNIST/raw/`, for root in `$TORCHVISION_ROOT`,
   `~/.cache/torchvision`, `./data` and `../data` (d2l's default);
5. torchvision's own download into the first of those roots (needs the internet).

A place named explicitly (1 or 2) must hold the dataset: a miss there is an error, not a fall-through,
so a typo in a path never silently grades against other data.  Each directory may hold the files
gzipped (`*-ubyte.gz`) or not; torchvision's `raw/` holds both and the plain one is read first.

What is read is verified before anyone sees it: IDX magic numbers (2051 images, 2049 labels),
28 x 28 images, 60,000 / 10,000 items, images and labels of equal count, labels in 0..9 and exactly
6,000 / 1,000 items of every class.  Anything else raises `DataError` naming the file.

The decoded arrays are cached as one uncompressed `.npz` in `$MLP_AUTOGRADER_CACHE` (default
`~/.cache/mlp-autograder/`), keyed by the source files' paths, sizes and modification times, and
written atomically, so the second load costs a fraction of a second instead of a gzip decode.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from .errors import DataError

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEBIAN_DIR",
    "TEXT_LABELS",
    "FashionMNIST",
    "FashionMNISTTensors",
    "default_cache_dir",
    "load_fashion_mnist",
    "search_places",
]

#: d2l's names of the ten classes, in label order (`d2l.FashionMNIST.text_labels`).
TEXT_LABELS: Final[tuple[str, ...]] = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)

DEBIAN_DIR: Final = Path("/usr/share/datasets/fashion-mnist")

NUM_CLASSES: Final = 10
IMAGE_SIDE: Final = 28
IMAGES_MAGIC: Final = 2051
LABELS_MAGIC: Final = 2049
NUM_TRAIN: Final = 60_000
NUM_TEST: Final = 10_000

#: Bump when the cache layout or the verification changes, so old caches are never trusted.
_CACHE_VERSION: Final = 1

FIX_HINT: Final = (
    "To fix it, either install Debian's copy (`sudo apt-get install dataset-fashion-mnist`), "
    "or go online once so torchvision can download it (`python -c \"import torchvision; "
    "torchvision.datasets.FashionMNIST(root='data', download=True)\"`), "
    "or point FASHION_MNIST_DIR at a directory holding the four *-ubyte(.gz) files."
)


@dataclass(frozen=True)
class _Part:
    """One of the four IDX files: its attribute name, base file name, magic number and item count."""

    field: str
    stem: str
    magic: int
    count: int


_PARTS: Final[tuple[_Part, ...]] = (
    _Part("train_images", "train-images-idx3-ubyte", IMAGES_MAGIC, NUM_TRAIN),
    _Part("train_labels", "train-labels-idx1-ubyte", LABELS_MAGIC, NUM_TRAIN),
    _Part("test_images", "t10k-images-idx3-ubyte", IMAGES_MAGIC, NUM_TEST),
    _Part("test_labels", "t10k-labels-idx1-ubyte", LABELS_MAGIC, NUM_TEST),
)


@dataclass(frozen=True)
class FashionMNISTTensors:
    """The dataset as torch tensors: images float32 in [0, 1], n x 1 x 28 x 28; labels int64."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


@dataclass(frozen=True)
class FashionMNIST:
    """The dataset as numpy arrays: images uint8, n x 1 x 28 x 28; labels int64 in 0..9.

    The constructor does not verify anything (tests build small instances); `load_fashion_mnist`
    returns only verified data.
    """

    train_images: npt.NDArray[np.uint8]
    train_labels: npt.NDArray[np.int64]
    test_images: npt.NDArray[np.uint8]
    test_labels: npt.NDArray[np.int64]

    def as_tensors(self) -> FashionMNISTTensors:
        """Convert to float32 images scaled to [0, 1] and int64 labels (imports torch)."""
        import torch

        def images(a: npt.NDArray[np.uint8]) -> torch.Tensor:
            # Scale in numpy: the result is a fresh writable array that torch can share without a copy.
            return torch.from_numpy(np.multiply(a, np.float32(1 / 255), dtype=np.float32))

        def labels(a: npt.NDArray[np.int64]) -> torch.Tensor:
            return torch.from_numpy(np.array(a, dtype=np.int64))

        return FashionMNISTTensors(
            images(self.train_images), labels(self.train_labels),
            images(self.test_images), labels(self.test_labels),
        )


# ----------------------------------------------------------------------------------------------
# Where to look
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    """A directory to look in, why it is on the list, and whether a miss there is an error."""

    directory: Path
    origin: str
    required: bool = False


def _default_torchvision_roots(environ: Mapping[str, str]) -> list[Path]:
    roots = []
    if environ.get("TORCHVISION_ROOT"):
        roots.append(Path(environ["TORCHVISION_ROOT"]).expanduser())
    roots += [Path("~/.cache/torchvision").expanduser(), Path("data"), Path("../data")]
    return roots


def search_places(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    debian_dir: str | os.PathLike[str] | None = DEBIAN_DIR,
    torchvision_roots: Sequence[str | os.PathLike[str]] | None = None,
) -> list[tuple[Path, str]]:
    """Return the directories `load_fashion_mnist` looks in, in order, each with why it is there."""
    return [(p.directory, p.origin) for p in _places(path, environ, debian_dir, torchvision_roots)]


def _places(
    path: str | os.PathLike[str] | None,
    environ: Mapping[str, str] | None,
    debian_dir: str | os.PathLike[str] | None,
    torchvision_roots: Sequence[str | os.PathLike[str]] | None,
) -> list[_Place]:
    env = os.environ if environ is None else environ
    places = []
    if path is not None:
        places.append(_Place(_files_or_torchvision_dir(Path(path)), "the path argument", required=True))
    if env.get("FASHION_MNIST_DIR"):
        directory = _files_or_torchvision_dir(Path(env["FASHION_MNIST_DIR"]))
        places.append(_Place(directory, "$FASHION_MNIST_DIR", required=True))
    if debian_dir is not None:
        places.append(_Place(Path(debian_dir), "Debian's dataset-fashion-mnist"))
    roots = _default_torchvision_roots(env) if torchvision_roots is None else [Path(r) for r in torchvision_roots]
    places += [_Place(Path(r) / "FashionMNIST" / "raw", "a torchvision root") for r in roots]
    return places


def _files_or_torchvision_dir(directory: Path) -> Path:
    """An explicit directory may be a torchvision root (d2l's `root`): then its FashionMNIST/raw is meant."""
    directory = directory.expanduser()
    raw = directory / "FashionMNIST" / "raw"
    if raw.is_dir() and not any(directory.glob("*-ubyte*")):
        return raw
    return directory


def _find_files(directory: Path) -> tuple[dict[str, Path], list[str]]:
    """Map each part to its file in `directory` (plain first, then .gz); also list the missing names."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for part in _PARTS:
        for name in (part.stem, part.stem + ".gz"):
            candidate = directory / name
            if candidate.is_file():
                found[part.field] = candidate
                break
        else:
            missing.append(part.stem + "[.gz]")
    return found, missing


# ----------------------------------------------------------------------------------------------
# Reading and verifying
# ----------------------------------------------------------------------------------------------


def _read_bytes(file: Path) -> bytes:
    try:
        if file.suffix == ".gz":
            with gzip.open(file, "rb") as fh:
                return fh.read()
        return file.read_bytes()
    except EOFError as err:
        raise DataError(f"{file}: the gzip stream is truncated ({err}). Delete it and fetch it again.") from err
    except (gzip.BadGzipFile, zlib.error) as err:
        raise DataError(f"{file}: not a valid gzip file ({err}). Delete it and fetch it again.") from err
    except OSError as err:
        raise DataError(f"{file}: cannot be read ({err}).") from err


def _parse_idx(file: Path, part: _Part) -> npt.NDArray[np.uint8]:
    """Decode one IDX file and check its magic number, shape and length; return the raw uint8 payload."""
    raw = _read_bytes(file)
    ndim = 3 if part.magic == IMAGES_MAGIC else 1
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataError(f"{file}: only {len(raw)} bytes, shorter than an IDX header ({header_len} bytes).")
    magic = int.from_bytes(raw[:4], "big")
    if magic != part.magic:
        kind = "images" if part.magic == IMAGES_MAGIC else "labels"
        raise DataError(
            f"{file}: IDX magic number is {magic}, expected {part.magic} for {kind}. "
            "Is this the right file (or a different file renamed)?"
        )
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    if dims[0] != part.count:
        raise DataError(f"{file}: holds {dims[0]} items, expected {part.count}.")
    if ndim == 3 and dims[1:] != [IMAGE_SIDE, IMAGE_SIDE]:
        raise DataError(f"{file}: images are {dims[1]} x {dims[2]}, expected {IMAGE_SIDE} x {IMAGE_SIDE}.")
    expected_len = header_len + int(np.prod(dims))
    if len(raw) != expected_len:
        raise DataError(
            f"{file}: {len(raw)} bytes, expected {expected_len} for {' x '.join(map(str, dims))} items "
            f"({'truncated' if len(raw) < expected_len else 'trailing bytes'}). Delete it and fetch it again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len)


def _verify(data: FashionMNIST, names: Mapping[str, str]) -> None:
    """Check shapes, dtypes, label range and class balance; `names` says where each array came from."""
    for images, labels, count in (
        ("train_images", "train_labels", NUM_TRAIN),
        ("test_images", "test_labels", NUM_TEST),
    ):
        X, y = getattr(data, images), getattr(data, labels)
        if X.dtype != np.uint8 or X.shape[1:] != (1, IMAGE_SIDE, IMAGE_SIDE):
            raise DataError(f"{names[images]}: images are {X.dtype} {X.shape}, expected uint8 n x 1 x 28 x 28.")
        if y.dtype != np.int64 or y.ndim != 1:
            raise DataError(f"{names[labels]}: labels are {y.dtype} {y.shape}, expected a 1-D int64 array.")
        if len(X) != len(y):
            raise DataError(f"{names[images]} has {len(X)} images but {names[labels]} has {len(y)} labels.")
        if len(X) != count:
            raise DataError(f"{names[images]}: {len(X)} items, expected {count}.")
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= NUM_CLASSES:
            raise DataError(f"{names[labels]}: labels range over {low}..{high}, expected 0..{NUM_CLASSES - 1}.")
        per_class = np.bincount(y, minlength=NUM_CLASSES)
        wanted = count // NUM_CLASSES
        if not np.all(per_class == wanted):
            raise DataError(
                f"{names[labels]}: items per class are {per_class.tolist()}, expected exactly {wanted} of each "
                "(Fashion-MNIST is balanced). Is this a different dataset or a damaged file?"
            )


def _decode(files: Mapping[str, Path]) -> FashionMNIST:
    arrays: dict[str, np.ndarray] = {}
    for part in _PARTS:
        payload = _parse_idx(files[part.field], part)
        if part.magic == IMAGES_MAGIC:
            arrays[part.field] = payload.reshape(part.count, 1, IMAGE_SIDE, IMAGE_SIDE).copy()
        else:
            arrays[part.field] = payload.astype(np.int64)
    data = FashionMNIST(**arrays)
    _verify(data, {k: str(v) for k, v in files.items()})
    return data


# ----------------------------------------------------------------------------------------------
# Cache
# ----------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    configured = os.environ.get("MLP_AUTOGRADER_CACHE")
    return Path(configured).expanduser() if configured else Path("~/.cache/mlp-autograder").expanduser()


def _cache_key(files: Mapping[str, Path]) -> str:
    digest = hashlib.sha256(f"v{_CACHE_VERSION}".encode())
    for part in _PARTS:
        file = files[part.field].resolve()
        st = file.stat()
        digest.update(f"|{file}|{st.st_size}|{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def _cache_file(cache_dir: Path, files: Mapping[str, Path]) -> Path:
    return cache_dir / f"fashion-mnist-v{_CACHE_VERSION}-{_cache_key(files)}.npz"


def _read_cache(file: Path) -> FashionMNIST | None:
    """Return the cached dataset, or None when it is missing or fails verification (it is then rebuilt)."""
    try:
        with np.load(file, allow_pickle=False) as npz:
            data = FashionMNIST(**{part.field: npz[part.field] for part in _PARTS})
        _verify(data, {part.field: f"{file}[{part.field}]" for part in _PARTS})
    except (OSError, ValueError, KeyError, TypeError, DataError, zipfile.BadZipFile, zlib.error, EOFError):
        return None
    return data


def _write_cache(file: Path, data: FashionMNIST) -> None:
    """Write atomically (temporary file, then `os.replace`); a cache that cannot be written is skipped."""
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            np.savez(fh, **{part.field: getattr(data, part.field) for part in _PARTS})
        os.replace(tmp, file)
    except OSError:
        tmp.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------


def _download(roots: Sequence[Path]) -> tuple[Path | None, str]:
    """Let torchvision download into the first root; return the raw directory, or None and why not."""
    if not roots:
        return None, "no torchvision root to download into"
    root = roots[0]
    try:
        import torchvision

        torchvision.datasets.FashionMNIST(root=str(root), train=True, download=True)
        torchvision.datasets.FashionMNIST(root=str(root), train=False, download=True)
    except Exception as err:
        return None, f"{type(err).__name__}: {err}"
    return root / "FashionMNIST" / "raw", ""


def load_fashion_mnist(
    path: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    download: bool = True,
    environ: Mapping[str, str] | None = None,
    debian_dir: str | os.PathLike[str] | None = DEBIAN_DIR,
    torchvision_roots: Sequence[str | os.PathLike[str]] | None = None,
) -> FashionMNIST:
    """Find, read, verify and cache Fashion-MNIST; see the module docstring for where it looks.

    `environ`, `debian_dir` and `torchvision_roots` replace the machine's own search places (tests use
    them); `download=False` skips torchvision's download; `cache_dir` defaults to
    `$MLP_AUTOGRADER_CACHE` or `~/.cache/mlp-autograder`.

    Raises:
        DataError: nothing found (the message lists every place looked and the fixes), or a file
            that is corrupt, truncated or not Fashion-MNIST (the message names the file).
    """
    places = _places(path, environ, debian_dir, torchvision_roots)
    looked: list[str] = []
    files: dict[str, Path] | None = None
    for place in places:
        found, missing = _find_files(place.directory)
        if not missing:
            files = found
            break
        what = "does not exist" if not place.directory.is_dir() else f"lacks {', '.join(missing)}"
        if place.required:
            raise DataError(f"Fashion-MNIST not found in {place.directory} ({place.origin}): it {what}. {FIX_HINT}")
        looked.append(f"  - {place.directory} ({place.origin}): {what}")

    if files is None and download:
        env = os.environ if environ is None else environ
        roots = _default_torchvision_roots(env) if torchvision_roots is None else [Path(r) for r in torchvision_roots]
        raw_dir, why = _download(roots)
        if raw_dir is not None:
            found, missing = _find_files(raw_dir)
            if not missing:
                files = found
            else:
                why = f"downloaded, but {raw_dir} lacks {', '.join(missing)}"
        if files is None:
            looked.append(f"  - torchvision download: failed ({why})")
    if files is None:
        if not download:
            looked.append("  - torchvision download: not tried (download=False)")
        raise DataError("Fashion-MNIST not found. Looked in:\n" + "\n".join(looked) + "\n" + FIX_HINT)

    if not use_cache:
        return _decode(files)
    cache = _cache_file(Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir(), files)
    data = _read_cache(cache)
    if data is None:
        data = _decode(files)
        _write_cache(cache, data)
    return data
