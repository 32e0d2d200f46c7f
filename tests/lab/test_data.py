"""Fashion-MNIST loading: where it looks, what it refuses, and the cache.

Most tests write their own IDX files (real sizes, synthetic pixels: every image of a set is filled
with one `marker` value, so a test can tell which directory was read) and inject the search places,
so they do not depend on what this machine has installed.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mlp_lab.data import (
    DEBIAN_DIR,
    TEXT_LABELS,
    FashionMNIST,
    load_fashion_mnist,
    search_places,
)
from mlp_lab.errors import DataError

SECOND_LOAD_BUDGET_S = 1.0  # the cached full dataset must load well under this

STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + payload


def balanced_labels(n: int) -> np.ndarray:
    return (np.arange(n) % 10).astype(np.uint8)


def images_file(n: int, marker: int) -> bytes:
    return idx_bytes(2051, (n, 28, 28), np.full((n, 28, 28), marker, np.uint8).tobytes())


def labels_file(labels: np.ndarray) -> bytes:
    return idx_bytes(2049, (len(labels),), labels.astype(np.uint8).tobytes())


def write_dataset(
    directory: Path, *, marker: int = 0, gz: bool = False, replace: dict[str, bytes] | None = None
) -> Path:
    """Write a valid Fashion-MNIST-shaped dataset into `directory`; `replace` swaps in bad file contents."""
    contents = {
        "train_images": images_file(60_000, marker),
        "train_labels": labels_file(balanced_labels(60_000)),
        "test_images": images_file(10_000, marker),
        "test_labels": labels_file(balanced_labels(10_000)),
    }
    contents.update(replace or {})
    directory.mkdir(parents=True, exist_ok=True)
    for field, stem in STEMS.items():
        if gz:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(contents[field], compresslevel=1))
        else:
            (directory / stem).write_bytes(contents[field])
    return directory


def load_isolated(tmp_path: Path, path: Path | None = None, **kwargs: object) -> FashionMNIST:
    """Load with none of the machine's places: no env vars, an empty Debian dir, an empty torchvision root."""
    options: dict[str, object] = {
        "environ": {},
        "debian_dir": tmp_path / "no-debian",
        "torchvision_roots": [tmp_path / "no-torchvision"],
        "download": False,
        "use_cache": False,
    }
    options.update(kwargs)
    return load_fashion_mnist(path, **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Nothing found
# ---------------------------------------------------------------------------------------------


def test_nothing_found_lists_every_place_looked_and_both_fixes(tmp_path: Path) -> None:
    """When no copy exists, does the error name each place looked in and say how to get the data?"""
    roots = [tmp_path / "tv1", tmp_path / "tv2"]
    with pytest.raises(DataError) as caught:
        load_isolated(tmp_path, torchvision_roots=roots)
    message = str(caught.value)
    for place in [tmp_path / "no-debian", *(r / "FashionMNIST" / "raw" for r in roots)]:
        assert str(place) in message
    assert "sudo apt-get install dataset-fashion-mnist" in message
    assert "torchvision" in message and "download" in message


def test_explicit_path_without_the_files_is_an_error_not_a_fallthrough(tmp_path: Path) -> None:
    """A path given on purpose but empty must not silently fall back to another copy."""
    debian = write_dataset(tmp_path / "debian")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="the path argument") as caught:
        load_isolated(tmp_path, empty, debian_dir=debian)
    assert str(empty) in str(caught.value)
    assert "train-images-idx3-ubyte" in str(caught.value)


def test_env_var_pointing_at_nothing_is_an_error(tmp_path: Path) -> None:
    debian = write_dataset(tmp_path / "debian")
    with pytest.raises(DataError, match=r"\$FASHION_MNIST_DIR"):
        load_isolated(tmp_path, environ={"FASHION_MNIST_DIR": str(tmp_path / "typo")}, debian_dir=debian)


def test_incomplete_directory_says_which_files_are_missing(tmp_path: Path) -> None:
    partial = write_dataset(tmp_path / "debian")
    (partial / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"lacks t10k-labels-idx1-ubyte\[\.gz\]"):
        load_isolated(tmp_path, debian_dir=partial)


# ---------------------------------------------------------------------------------------------
# Search order
# ---------------------------------------------------------------------------------------------


def first_pixel(data: FashionMNIST) -> int:
    return int(data.train_images[0, 0, 0, 0])


def test_explicit_path_beats_env_var_beats_debian_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = write_dataset(tmp_path / "explicit", marker=1)
    from_env = write_dataset(tmp_path / "env", marker=2)
    debian = write_dataset(tmp_path / "debian", marker=3)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(from_env))
    common = {"debian_dir": debian, "torchvision_roots": [], "download": False, "use_cache": False}
    assert first_pixel(load_fashion_mnist(explicit, **common)) == 1  # type: ignore[arg-type]
    assert first_pixel(load_fashion_mnist(None, **common)) == 2  # type: ignore[arg-type]
    monkeypatch.delenv("FASHION_MNIST_DIR")
    assert first_pixel(load_fashion_mnist(None, **common)) == 3  # type: ignore[arg-type]


def test_debian_dir_beats_torchvision_root(tmp_path: Path) -> None:
    debian = write_dataset(tmp_path / "debian", marker=3, gz=True)
    write_dataset(tmp_path / "tv" / "FashionMNIST" / "raw", marker=4)
    assert first_pixel(load_isolated(tmp_path, debian_dir=debian, torchvision_roots=[tmp_path / "tv"])) == 3


def test_torchvision_root_with_unzipped_files_is_found(tmp_path: Path) -> None:
    write_dataset(tmp_path / "tv" / "FashionMNIST" / "raw", marker=4)
    assert first_pixel(load_isolated(tmp_path, torchvision_roots=[tmp_path / "tv"])) == 4


def test_explicit_torchvision_root_reads_its_fashion_mnist_raw_dir(tmp_path: Path) -> None:
    """d2l users pass a torchvision root (`root='../data'`), not the raw directory itself."""
    write_dataset(tmp_path / "data" / "FashionMNIST" / "raw", marker=5)
    assert first_pixel(load_isolated(tmp_path, tmp_path / "data")) == 5


def test_torchvision_root_comes_from_env_var_first(tmp_path: Path) -> None:
    places = [p for p, _ in search_places(environ={"TORCHVISION_ROOT": str(tmp_path / "tvroot")})]
    assert places[0] == DEBIAN_DIR
    assert places[1] == tmp_path / "tvroot" / "FashionMNIST" / "raw"


def test_gzipped_and_plain_files_decode_to_the_same_arrays(tmp_path: Path) -> None:
    plain = load_isolated(tmp_path, write_dataset(tmp_path / "plain", marker=7))
    zipped = load_isolated(tmp_path, write_dataset(tmp_path / "zipped", marker=7, gz=True))
    for field in STEMS:
        assert np.array_equal(getattr(plain, field), getattr(zipped, field))


def test_loaded_arrays_have_the_documented_shapes_and_dtypes(tmp_path: Path) -> None:
    data = load_isolated(tmp_path, write_dataset(tmp_path / "d", marker=5))
    assert data.train_images.shape == (60_000, 1, 28, 28) and data.train_images.dtype == np.uint8
    assert data.test_images.shape == (10_000, 1, 28, 28) and data.test_images.dtype == np.uint8
    assert data.train_labels.dtype == np.int64 and data.test_labels.dtype == np.int64
    assert data.train_labels[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


# ---------------------------------------------------------------------------------------------
# Bad files: each names the file and what is wrong
# ---------------------------------------------------------------------------------------------


def test_truncated_gzip_is_refused_naming_the_file(tmp_path: Path) -> None:
    directory = write_dataset(tmp_path / "d", gz=True)
    file = directory / "train-images-idx3-ubyte.gz"
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    with pytest.raises(DataError, match="truncated") as caught:
        load_isolated(tmp_path, directory)
    assert str(file) in str(caught.value)


def test_corrupt_gzip_is_refused_naming_the_file(tmp_path: Path) -> None:
    directory = write_dataset(tmp_path / "d", gz=True)
    file = directory / "train-labels-idx1-ubyte.gz"
    raw = bytearray(file.read_bytes())
    for i in range(20, len(raw) - 20, 7):  # scramble the deflate stream, keep the gzip header
        raw[i] ^= 0x5A
    file.write_bytes(bytes(raw))
    with pytest.raises(DataError) as caught:
        load_isolated(tmp_path, directory)
    assert str(file) in str(caught.value)


def test_not_a_gzip_file_is_refused(tmp_path: Path) -> None:
    directory = write_dataset(tmp_path / "d", gz=True)
    file = directory / "t10k-labels-idx1-ubyte.gz"
    file.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(DataError, match="not a valid gzip file"):
        load_isolated(tmp_path, directory)


def test_wrong_magic_number_is_refused(tmp_path: Path) -> None:
    bad = idx_bytes(2051, (60_000,), balanced_labels(60_000).tobytes())  # an images magic on a labels file
    directory = write_dataset(tmp_path / "d", replace={"train_labels": bad})
    with pytest.raises(DataError, match="magic number is 2051, expected 2049") as caught:
        load_isolated(tmp_path, directory)
    assert "train-labels-idx1-ubyte" in str(caught.value)


def test_wrong_item_count_is_refused(tmp_path: Path) -> None:
    directory = write_dataset(tmp_path / "d", replace={"test_images": images_file(9_999, 0)})
    with pytest.raises(DataError, match="holds 9999 items, expected 10000") as caught:
        load_isolated(tmp_path, directory)
    assert "t10k-images-idx3-ubyte" in str(caught.value)


def test_wrong_image_size_is_refused(tmp_path: Path) -> None:
    bad = idx_bytes(2051, (10_000, 32, 32), bytes(10_000 * 32 * 32))
    directory = write_dataset(tmp_path / "d", replace={"test_images": bad})
    with pytest.raises(DataError, match="32 x 32, expected 28 x 28"):
        load_isolated(tmp_path, directory)


def test_truncated_plain_file_is_refused(tmp_path: Path) -> None:
    directory = write_dataset(tmp_path / "d")
    file = directory / "train-images-idx3-ubyte"
    file.write_bytes(file.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated") as caught:
        load_isolated(tmp_path, directory)
    assert str(file) in str(caught.value)


def test_labels_out_of_range_are_refused(tmp_path: Path) -> None:
    labels = balanced_labels(10_000)
    labels[0] = 10
    directory = write_dataset(tmp_path / "d", replace={"test_labels": labels_file(labels)})
    with pytest.raises(DataError, match=r"0\.\.10, expected 0\.\.9") as caught:
        load_isolated(tmp_path, directory)
    assert "t10k-labels-idx1-ubyte" in str(caught.value)


def test_unbalanced_classes_are_refused(tmp_path: Path) -> None:
    labels = balanced_labels(60_000)
    labels[labels == 9] = 8  # 12,000 of class 8, none of class 9: right count, right range, wrong data
    directory = write_dataset(tmp_path / "d", replace={"train_labels": labels_file(labels)})
    with pytest.raises(DataError, match="exactly 6000 of each"):
        load_isolated(tmp_path, directory)


# ---------------------------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------------------------


def test_cache_round_trip_returns_the_same_arrays(tmp_path: Path) -> None:
    source = write_dataset(tmp_path / "d", marker=6, gz=True)
    cache = tmp_path / "cache"
    first = load_isolated(tmp_path, source, use_cache=True, cache_dir=cache)
    cached = list(cache.glob("*.npz"))
    assert len(cached) == 1
    assert [p.name for p in cache.iterdir()] == [cached[0].name]  # no temporary file left behind
    second = load_isolated(tmp_path, source, use_cache=True, cache_dir=cache)
    for field in STEMS:
        assert np.array_equal(getattr(first, field), getattr(second, field))


def test_second_load_reads_the_cache_not_the_source(tmp_path: Path) -> None:
    """Swap the cache's content for another valid dataset: does the next load return it?"""
    source = write_dataset(tmp_path / "d", marker=6)
    cache = tmp_path / "cache"
    load_isolated(tmp_path, source, use_cache=True, cache_dir=cache)
    (cache_file,) = cache.glob("*.npz")
    other = load_isolated(tmp_path, write_dataset(tmp_path / "other", marker=9))
    np.savez(cache_file, **{f: getattr(other, f) for f in STEMS})
    assert first_pixel(load_isolated(tmp_path, source, use_cache=True, cache_dir=cache)) == 9


def test_cache_is_invalidated_when_a_source_file_changes(tmp_path: Path) -> None:
    source = write_dataset(tmp_path / "d", marker=6)
    cache = tmp_path / "cache"
    assert first_pixel(load_isolated(tmp_path, source, use_cache=True, cache_dir=cache)) == 6
    write_dataset(source, marker=8)
    stamp = time.time() + 10  # a distinct modification time even on coarse-grained file systems
    os.utime(source / "train-images-idx3-ubyte", (stamp, stamp))
    assert first_pixel(load_isolated(tmp_path, source, use_cache=True, cache_dir=cache)) == 8


def test_corrupt_cache_file_is_rebuilt_from_the_source(tmp_path: Path) -> None:
    source = write_dataset(tmp_path / "d", marker=6)
    cache = tmp_path / "cache"
    load_isolated(tmp_path, source, use_cache=True, cache_dir=cache)
    (cache_file,) = cache.glob("*.npz")
    cache_file.write_bytes(cache_file.read_bytes()[:1000])
    assert first_pixel(load_isolated(tmp_path, source, use_cache=True, cache_dir=cache)) == 6
    assert cache_file.stat().st_size > 1000


# ---------------------------------------------------------------------------------------------
# The real dataset, tensors, labels, import cost
# ---------------------------------------------------------------------------------------------

debian_present = pytest.mark.skipif(
    not all((DEBIAN_DIR / f"{stem}.gz").is_file() for stem in STEMS.values()),
    reason=f"Debian's dataset-fashion-mnist is not installed ({DEBIAN_DIR}); "
    "`sudo apt-get install dataset-fashion-mnist` or run scripts/setup.sh",
)


@debian_present
def test_real_dataset_has_60000_and_10000_balanced_examples(tmp_path: Path) -> None:
    data = load_fashion_mnist(DEBIAN_DIR, cache_dir=tmp_path / "cache", download=False)
    assert data.train_images.shape == (60_000, 1, 28, 28)
    assert data.test_images.shape == (10_000, 1, 28, 28)
    assert np.bincount(data.train_labels).tolist() == [6_000] * 10
    assert np.bincount(data.test_labels).tolist() == [1_000] * 10
    assert data.train_labels[:3].tolist() == [9, 0, 0]  # ankle boot, t-shirt, t-shirt: the real file
    assert 0 < data.train_images.mean() < 255


@debian_present
def test_second_load_of_real_dataset_is_under_a_second(tmp_path: Path) -> None:
    load_fashion_mnist(DEBIAN_DIR, cache_dir=tmp_path / "cache", download=False)
    start = time.perf_counter()
    load_fashion_mnist(DEBIAN_DIR, cache_dir=tmp_path / "cache", download=False)
    assert time.perf_counter() - start < SECOND_LOAD_BUDGET_S


def test_as_tensors_scales_images_to_unit_interval() -> None:
    images = np.array([0, 51, 255], np.uint8).repeat(784).reshape(3, 1, 28, 28)
    labels = np.array([0, 1, 9], np.int64)
    tensors = FashionMNIST(images, labels, images, labels).as_tensors()
    assert str(tensors.train_images.dtype) == "torch.float32"
    assert tensors.train_images.shape == (3, 1, 28, 28)
    assert tensors.train_images[:, 0, 0, 0].tolist() == pytest.approx([0.0, 0.2, 1.0])
    assert str(tensors.test_labels.dtype) == "torch.int64"
    assert tensors.test_labels.tolist() == [0, 1, 9]


def test_text_labels_equal_d2l_fashion_mnist_text_labels() -> None:
    from d2l import torch as d2l

    assert list(TEXT_LABELS) == d2l.FashionMNIST.text_labels(None, range(10))


def test_importing_the_loader_does_not_import_torch() -> None:
    """The grader's parent process imports mlp_lab.data; torch would cost it 2 s and 800 MB."""
    code = "import sys, mlp_lab.data; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
