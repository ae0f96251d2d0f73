"""netsplit: splitting CNN structures for efficient inference (arXiv:2002.03302), in Keras 3.

The public names load on first use, so that ``import netsplit`` is quick and the command line can
quiet TensorFlow before Keras starts. The layers register themselves with Keras where they are defined
(:mod:`netsplit.layers`); :func:`netsplit.load_model` imports them and loads a saved split network:

>>> import netsplit
>>> model = netsplit.split_model("vgg16", split=(8, 2, 2, 4, 4), width_multiplier=0.25)
>>> netsplit.total(netsplit.analyse(model)).params == sum(layer.count_params() for layer in model.layers)
True
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

PUBLIC = {
    "netsplit.layers": ("SplitBlock", "Fusion"),
    "netsplit.models": ("split_model", "build_model"),
    "netsplit.applications": ("SplitVGG16", "SplitResNet18"),
    "netsplit.networks": ("split_network", "load_model"),
    "netsplit.inheritance": ("inherit",),
    "netsplit.complexity": ("analyse", "total"),
    "netsplit.data": ("load_dataset",),
    "netsplit.train": ("TrainConfig", "fit", "train_network"),
    "netsplit.search.config": ("SearchConfig",),
    "netsplit.search.rule": ("replay",),
    "netsplit.search.runner": ("run_search",),
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

