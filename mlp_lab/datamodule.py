"""A drop-in, in-memory replacement for `d2l.FashionMNIST`, so `d2l.Trainer(...).fit(model, data)` is fast.

d2l's own data module wraps torchvision's dataset in a `DataLoader` that decodes one PIL image at a
time through `transforms.ToTensor()`; on a 2-core machine 10 epochs of the lecture's scratch MLP
spend most of their time there.  This module holds the whole dataset as two float32 tensors and
serves each minibatch as one gather over a shuffled index, which is what makes the lab run in
seconds.  The interface is d2l's: `get_dataloader(train)`, `train_dataloader()`,
`val_dataloader()`, `text_labels(indices)`, `visualize(batch)`, plus `train` / `val` datasets.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence

import torch
from d2l import torch as d2l

from .data import TEXT_LABELS, FashionMNIST, load_fashion_mnist

__all__ = ["FashionMNISTData", "MinibatchLoader"]

IMAGE_SIZE = (28, 28)


class MinibatchLoader:
    """Iterate over `(X, y)` minibatches of in-memory tensors, reshuffled on every pass when `shuffle`.

    `len()` is the number of minibatches (the last one may be smaller), as `d2l.Trainer` expects.
    Shuffling draws from `generator`, so a seeded generator gives the same order on every run.
    """

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool,
        generator: torch.Generator | None = None,
    ) -> None:
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} examples but y has {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.X, self.y = X, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self) -> int:
        return math.ceil(len(self.X) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.X)
        # Floating-point batches come in torch's default dtype, so that a model built after
        # torch.set_default_dtype(torch.float64) trains on them as it would on d2l's loader.
        dtype = torch.get_default_dtype() if self.X.is_floating_point() else self.X.dtype
        if not self.shuffle:
            for start in range(0, n, self.batch_size):
                yield self.X[start:start + self.batch_size].to(dtype), self.y[start:start + self.batch_size]
            return
        order = torch.randperm(n, generator=self.generator)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.X[idx].to(dtype), self.y[idx]


class FashionMNISTData(d2l.DataModule):  # type: ignore[misc]
    """Fashion-MNIST for d2l's `Trainer`, served from memory (same interface as `d2l.FashionMNIST`).

    Args:
        batch_size: examples per minibatch (the lecture uses 256).
        resize: only `None` or `(28, 28)`; other sizes are not supported (use `d2l.FashionMNIST`).
        root: where the IDX files are (passed to `load_fashion_mnist`; default: its search order).
        seed: seeds the training-set shuffle, so two runs see the same minibatches.
        dataset: an already-loaded `FashionMNIST` (skips loading; tests pass small ones).
    """

    def __init__(
        self,
        batch_size: int = 64,
        resize: tuple[int, int] | None = None,
        root: str | os.PathLike[str] | None = None,
        seed: int = 0,
        dataset: FashionMNIST | None = None,
    ) -> None:
        super().__init__(root=root, num_workers=0)
        if resize is not None and tuple(resize) != IMAGE_SIZE:
            raise ValueError(
                f"resize={resize!r} is not supported by the in-memory loader; images are 28 x 28. "
                "Use d2l.FashionMNIST(batch_size, resize) for other sizes."
            )
        self.batch_size = batch_size
        self.resize = resize
        self.seed = seed
        tensors = (dataset if dataset is not None else load_fashion_mnist(root)).as_tensors()
        dtype = torch.get_default_dtype()  # float64 after torch.set_default_dtype(torch.float64)
        self.train = torch.utils.data.TensorDataset(tensors.train_images.to(dtype), tensors.train_labels)
        self.val = torch.utils.data.TensorDataset(tensors.test_images.to(dtype), tensors.test_labels)

    def get_dataloader(self, train: bool) -> MinibatchLoader:
        """Training minibatches are reshuffled every epoch (seeded); validation ones come in order."""
        X, y = (self.train if train else self.val).tensors
        generator = torch.Generator().manual_seed(self.seed) if train else None
        return MinibatchLoader(X, y, self.batch_size, shuffle=train, generator=generator)

    def text_labels(self, indices: Iterable[int | torch.Tensor]) -> list[str]:
        """Class names for label indices, as d2l's `FashionMNIST.text_labels`."""
        return [TEXT_LABELS[int(i)] for i in indices]

    def visualize(
        self,
        batch: tuple[torch.Tensor, torch.Tensor],
        nrows: int = 1,
        ncols: int = 8,
        labels: Sequence[str] | None = None,
    ) -> None:
        """Show the first `nrows * ncols` images of a batch with their class names (as d2l's)."""
        X, y = batch
        titles = list(labels) if labels else self.text_labels(y)
        d2l.show_images(X.squeeze(1), nrows, ncols, titles=titles)
