"""The stages of a split model: each split block with the layer that closes it, read in one place.

A split block is followed by the fusion that joins its branches (or, as in the naive split, by nothing that
mixes them); an unsplit block may be followed by its pooling. Costs, branch-by-branch inference and parameter tables all read a model through
:func:`chain`, so a layer put between a block and its fusion is an error, never a wrong count.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from netsplit.errors import InputError
from netsplit.layers import Fusion, SplitBlock

STAGE_ENDS = (Fusion, layers.MaxPooling2D, layers.AveragePooling2D)
"""Layers that close the block before them: a split block's fusion, an unsplit block's pooling."""


@dataclass(frozen=True)
class Stage:
    """A split block and the layer that closes it (its fusion, its pooling, or None)."""

    block: SplitBlock
    end: keras.layers.Layer | None = None

    @property
    def name(self) -> str:
        """The block's name, which names the stage in cost tables."""
        return self.block.name

    @property
    def fusion(self) -> Fusion | None:
        """The fusion that joins the block's branches; None for an unsplit block."""
        return self.end if isinstance(self.end, Fusion) else None

    @property
    def layers(self) -> tuple[keras.layers.Layer, ...]:
        """The stage's layers in the order they run."""
        return (self.block,) if self.end is None else (self.block, self.end)


def chain(model: keras.Model) -> list[keras.layers.Layer | Stage]:
    """A chain-shaped netsplit model's layers in order, each split block and its end as one :class:`Stage`.

    >>> from netsplit.models import split_model
    >>> [item.name for item in chain(split_model("vgg16", (8, 2, 2, 4, 4), width_multiplier=0.125))]
    ['block1', 'block2', 'block3', 'block4', 'block5', 'head_pool', 'head_dense']
    """
    rest = [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    items: list[keras.layers.Layer | Stage] = []
    while rest:
        layer = rest.pop(0)
        if isinstance(layer, SplitBlock):
            end = rest.pop(0) if rest and isinstance(rest[0], STAGE_ENDS) else None
            items.append(Stage(layer, end))
        elif isinstance(layer, Fusion):
            after = f"follows {layers_of(items[-1])[-1].name!r}" if items else "comes first"
            raise InputError(f"{model.name}: the fusion {layer.name!r} {after}, not a split block; a fusion must "
                             "directly follow the split block whose branches it joins")
        else:
            items.append(layer)
    return items


def layers_of(item: keras.layers.Layer | Stage) -> tuple[keras.layers.Layer, ...]:
    """The layers an item of :func:`chain` holds, in the order they run."""
    return item.layers if isinstance(item, Stage) else (item,)


def stages(model: keras.Model) -> list[Stage]:
    """The stages of a netsplit model, in order.

    >>> from netsplit.models import split_model
    >>> [(stage.name, stage.block.factor, stage.end.name) for stage in stages(split_model("vgg16", (2, 1, 1, 1, 1)))][:2]
    [('block1', 2, 'block1_fusion'), ('block2', 1, 'block2_pool')]
    """
    return [item for item in chain(model) if isinstance(item, Stage)]
