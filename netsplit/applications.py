"""The split networks as ``keras.applications`` builds networks: ``SplitVGG16(...)`` and ``SplitResNet18(...)``,
with the standard keywords, a split and a width, and the named splits as presets with a description.

>>> from netsplit.applications import SplitVGG16, presets
>>> SplitVGG16(split="proposed_I", width_multiplier=0.25, include_top=False, pooling="avg").output_shape
(None, 128)
>>> presets("vgg16")["proposed_I"]["split"]
(8, 2, 2, 4, 4)
"""

from __future__ import annotations

import keras

from netsplit.errors import InputError
from netsplit.choices import MODELS
from netsplit.models import PRESETS, split_model

PRESET_DESCRIPTIONS = {
    "proposed_I": "the paper's VGG16 split found at its threshold of 0.5 points: factors 8,2,2,4,4, about half the "
                  "parameters, 0.61 points below the unsplit network on CIFAR-10 (paper, Section 4)",
    "proposed_II": "the paper's VGG16 split found at a second threshold: factors 8,2,2,2,4 (block 4 split less)",
}
"""What each preset of :data:`~netsplit.models.PRESETS` is, as keras-hub describes its presets."""


def presets(model: str = "vgg16") -> dict[str, dict]:
    """The named splits of ``model``: for each, its split, description and parameters at full width."""
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; valid models are {', '.join(MODELS)}")
    if model != "vgg16":  # the paper names VGG16's splits only
        return {}
    return {name: {"split": split, "description": PRESET_DESCRIPTIONS[name],
                   "params": split_model(model, split, implementation="branches").count_params()}
            for name, split in PRESETS.items()}


def _builder(model: str, default_name: str, example: str):
    def build(*, split=None, width_multiplier: float = 1.0, include_top: bool = True, weights=None,
              input_tensor=None, input_shape=None, pooling: str | None = None, classes: int = 10,
              classifier_activation: str | None = None, name: str = default_name) -> keras.Model:
        return split_model(model, split, input_shape or (32, 32, 3), classes, width_multiplier,
                           include_top=include_top, weights=weights, classifier_activation=classifier_activation,
                           name=name, input_tensor=input_tensor, pooling=pooling)

    build.__name__ = build.__qualname__ = f"Split{model.upper().replace('RESNET', 'ResNet')}"
    build.__doc__ = (f"{model} split by ``split`` (a factor per block, or a preset's name), with the keywords of "
                     "``keras.applications``; ``weights`` is None, a ``.weights.h5`` file, or a trained network to "
                     "inherit from; ``classes`` defaults to 10 (CIFAR-10) and the classifier gives logits.\n\n"
                     f"    >>> from netsplit.applications import {build.__name__}\n    {example}\n")
    return build


SplitVGG16 = _builder("vgg16", "split_vgg16", ">>> SplitVGG16(split=\"proposed_I\", width_multiplier=0.25).output_shape\n"
                                             "    (None, 10)")
SplitResNet18 = _builder("resnet18", "split_resnet18", ">>> SplitResNet18(split=(1, 2, 1, 1, 1), width_multiplier=0.125, "
                                                       "include_top=False).output_shape\n    (None, 4, 4, 64)")
