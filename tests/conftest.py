"""Shared fixtures: small data in the real formats, tiny networks."""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# "auto" split blocks run as separate branches in tests instead of timing their forms; the timing has its own tests.
os.environ["NETSPLIT_MEASURE_IMPLEMENTATIONS"] = "0"

FASHION = Path("/usr/share/datasets/fashion-mnist")


def cifar_batch(n: int, seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A pickled batch in the CIFAR-10 python format (channel-planar rows, byte keys)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n)
    batch = {b"batch_label": b"test", b"labels": labels.tolist(),
             b"data": images.transpose(0, 3, 1, 2).reshape(n, 3072), b"filenames": [b"x.png"] * n}
    return pickle.dumps(batch, protocol=2), images, labels


@pytest.fixture(scope="session")
def cifar_archive(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A cifar-10-python.tar.gz with 5 x 20 training and 10 test images; returns path and the arrays."""
    folder = tmp_path_factory.mktemp("cifar")
    path = folder / "cifar-10-python.tar.gz"
    images, labels = [], []
    with tarfile.open(path, "w:gz") as archive:
        for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
            raw, x, y = cifar_batch(20 if name != "test_batch" else 10, i)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
            images.append(x)
            labels.append(y)
    return path, images, labels


@pytest.fixture(scope="session")
def fashion_dir() -> Path:
    """The Debian Fashion-MNIST files; CI installs them, so there a missing copy is a failure."""
    if not (FASHION / "train-images-idx3-ubyte.gz").exists():
        if os.environ.get("CI"):
            pytest.fail(f"Fashion-MNIST is missing from {FASHION}; .ci/run installs dataset-fashion-mnist")
        pytest.skip(f"Fashion-MNIST not installed in {FASHION} (apt-get install dataset-fashion-mnist)")
    return FASHION
