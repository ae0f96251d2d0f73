"""netsplit: splitting CNN structures for efficient inference (arXiv:2002.03302), in Keras 3.

The public names load on first use, so that ``import netsplit`` is quick and the command line can
quiet TensorFlow before Keras starts. The layers are registered with Keras as soon as both are
imported, in either order, so that ``keras.saving.load_model`` reads saved split networks:

>>> import netsplit
>>> model = netsplit.split_model("vgg16", split=(8, 2, 2, 4, 4), width_multiplier=0.25)
>>> netsplit.total(netsplit.analyse(model)).params == model.count_params()
True
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

PUBLIC = {
    "netsplit.layers": ("SplitBlock", "Fusion"),
    "netsplit.models": ("split_model", "build_model"),
    "netsplit.applications": ("SplitVGG16", "SplitResNet18"),
    "netsplit.networks": ("split_network",),
    "netsplit.inheritance": ("inherit",),
    "netsplit.complexity": ("analyse", "total"),
    "netsplit.data": ("load_dataset",),
    "netsplit.train": ("TrainConfig", "fit", "train_network"),
    "netsplit.config": ("SearchConfig",),
    "netsplit.search": ("replay",),
    "netsplit.runner": ("run_search",),
    "netsplit.records": ("RunRecord", "RecordStore", "read_records"),
    "netsplit.branchwise": ("predict_branchwise",),
    "netsplit.export": ("convert",),
    "netsplit.errors": ("InputError",),
}
"""Where each public name lives."""

__all__ = [name for names in PUBLIC.values() for name in names]
_HOME = {name: module for module, names in PUBLIC.items() for name in names}


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module 'netsplit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


class _RegisterWithKeras(importlib.abc.MetaPathFinder):
    """Imports :mod:`netsplit.layers` (which registers the layers) right after Keras is first imported; a
    mere look-up of Keras (``importlib.util.find_spec``, as TensorFlow makes) leaves it waiting."""

    looking = False

    def find_spec(self, name, path=None, target=None):
        if name != "keras" or self.looking:
            return None
        self.looking = True
        try:
            spec = importlib.util.find_spec("keras")
        finally:
            self.looking = False
        if spec is None or spec.loader is None:
            return spec
        run_module = spec.loader.exec_module

        def run_and_register(module) -> None:
            run_module(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            importlib.import_module("netsplit.layers")

        spec.loader.exec_module = run_and_register
        return spec


if "keras" in sys.modules:
    importlib.import_module("netsplit.layers")
else:
    sys.meta_path.insert(0, _RegisterWithKeras())
