"""The names the library accepts, importable without Keras: the command line builds its options from them."""

import os
from pathlib import Path

from netsplit.errors import InputError

MODELS = ("vgg16", "resnet18")
"""The built-in models."""
VARIANTS = ("proposed", "naive", "shared")
"""How a built-in model is split: per block with fusions (the paper's method), or the two comparators."""
PRECISIONS = ("float32", "float16", "int8")
"""What an exported LiteRT model computes in."""
LOWERINGS = ("grouped", "masked", "branches")
"""How an exported split block runs on the engine: grouped convolutions, dense convolutions with
block-diagonal weights, or one convolution per branch."""
DATASETS = ("cifar10", "fashion_mnist", "synthetic")
"""The built-in data sets (``synthetic`` is for tests only, never a result)."""
OWN_DATA = ("folder", "npz")
"""Kinds of your own data: ``folder:PATH`` (a folder per class) and ``npz:PATH`` (arrays)."""
DATASET_HELP = "cifar10, fashion_mnist, folder:PATH (a sub-folder of images per class) or npz:PATH"
"""The data sets, as options describe them."""


def is_network_file(name: object) -> bool:
    """Whether ``name`` names a .keras file (a network of your own) rather than a built-in model."""
    return isinstance(name, (str, os.PathLike)) and Path(name).suffix == ".keras"


def check_dataset(name: str) -> str:
    """``name`` if it names a data set: one of :data:`DATASETS`, ``folder:PATH`` or ``npz:PATH``; else raise."""
    kind, colon, path = str(name).partition(":")
    if name in DATASETS or (colon and kind in OWN_DATA and path):
        return name
    raise InputError(f"unknown dataset {name!r}; valid datasets are {', '.join(DATASETS)}, folder:PATH "
                     "(a sub-folder of images per class) and npz:PATH (x_train, y_train, x_test, y_test)")


def check_split(split, blocks: int = 5) -> tuple[int, ...]:
    """A split, one factor per block, as a tuple; ``None`` means unsplit (all ones)."""
    if split is None:
        return (1,) * blocks
    if isinstance(split, str) or not hasattr(split, "__len__"):
        raise InputError(f"a split must be a sequence of {blocks} integers such as (8, 2, 2, 4, 4), got {split!r}")
    if len(split) != blocks:
        raise InputError(f"a split needs one factor per block ({blocks}), got {len(split)}: {tuple(split)}")
    return tuple(split)
