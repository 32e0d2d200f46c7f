"""Staging a grading: the run folder a child sees, the data it may read, and what its sandbox denies.

    run_dir/
      submission.ipynb    a copy; each child gets its own copy in work/
      work/               the child's working folder (read-write, emptied for every child)
      data/               the training split and the test images in a fresh order, without labels (read-only)
      child.out, .err     the children's stdout and stderr (for an instructor who debugs a grading)

The plan and each unit's inputs travel on the command pipe, and results on the reply pipe
(`protocol`): the child has no file of the parent's to read or to write.

The test labels never leave the parent: the child gets the test images permuted with a permutation
drawn for this grading, and the parent judges the predictions against labels permuted the same way.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlp_lab.data import DEBIAN_DIR, default_cache_dir, load_fashion_mnist

__all__ = ["Staged", "denied_paths", "read_only_roots", "stage"]

_DATA_DIR: Path | None = None  # the training split as .npy files, written once per process
_PACKAGE = Path(__file__).resolve().parents[1]  # autograder/


@dataclass(frozen=True)
class Staged:
    run_dir: Path
    test_labels: np.ndarray  # in the order of the test images the child was given


def _training_data() -> tuple[Path, np.ndarray, np.ndarray]:
    """A private folder with the training split, made once per process; also the test images and labels."""
    global _DATA_DIR
    ds = load_fashion_mnist()
    if _DATA_DIR is None:
        folder = Path(tempfile.mkdtemp(prefix="mlp-grader-data-"))
        atexit.register(shutil.rmtree, folder, True)
        np.save(folder / "train_images.npy", ds.train_images)
        np.save(folder / "train_labels.npy", ds.train_labels)
        _DATA_DIR = folder
    return _DATA_DIR, ds.test_images, ds.test_labels


def denied_paths(submission: Path) -> list[Path]:
    """What a child must not read: the grader, the course repository, the dataset, other submissions ..."""
    denied = [_PACKAGE, submission.resolve().parent, Path.home(), DEBIAN_DIR.parent, default_cache_dir(),
              Path(tempfile.gettempdir())]
    if (_PACKAGE.parent / "pyproject.toml").exists():
        denied.append(_PACKAGE.parent)  # the course repository: source/ holds the solutions
    for var in ("FASHION_MNIST_DIR", "TORCHVISION_ROOT", "GITHUB_WORKSPACE", "RUNNER_TEMP"):
        if os.environ.get(var):
            denied.append(Path(os.environ[var]))
    return denied


def read_only_roots() -> list[str]:
    """System and Python folders a child may read.

    /proc is not here: the child adds its own /proc/<pid> and a few system files itself, so that it
    cannot read other processes' environments (the grader's, with CI tokens) or command lines.
    """
    roots = {"/usr", "/lib", "/lib64", "/bin", "/etc", "/sys", sys.prefix, sys.base_prefix,
             sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    roots.update(p for p in sys.path if p and os.path.isdir(p))
    return sorted(roots)


def _same_fs(a: Path, b: Path) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev


def stage(submission: Path, rng: np.random.Generator, *, with_data: bool) -> Staged:
    """Make the run folder for one grading (see the module docstring); the caller removes it."""
    run_dir = Path(tempfile.mkdtemp(prefix="mlp-grade-"))
    for sub in ("work", "data"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(submission, run_dir / "submission.ipynb")
    labels = np.zeros(0, dtype=np.int64)
    if with_data:
        data_dir, test_images, test_labels = _training_data()
        perm = rng.permutation(test_labels.shape[0])
        np.save(run_dir / "data" / "test_images.npy", test_images[perm])
        for name in ("train_images.npy", "train_labels.npy"):
            if _same_fs(data_dir, run_dir):
                os.link(data_dir / name, run_dir / "data" / name)
            else:
                shutil.copyfile(data_dir / name, run_dir / "data" / name)
        labels = test_labels[perm]
    return Staged(run_dir, labels)
