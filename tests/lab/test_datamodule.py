"""The in-memory d2l data module: batch shapes, seeded shuffling, len(), and d2l.Trainer compatibility."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from d2l import torch as d2l

from autograder.course.examples import solution_namespace
from mlp_lab.data import DEBIAN_DIR, FashionMNIST
from mlp_lab.datamodule import FashionMNISTData, MinibatchLoader

NUM_TRAIN, NUM_TEST = 1_000, 300
MIN_TEST_ACCURACY_ONE_EPOCH = 0.70  # the real data after one epoch reaches ~0.75-0.80


def small_dataset(seed: int = 0) -> FashionMNIST:
    """Random pixels, labels 0..9 in order (so a shuffle is visible in the labels)."""
    rng = np.random.default_rng(seed)

    def images(n: int) -> np.ndarray:
        return rng.integers(0, 256, size=(n, 1, 28, 28), dtype=np.uint8)

    def labels(n: int) -> np.ndarray:
        return (np.arange(n) % 10).astype(np.int64)

    return FashionMNIST(images(NUM_TRAIN), labels(NUM_TRAIN), images(NUM_TEST), labels(NUM_TEST))


def label_order(loader: MinibatchLoader) -> list[int]:
    return [int(v) for _, y in loader for v in y]


def test_batches_have_d2l_shapes_and_dtypes() -> None:
    data = FashionMNISTData(batch_size=64, dataset=small_dataset())
    X, y = next(iter(data.train_dataloader()))
    assert X.shape == (64, 1, 28, 28) and X.dtype == torch.float32
    assert y.shape == (64,) and y.dtype == torch.int64
    assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0


def test_len_counts_minibatches_including_the_last_partial_one() -> None:
    data = FashionMNISTData(batch_size=64, dataset=small_dataset())
    train, val = data.train_dataloader(), data.val_dataloader()
    assert len(train) == 16  # ceil(1000 / 64)
    assert len(val) == 5  # ceil(300 / 64)
    assert len(list(train)) == len(train)
    assert [len(y) for _, y in val] == [64, 64, 64, 64, 44]


def test_one_epoch_visits_every_training_example_once() -> None:
    data = FashionMNISTData(batch_size=64, dataset=small_dataset())
    order = label_order(data.train_dataloader())
    assert sorted(order) == sorted(int(v) for v in data.train.tensors[1])
    assert order != sorted(order)


def test_same_seed_gives_the_same_shuffle() -> None:
    first = FashionMNISTData(batch_size=32, seed=7, dataset=small_dataset())
    second = FashionMNISTData(batch_size=32, seed=7, dataset=small_dataset())
    assert label_order(first.train_dataloader()) == label_order(second.train_dataloader())


def test_different_seeds_give_different_shuffles() -> None:
    first = FashionMNISTData(batch_size=32, seed=1, dataset=small_dataset())
    second = FashionMNISTData(batch_size=32, seed=2, dataset=small_dataset())
    assert label_order(first.train_dataloader()) != label_order(second.train_dataloader())


def test_each_epoch_reshuffles_the_training_set() -> None:
    loader = FashionMNISTData(batch_size=32, dataset=small_dataset()).train_dataloader()
    assert label_order(loader) != label_order(loader)


def test_validation_batches_come_in_file_order() -> None:
    data = FashionMNISTData(batch_size=32, dataset=small_dataset())
    assert label_order(data.val_dataloader()) == [i % 10 for i in range(NUM_TEST)]


def test_text_labels_are_d2l_class_names() -> None:
    data = FashionMNISTData(dataset=small_dataset())
    assert data.text_labels(torch.tensor([0, 9, 5])) == ["t-shirt", "ankle boot", "sandal"]


def test_resize_other_than_28_is_refused() -> None:
    with pytest.raises(ValueError, match="resize"):
        FashionMNISTData(resize=(224, 224), dataset=small_dataset())


def test_batches_follow_the_default_dtype() -> None:
    """Does a float64 default dtype (torch.set_default_dtype) give float64 batches and datasets?"""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        data = FashionMNISTData(batch_size=50, dataset=small_dataset())
        X, y = next(iter(data.train_dataloader()))
        assert X.dtype == torch.float64 and y.dtype == torch.int64
        assert data.val.tensors[0].dtype == torch.float64
    finally:
        torch.set_default_dtype(before)
    X, _ = next(iter(data.train_dataloader()))
    assert X.dtype == torch.float32  # the loader follows the default at iteration time


MLPScratch = solution_namespace()["MLPScratch"]


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Train on one thread: on a shared 2-core machine torch's default 2 threads ran 10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.skipif(not DEBIAN_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist (scripts/setup.sh)")
def test_d2l_trainer_fits_the_scratch_mlp_on_the_real_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Does d2l.Trainer run unchanged on this data module and learn something in one epoch?"""
    monkeypatch.setenv("MLP_AUTOGRADER_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    data = FashionMNISTData(batch_size=256)
    model = MLPScratch(num_inputs=784, num_outputs=10, num_hiddens=256, lr=0.1)
    model.board.display = False
    with contextlib.redirect_stdout(io.StringIO()):
        d2l.Trainer(max_epochs=1).fit(model, data)
    X, y = data.val.tensors
    with torch.no_grad():
        accuracy = float(model.accuracy(model(X), y))
    assert accuracy > MIN_TEST_ACCURACY_ONE_EPOCH
