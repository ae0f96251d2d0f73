"""Datasets as normalised NHWC arrays, plus the usual augmentation (crop with padding, flip).

``cifar10`` and ``fashion_mnist`` are real data sets; ``synthetic`` exists for tests only and
must never be shown as a result. ``folder:PATH`` and ``npz:PATH`` are your own images
(see :mod:`netsplit.imagefiles`).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import pickle
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from netsplit.choices import check_dataset
from netsplit.errors import DatasetError, InputError
from netsplit.imagefiles import check_sizes, fit_images, read_own

TITLES = {"cifar10": "CIFAR-10", "fashion_mnist": "Fashion-MNIST", "synthetic": "synthetic test data"}
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
FASHION_DEBIAN = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


@dataclass
class Dataset:
    """Train, test and (optionally) validation arrays (float32 NHWC, normalised with training
    statistics) and what they are. Validation images are held out of the training set."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    flip: bool
    source: str
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    content: str = ""  # SHA-256 of the arrays as read, before any subset: what the records say of the data
    pixel_mean: tuple[float, ...] = ()  # per channel, of the training images scaled to [0, 1]: how inputs were
    pixel_std: tuple[float, ...] = ()  # standardised, which a deployed network needs as much as its weights

    def input_spec(self) -> dict:
        """How a network trained on this data expects its input, for a deployment to apply it."""
        return {"dataset": self.name, "data_hash": self.content, "pixels": "0 to 255, scaled by 1/255",
                "mean": list(self.pixel_mean), "std": list(self.pixel_std),
                "input": "(pixels / 255 - mean) / std, per channel, channels last"}

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def title(self) -> str:
        """How tables and plots name the data set (your own by its folder or file name)."""
        if self.name in TITLES:
            return TITLES[self.name]
        kind, _, path = self.name.partition(":")
        return f"images of {Path(path).name}/" if kind == "folder" else Path(path).name


def _check_labels(labels: np.ndarray, count: int, where: str) -> None:
    """Raise unless ``labels`` are integer class numbers from 0 to ``count`` - 1."""
    if not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{where}: labels are of type {labels.dtype}; they must be integer class numbers "
                           f"0 to {count - 1}")
    outside = labels[(labels < 0) | (labels >= count)]
    if len(outside):
        raise DatasetError(f"{where}: {len(outside):,} of {len(labels):,} labels are outside 0 to {count - 1}, such as "
                           f"{outside[0]}; the {count} classes are numbered 0 to {count - 1}")


def _check(arrays: tuple[np.ndarray, ...], classes: tuple[str, ...], source: str) -> None:
    """Raise unless every image has one label, of one of ``classes``, and neither set is empty."""
    check_sizes(arrays, source)
    for name, labels in (("y_train", arrays[1]), ("y_test", arrays[3])):
        _check_labels(labels, len(classes), f"{source}: {name}")


def _cifar_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = pickle.loads(raw, encoding="bytes")
        images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, ValueError, EOFError, TypeError) as error:
        raise DatasetError(f"{where} is not a CIFAR-10 python batch ({error})") from None
    if len(images) != len(labels):
        raise DatasetError(f"{where}: {len(images)} images but {len(labels)} labels")
    _check_labels(labels, len(CIFAR10_CLASSES), where)
    return images.transpose(0, 2, 3, 1), labels


def _read_cifar_archive(path: Path) -> dict[str, bytes]:
    try:
        with tarfile.open(path, "r:*") as archive:
            members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
            missing = [f for f in CIFAR10_FILES if f not in members]
            if missing:
                raise DatasetError(f"{path} lacks {', '.join(missing)}; expected cifar-10-batches-py/{{{', '.join(CIFAR10_FILES)}}}")
            return {f: archive.extractfile(members[f]).read() for f in CIFAR10_FILES}
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DatasetError(f"{path} is not a readable cifar-10-python.tar.gz ({error})") from None


def _read_cifar_folder(path: Path) -> dict[str, bytes]:
    folder = path / "cifar-10-batches-py" if (path / "cifar-10-batches-py").is_dir() else path
    missing = [f for f in CIFAR10_FILES if not (folder / f).is_file()]
    if missing:
        raise DatasetError(f"{folder} lacks {', '.join(missing)}; expected the cifar-10-batches-py files {', '.join(CIFAR10_FILES)}")
    return {f: (folder / f).read_bytes() for f in CIFAR10_FILES}


def _download_cifar10() -> Path:
    try:
        return Path(keras.utils.get_file("cifar-10-python.tar.gz", CIFAR10_URL, file_hash=CIFAR10_SHA256))
    except Exception as error:  # network errors come in many types; all mean "not here"
        raise DatasetError(
            f"CIFAR-10 was not found locally and could not be downloaded from {CIFAR10_URL} ({error}). "
            "Pass a path to cifar-10-python.tar.gz or a cifar-10-batches-py/ folder, or set NETSPLIT_CIFAR10."
        ) from None


def _cifar10(path: str | os.PathLike | None) -> tuple[tuple[np.ndarray, ...], str]:
    location = Path(path or os.environ.get("NETSPLIT_CIFAR10") or _download_cifar10())
    if location.is_dir():
        files = _read_cifar_folder(location)
    elif location.is_file():
        files = _read_cifar_archive(location)
    else:
        raise DatasetError(f"no CIFAR-10 data at {location}: expected cifar-10-python.tar.gz or a cifar-10-batches-py/ folder")
    parts = [_cifar_batch(files[f], f"{location}:{f}") for f in CIFAR10_FILES]
    x_train = np.concatenate([p[0] for p in parts[:-1]])
    y_train = np.concatenate([p[1] for p in parts[:-1]])
    return (x_train, y_train, *parts[-1]), str(location)


def _idx(path: Path, item_shape: tuple[int, ...]) -> np.ndarray:
    """The unsigned bytes in a gzipped IDX file, checked to be items of ``item_shape``: (28, 28) images or () labels."""
    try:
        with gzip.open(path, "rb") as stream:
            raw = stream.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{path} is not a gzipped IDX file ({error})") from None
    what = f"{'x'.join(map(str, item_shape))} images" if item_shape else "labels"
    dims = 1 + len(item_shape)
    magic, start = bytes([0, 0, 8, dims]), 4 + 4 * dims
    if raw[:4] != magic or len(raw) < start:
        raise DatasetError(f"{path} is not an IDX file of {what}: it should start with {magic.hex()} and {dims} "
                           f"four-byte sizes, but starts with {raw[:start].hex() or 'nothing'}")
    shape = tuple(int.from_bytes(raw[i : i + 4], "big") for i in range(4, start, 4))
    if shape[1:] != item_shape:
        raise DatasetError(f"{path} holds items of {'x'.join(map(str, shape[1:]))}, not {what}")
    if len(raw) - start != math.prod(shape):
        raise DatasetError(f"{path} holds {len(raw) - start:,} bytes of data but its header announces {shape[0]:,} "
                           f"{what} ({math.prod(shape):,} bytes); the file is truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(shape)


def _fashion_files(folder: Path) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test) from the Fashion-MNIST files in ``folder``, checked against each other."""
    arrays = tuple(_idx(folder / f, (28, 28) if k.startswith("x") else ()) for k, f in FASHION_FILES.items())
    check_sizes(arrays, str(folder), tuple(FASHION_FILES.values()))
    for labels, file in ((arrays[1], FASHION_FILES["y_train"]), (arrays[3], FASHION_FILES["y_test"])):
        _check_labels(labels, len(FASHION_CLASSES), str(folder / file))
    x_train, x_test = (np.pad(x, ((0, 0), (2, 2), (2, 2)))[..., None] for x in arrays[::2])
    return x_train, arrays[1].astype(np.int64), x_test, arrays[3].astype(np.int64)


def _fashion_mnist(path: str | os.PathLike | None) -> tuple[tuple[np.ndarray, ...], str]:
    candidates = [Path(p) for p in (path, os.environ.get("NETSPLIT_FASHION_MNIST")) if p]
    candidates = candidates or [FASHION_DEBIAN]
    for folder in candidates:
        if all((folder / f).is_file() for f in FASHION_FILES.values()):
            return _fashion_files(folder), str(folder)
    if path or os.environ.get("NETSPLIT_FASHION_MNIST"):
        raise DatasetError(f"no Fashion-MNIST files in {candidates[0]}: expected {', '.join(FASHION_FILES.values())}")
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    except Exception as error:
        raise DatasetError(
            f"Fashion-MNIST was not found in {FASHION_DEBIAN} (install the Debian package "
            f"dataset-fashion-mnist) and could not be downloaded ({error})"
        ) from None
    pad = ((0, 0), (2, 2), (2, 2))
    return (np.pad(x_train, pad)[..., None], y_train, np.pad(x_test, pad)[..., None], y_test), "keras download"


def _synthetic(seed: int, input_shape=(32, 32, 3), num_classes: int = 10, train: int = 512, test: int = 128):
    """Learnable noise: each class has its own mean image. For tests only."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(0, 255, size=(num_classes, *input_shape))
    def draw(n):
        labels = rng.integers(0, num_classes, n)
        images = np.clip(means[labels] + rng.normal(0, 60, (n, *input_shape)), 0, 255)
        return images.astype(np.uint8), labels
    return (*draw(train), *draw(test)), "generated"


def _hold_out(x: np.ndarray, y: np.ndarray, size: int | None, rng: np.random.Generator):
    """Split ``size`` random images off (x, y): returns the rest and the held-out part (None if no size)."""
    if size is None:
        return x, y, None, None
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 1 <= size < len(x):
        raise InputError(f"validation_size must be an integer from 1 to {len(x) - 1} (the training images "
                         f"less one), got {size!r}")
    held = np.zeros(len(x), bool)
    held[rng.permutation(len(x))[:size]] = True
    return x[~held], y[~held], x[held], y[held]


def _subset(x: np.ndarray, y: np.ndarray, size: int | None, rng: np.random.Generator, option: str, what: str):
    """``size`` of the images, drawn by ``rng``; all of them for None. Asking for more than there are is refused:
    a network trained on fewer images than its settings say would be recorded under the wrong settings."""
    if size is None or size == len(x):
        return x, y
    if size < 1:
        raise InputError(f"subset sizes must be positive integers, got {size}")
    if size > len(x):
        raise InputError(f"{option} {size} is more than the {len(x)} {what}; give at most {len(x)}, "
                         "or leave it out to use them all")
    index = np.sort(rng.permutation(len(x))[:size])
    return x[index], y[index]


def load_dataset(
    name: str,
    train_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
    path: str | os.PathLike | None = None,
    validation_size: int | None = None,
    image_shape: tuple[int, int, int] | None = None,
) -> Dataset:
    """Load ``name`` (see :func:`check_dataset`), optionally a random subset, normalised per channel.

    ``validation_size`` images are held out of the training set first (seeded, the same whatever
    ``train_size``), for decisions that must not see the test set. With ``image_shape`` (a network's
    input), images are resized to its height and width and get its channels.

    >>> data = load_dataset("synthetic", train_size=64, test_size=32)
    >>> data.x_train.shape, data.num_classes
    ((64, 32, 32, 3), 10)
    """
    check_dataset(name)
    if name == "cifar10":
        arrays, source = _cifar10(path)
        classes, flip = CIFAR10_CLASSES, True
    elif name == "fashion_mnist":
        arrays, source = _fashion_mnist(path)
        classes, flip = FASHION_CLASSES, True
    elif name == "synthetic":
        arrays, source = _synthetic(seed)
        classes, flip = tuple(f"class {i}" for i in range(10)), False
    else:
        arrays, classes, source = read_own(name, image_shape)
        flip = False  # whether a mirrored image is still of its class is not known for your own images
    _check(arrays, classes, source)
    content = array_hash(arrays)
    x_rest, y_rest, x_val, y_val = _hold_out(arrays[0], arrays[1], validation_size, np.random.default_rng([seed, 1]))
    rng = np.random.default_rng(seed)
    held = f" left after {validation_size} held out for validation" if validation_size else ""
    x_train, y_train = _subset(x_rest, y_rest, train_size, rng, "train_size", f"training images{held}")
    x_test, y_test = _subset(arrays[2], arrays[3], test_size, rng, "test_size", "test images")
    # Grey images for a colour network are standardised in grey, then repeated: three times less work, and
    # each colour channel gets the grey channel's mean and deviation, as it would repeated first.
    grey = all(x.ndim == 3 or x.shape[-1] == 1 for x in (x_train, x_test))
    colour = 3 if image_shape is not None and image_shape[2] == 3 and grey else 1
    if image_shape is not None:
        fitted = (*image_shape[:2], 1) if colour == 3 else image_shape
        x_train, x_test = (fit_images(x, fitted, name) for x in (x_train, x_test))
        x_val = None if x_val is None else fit_images(x_val, fitted, name)
    x_train = _scaled(x_train)
    mean = x_train.mean(axis=(0, 1, 2))
    std = x_train.std(axis=(0, 1, 2)) + 1e-6

    def normalise(x: np.ndarray) -> np.ndarray:
        x = ((x - mean) / std).astype(np.float32)
        return np.repeat(x, 3, axis=-1) if colour == 3 else x

    return Dataset(
        name, normalise(x_train), y_train, normalise(_scaled(x_test)), y_test, classes, flip, source,
        None if x_val is None else normalise(_scaled(x_val)), y_val, content,
        tuple(float(v) for v in mean) * colour, tuple(float(v) for v in std) * colour,
    )


def array_hash(arrays: Sequence[np.ndarray]) -> str:
    """SHA-256 of arrays' shapes, types and values, in order.

    >>> array_hash([np.zeros(2)]) == array_hash([np.zeros(2)]) != array_hash([np.ones(2)])
    True
    """
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def _scaled(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 255.0


def augment(images: np.ndarray, rng: np.random.Generator, flip: bool, pad: int = 4) -> np.ndarray:
    """Random crop after ``pad`` pixels of zero padding, and a random horizontal flip."""
    n, height, width, _ = images.shape
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dy, dx = rng.integers(0, 2 * pad + 1, n), rng.integers(0, 2 * pad + 1, n)
    rows = dy[:, None] + np.arange(height)
    cols = dx[:, None] + np.arange(width)
    out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    if flip:
        mirrored = rng.random(n) < 0.5
        out[mirrored] = out[mirrored, :, ::-1]
    return out


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled, augmented training batches; numpy only, so it feeds every backend."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, flip: bool, augment_images: bool = True):
        super().__init__()
        self.x, self.y, self.batch_size, self.flip = x, y, batch_size, flip
        self.augment_images = augment_images
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self) -> int:
        return len(self.x) // self.batch_size or 1

    def __getitem__(self, index: int):
        batch = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.x[batch]
        if self.augment_images:
            images = augment(images, self.rng, self.flip)
        return images, self.y[batch]

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(len(self.x))
