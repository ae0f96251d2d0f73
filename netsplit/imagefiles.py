"""Your own images as a data set: a folder with one sub-folder of images per class, or a ``.npz`` file.

``folder:PATH`` reads PATH/<class>/<image> as ``keras.utils.image_dataset_from_directory`` does
(.bmp, .gif, .jpeg, .jpg, .png; classes in alphabetical order). Where PATH holds ``train/`` and
``test/`` folders of that form, they are the training and test sets; otherwise a fifth of each class,
chosen with a fixed seed, is held out as the test set. ``npz:PATH`` reads the arrays ``x_train``,
``y_train``, ``x_test`` and ``y_test`` (images (N, H, W) or (N, H, W, C) of finite numbers, integer labels
from 0; every test label must also be a training label).
Given the network's input shape, images are resized to it and get its number of channels; without it,
a folder's images are read in colour and must all have one size.

The images are read with Pillow rather than ``keras.utils.image_dataset_from_directory``, which yields
tf.data batches: the search needs the whole set as arrays, to hold images out and draw subsets with
numpy seeds on every backend.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import keras
import numpy as np
from PIL import Image, UnidentifiedImageError

from netsplit.errors import DatasetError

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
TEST_FRACTION = 0.2
"""The share of each class a folder without ``test/`` holds out as its test set."""
MODES = {1: "L", 3: "RGB", 4: "RGBA"}
ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def check_sizes(arrays: tuple[np.ndarray, ...], where: str, names: tuple[str, ...] = ARRAY_NAMES) -> None:
    """Raise unless (x_train, y_train, x_test, y_test) hold training and test images and one label per image;
    messages start with ``where`` and call the arrays ``names``."""
    for part, start in (("training", 0), ("test", 2)):
        (x, y), (x_name, y_name) = arrays[start : start + 2], names[start : start + 2]
        if not len(x):
            raise DatasetError(f"{where}: the {part} set is empty ({x_name} holds no images)")
        if y.ndim != 1 or len(y) != len(x):
            found = f"{len(y):,} labels" if y.ndim == 1 else f"labels of shape {y.shape}"
            raise DatasetError(f"{where}: {y_name} holds {found} but {x_name} {len(x):,} images; "
                               "each image needs one label")


def own_data_hash(name: str) -> str | None:
    """SHA-256 of the files behind ``folder:`` or ``npz:`` data (each file's path within the folder and its bytes),
    None for a built-in data set or where there is nothing to read yet (the loader then says what is missing).

    >>> own_data_hash("fashion_mnist") is None  # not the working folder's files
    True
    """
    kind, colon, path = name.partition(":")
    if not colon or kind not in ("folder", "npz"):
        return None
    location = Path(path).expanduser()
    files = sorted(p for p in location.rglob("*") if p.is_file()) if location.is_dir() else \
        [location] if location.is_file() else []
    if not files:
        return None
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(location) if location.is_dir() else file.name).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def read_own(name: str, image_shape: tuple[int, int, int] | None = None) -> tuple[Arrays, tuple[str, ...], str]:
    """The arrays (x_train, y_train, x_test, y_test), class names and source of ``folder:`` or ``npz:`` data."""
    kind, _, path = name.partition(":")
    location = Path(path).expanduser()
    if kind == "folder":
        arrays, classes = _folder(location, image_shape)
    else:
        arrays, classes = _npz(location, image_shape)
    return arrays, classes, str(location)


def _class_folders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DatasetError(f"no image folder at {folder}: expected one sub-folder of images per class")
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        found = f"only {classes[0].name!r}" if classes else "none"
        raise DatasetError(f"{folder} needs a sub-folder of images per class, at least two; found {found}")
    return classes


def _images_of(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not files:
        raise DatasetError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def _read(file: Path, mode: str, size: tuple[int, int] | None) -> np.ndarray:
    try:
        with Image.open(file) as image:
            image = image.convert(mode)
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DatasetError(f"{file} is not a readable image ({error})") from None
    return pixels[..., None] if pixels.ndim == 2 else pixels


def _read_all(files: list[Path], image_shape: tuple[int, int, int] | None) -> np.ndarray:
    """Every file as one array; without ``image_shape`` (no resizing) all must have the first one's size."""
    channels = 3 if image_shape is None else image_shape[2]
    if channels not in MODES:
        raise DatasetError(f"images are read with 1, 3 or 4 channels, not {channels}")
    size = None if image_shape is None else image_shape[:2]
    images = [_read(file, MODES[channels], size) for file in files]
    for file, image in zip(files, images):
        if image.shape != images[0].shape:
            raise DatasetError(f"{file} is {image.shape[1]}x{image.shape[0]} pixels but {files[0]} is "
                               f"{images[0].shape[1]}x{images[0].shape[0]}: give the network's input shape "
                               "(image_shape) to resize them, or make the images one size")
    return np.stack(images)


def _labelled(folder: Path, classes: list[str]) -> tuple[list[Path], np.ndarray]:
    files, labels = [], []
    for label, name in enumerate(classes):
        found = _images_of(folder / name)
        files += found
        labels += [label] * len(found)
    return files, np.asarray(labels, dtype=np.int64)


def _folder(folder: Path, image_shape) -> tuple[Arrays, tuple[str, ...]]:
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        classes = [p.name for p in _class_folders(folder / "train")]
        test_classes = [p.name for p in _class_folders(folder / "test")]
        if test_classes != classes:
            raise DatasetError(f"{folder / 'test'} has the classes {test_classes}, {folder / 'train'} {classes}; "
                               "they must be the same")
        train_files, y_train = _labelled(folder / "train", classes)
        test_files, y_test = _labelled(folder / "test", classes)
    else:
        classes = [p.name for p in _class_folders(folder)]
        files, labels = _labelled(folder, classes)
        held = _held_out(labels)
        if not held.any():
            raise DatasetError(f"{folder}: no class has two images or more, so none can be held out as the test set; "
                               "add images, or give train/ and test/ folders")
        train_files, y_train = [f for f, h in zip(files, held) if not h], labels[~held]
        test_files, y_test = [f for f, h in zip(files, held) if h], labels[held]
    images = _read_all(train_files + test_files, image_shape)
    return (images[: len(train_files)], y_train, images[len(train_files) :], y_test), tuple(classes)


def _held_out(labels: np.ndarray) -> np.ndarray:
    """A fixed-seed :data:`TEST_FRACTION` of each class (at least one image of a class with two or more)."""
    rng, held = np.random.default_rng(0), np.zeros(len(labels), bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = int(round(TEST_FRACTION * len(members))) or (1 if len(members) > 1 else 0)
        held[rng.permutation(members)[:count]] = True
    return held


def _npz_arrays(file: Path) -> Arrays:
    """The arrays :data:`ARRAY_NAMES` of an .npz file, as they are stored."""
    if not file.is_file():
        raise DatasetError(f"no .npz file at {file}: expected arrays {', '.join(ARRAY_NAMES)}")
    if not zipfile.is_zipfile(file):
        problem = "it is empty (0 bytes)" if not file.stat().st_size else "it is not a zip archive of arrays"
        raise DatasetError(f"{file} is not a readable .npz file: {problem}; numpy.savez writes one")
    try:
        with np.load(file, allow_pickle=False) as archive:
            missing = [key for key in ARRAY_NAMES if key not in archive.files]
            if missing:
                raise DatasetError(f"{file} lacks {', '.join(missing)}; a data set file holds {', '.join(ARRAY_NAMES)}")
            return tuple(archive[key] for key in ARRAY_NAMES)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DatasetError(f"{file} is not a readable .npz file ({error})") from None


def _npz_images(file: Path, key: str, x: np.ndarray) -> np.ndarray:
    """``x`` checked to be finite images (N, H, W) or (N, H, W, C), with a channel axis."""
    if x.ndim not in (3, 4) or not np.issubdtype(x.dtype, np.number):
        raise DatasetError(f"{file}: {key} must be images (N, H, W) or (N, H, W, C) of numbers, got "
                           f"shape {x.shape} and type {x.dtype}")
    bad = x.size - np.count_nonzero(np.isfinite(x)) if np.issubdtype(x.dtype, np.inexact) else 0
    if bad:
        raise DatasetError(f"{file}: {key} holds {bad:,} NaN or infinite values; images must be finite numbers")
    return fit_images(x, None, f"{file}:{key}")  # resized after subsets are drawn


def _npz_labels(file: Path, labels: tuple[np.ndarray, np.ndarray]) -> int:
    """The number of classes that y_train and y_test (integers from 0; every test label a training one) name."""
    for key, y in zip(("y_train", "y_test"), labels):
        if not np.issubdtype(y.dtype, np.integer):
            raise DatasetError(f"{file}: {key} must hold one integer label from 0 per image, got {y.dtype} labels")
        if y.min() < 0:
            raise DatasetError(f"{file}: {key} must hold one integer label from 0 per image, got labels "
                               f"from {y.min()} to {y.max()}")
    unseen = np.setdiff1d(labels[1], labels[0])
    if len(unseen):
        raise DatasetError(f"{file}: y_test uses labels {np.array2string(unseen, separator=', ', threshold=6)} that "
                           "y_train never uses; every test class needs training images")
    count = int(labels[0].max()) + 1
    if count < 2:
        raise DatasetError(f"{file}: the labels name {count} class; a classifier needs at least two")
    return count


def _npz(file: Path, image_shape) -> tuple[Arrays, tuple[str, ...]]:
    x_train, y_train, x_test, y_test = _npz_arrays(file)
    images = [_npz_images(file, key, x) for key, x in (("x_train", x_train), ("x_test", x_test))]
    labels = tuple(y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y for y in (y_train, y_test))
    check_sizes((images[0], labels[0], images[1], labels[1]), str(file))
    count = _npz_labels(file, labels)
    if image_shape is None and images[0].shape[1:] != images[1].shape[1:]:
        raise DatasetError(f"{file}: x_train images are {images[0].shape[1:]}, x_test {images[1].shape[1:]}; "
                           "give the network's input shape (image_shape) to resize them")
    arrays = images[0], labels[0].astype(np.int64), images[1], labels[1].astype(np.int64)
    return arrays, tuple(str(i) for i in range(count))


def fit_images(images: np.ndarray, image_shape: tuple[int, int, int] | None, where: str,
               chunk: int = 2048) -> np.ndarray:
    """Images (N, H, W[, C]) resized (bilinear) to ``image_shape``'s height and width, with its channels
    (grey repeated to colour, or colour averaged to grey); unchanged but for a channel axis if None."""
    images = images[..., None] if images.ndim == 3 else images
    if image_shape is None:
        return images
    height, width, channels = image_shape
    have = images.shape[-1]
    if have != channels:
        if {have, channels} != {1, 3}:
            raise DatasetError(f"{where}: images have {have} channels, the network takes {channels}")
        images = np.repeat(images, 3, axis=-1) if channels == 3 else images.mean(axis=-1, keepdims=True)
    if images.shape[1:3] == (height, width):
        return images
    return np.concatenate([
        keras.ops.convert_to_numpy(keras.ops.image.resize(images[i : i + chunk].astype(np.float32), (height, width)))
        for i in range(0, len(images), chunk)
    ])
