"""Smoke run: load Fashion-MNIST, train the lecture's scratch MLP for one epoch, print the test accuracy.

`python -m autograder._smoke [--epochs N] [--seed S]`.  It proves, end to end and in under a minute
on a 2-core machine, that the data is found and verified, that torch works, and that the model of
the lecture (H = ReLU(X W1 + b1), O = H W2 + b2; d = 784, h = 256, q = 10, lr = 0.1, batch 256)
learns: one epoch reaches about 0.75-0.80 test accuracy.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from autograder.datamodule import FashionMNISTData

__all__ = ["MLPScratch", "main"]


class MLPScratch(nn.Module):
    """d2l 5.2.1's one-hidden-layer MLP with the lecture's names: W1 is d x h, W2 is h x q."""

    def __init__(self, num_inputs: int = 784, num_hiddens: int = 256, num_outputs: int = 10, sigma: float = 0.01):
        super().__init__()
        self.num_inputs = num_inputs
        self.W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)
        self.b1 = nn.Parameter(torch.zeros(num_hiddens))
        self.W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs) * sigma)
        self.b2 = nn.Parameter(torch.zeros(num_outputs))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = X.reshape((-1, self.num_inputs))
        H = torch.relu(X @ self.W1 + self.b1)
        return H @ self.W2 + self.b2


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(X).argmax(dim=1) == y).float().mean())


def main(argv: Sequence[str] | None = None) -> float:
    """Train and report; returns the test accuracy."""
    parser = argparse.ArgumentParser(prog="python -m autograder._smoke", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch CPU threads (default 1: on a shared 2-core machine, 2 threads ran 10x slower than 1)",
    )
    args = parser.parse_args(argv)

    start = time.perf_counter()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    data = FashionMNISTData(batch_size=256, seed=args.seed)
    X_train, _ = data.train.tensors
    X_test, y_test = data.val.tensors
    print(f"Fashion-MNIST: {len(X_train)} training and {len(X_test)} test images "
          f"(loaded in {time.perf_counter() - start:.1f} s)")

    model = MLPScratch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(args.epochs):
        loader = data.train_dataloader()
        with tqdm(loader, desc=f"epoch {epoch + 1}/{args.epochs}", unit="batch") as bar:
            for X, y in bar:
                loss = F.cross_entropy(model(X), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    test_acc = accuracy(model, X_test, y_test)
    print(f"test accuracy after {args.epochs} epoch(s): {test_acc:.4f} "
          f"(total {time.perf_counter() - start:.1f} s)")
    return test_acc


if __name__ == "__main__":
    main()
