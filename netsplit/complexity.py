"""Parameters, multiply-accumulates and activation memory, per block and in total.

Activation memory is the largest set of feature maps that inference at batch 1 must hold at one
moment. *Layer by layer* runs every layer on all its channels (the ordinary way). *Branch by branch*
runs the branches of a split block one after another: it holds the block input, the current
branch's maps, and the pooled outputs of the branches already done.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import keras
import pandas as pd
from keras import layers

from netsplit.choices import is_network_file
from netsplit.errors import InputError
from netsplit.blocks import ShapeSteps, conv_shape, pooled_shape, split_widths, walk_units
from netsplit.layers import Fusion, SplitBlock
from netsplit.models import build_model, split_model
from netsplit.networks import load_network, split_network
from netsplit.stages import STAGE_ENDS, Stage, chain


def eq1_params(l0: int, l1: int, l2: int, kernel: int = 3) -> int:
    """Paper Eq. 1: weights of two convs with L0 inputs, L1 and L2 filters."""
    return (l0 * l1 + l1 * l2) * kernel**2


EQ2_READINGS = {
    "branches": "B = k: B counts a layer's branches",
    "one branch": "B = 1: the weights of one branch",
}
"""The two readings of Eq. 2's B: the number of branches of each layer (this book's; the first layer then
keeps its weights), or one, so that Eq. 2 counts what a single branch holds."""


def eq2_branches(k: float, reading: str = "branches") -> float:
    """Eq. 2's B for a layer split by ``k`` under ``reading`` (a key of :data:`EQ2_READINGS`)."""
    if reading not in EQ2_READINGS:
        raise InputError(f"unknown reading of Eq. 2's B {reading!r}; readings are {', '.join(EQ2_READINGS)}")
    return k if reading == "branches" else 1


def eq2_params(l0: int, l1: int, l2: int, k1: int, k2: int, kernel: int = 3, reading: str = "branches") -> float:
    """Paper Eq. 2: the same two convs split by k1 and k2, B read as ``reading`` (by default B = k)."""
    b1, b2 = eq2_branches(k1, reading), eq2_branches(k2, reading)
    return ((l0 * l1 / k1) * b1 + (l1 / k1) * (l2 / k2) * b2) * kernel**2


def eq2_grid(l0: int, l1: int, l2: int, factors: Sequence[int], reading: str = "branches",
             kernel: int = 3) -> pd.DataFrame:
    """Eq. 2 at every (k1, k2) of ``factors`` under ``reading`` (paper Fig. 5): a row per k2, a column per k1."""
    grid = pd.DataFrame([[eq2_params(l0, l1, l2, k1, k2, kernel, reading) for k1 in factors] for k2 in factors],
                        index=pd.Index(list(factors), name="k2"), columns=pd.Index(list(factors), name="k1"))
    grid.attrs.update(layers=(l0, l1, l2), reading=reading)
    return grid


@dataclass
class BlockCost:
    """What one block costs: parameters, MACs, and peak activation bytes in both execution orders."""

    block: str
    params: int
    macs: int
    memory_layerwise: int
    memory_branchwise: int

    def as_dict(self) -> dict:
        return asdict(self)


def _elements(shape) -> int:
    return math.prod(int(d) for d in shape)


class CostSteps(ShapeSteps):
    """:func:`~netsplit.blocks.walk_units` over shapes, counting MACs and the peak of live feature maps.

    ``branch`` is the branch whose slim widths are walked (None: the whole block). ``held`` is memory
    kept outside the walk; the block input counts on top of it unless ``input_held`` says it is inside.
    """

    def __init__(self, block: SplitBlock, branch: int | None, held: int, block_input, input_held: bool):
        self.block, self.branch, self.held = block, branch, held
        self.block_input, self.input_held = block_input, input_held
        self.macs, self.peak = 0, 0

    def _live(self, *maps) -> int:
        return self.held + sum(0 if m is self.block_input and self.input_held else _elements(m) for m in maps)

    def conv(self, spec, shape, keep: tuple = ()):
        width = spec.width if self.branch is None else split_widths(spec.width, self.block.factor)[self.branch]
        out = conv_shape(shape, spec, width)
        self.macs += _elements(out) * spec.kernel**2 * shape[-1]
        self.peak = max(self.peak, self._live(shape, *keep) + _elements(out))
        return out

    def pool(self, shape):
        pooled = pooled_shape(shape)
        self.peak = max(self.peak, self._live(shape) + _elements(pooled))
        return pooled

    def walk(self, shape, pooling: str | None = None):
        """Walk the block from ``shape``; with ``pooling``, also the fusion's pooling of the output."""
        out = walk_units(self.block.unit_specs, self.block.spec_map, shape, self)
        if pooling is None:
            return out
        kept = pooled_shape(out, pooling)
        self.peak = max(self.peak, self._live(out) + _elements(kept))
        return kept


def split_block_cost(block: SplitBlock, shape, pooling: str | None, dtype_bytes: int) -> BlockCost:
    """Cost of a split block whose branch outputs get ``pooling`` next (from its fusion, if any).

    Branch by branch, the block input stays held while the branches run (each first conv reads it,
    or its share of it).
    """
    whole = CostSteps(block, None, 0, shape, False)
    whole.walk(shape)
    if block.factor == 1:
        return BlockCost("", block.count_params(), whole.macs, whole.peak * dtype_bytes, whole.peak * dtype_bytes)
    channels = int(shape[-1])
    reads = split_widths(channels, block.factor) if block.shares_input(channels) else [channels] * block.factor
    kept, branchwise, macs = 0, 0, 0
    for j in range(block.factor):
        branch_input = (*shape[:-1], reads[j])
        walk = CostSteps(block, j, _elements(shape) + kept, branch_input, True)
        kept += _elements(walk.walk(branch_input, pooling))
        branchwise, macs = max(branchwise, walk.peak), macs + walk.macs
    return BlockCost("", block.count_params(), macs, whole.peak * dtype_bytes, branchwise * dtype_bytes)


def _layer_cost(layer, shape, dtype_bytes: int) -> tuple[int, int]:
    """MACs and peak elements (input + output) of an ordinary layer."""
    out = layer.compute_output_shape((1, *shape))[1:]
    macs = 0
    if isinstance(layer, layers.Dense):
        macs = _elements(shape) * int(out[-1])
    elif isinstance(layer, Fusion):
        macs = _elements(out) * int(shape[-1])
        pooled = pooled_shape(shape, layer.pooling)
        peak = max(_elements(shape) + _elements(pooled), _elements(pooled) + _elements(out))
        return macs, peak * dtype_bytes
    return macs, (_elements(shape) + _elements(out)) * dtype_bytes


def analyse(model: keras.Model, input_size: int | None = None, dtype_bytes: int = 4) -> list[BlockCost]:
    """Cost of each block of a chain-shaped netsplit model, at its own or a square ``input_size``.

    >>> from netsplit.models import split_model
    >>> [cost.block for cost in analyse(split_model("vgg16", width_multiplier=0.25))]
    ['block1', 'block2', 'block3', 'block4', 'block5', 'head']
    """
    shape = tuple(model.input_shape[1:])
    if input_size is not None:
        shape = (input_size, input_size, shape[-1])
    costs: dict[str, BlockCost] = {}
    for key, layer, pooling in _counted_layers(model):
        if isinstance(layer, SplitBlock):
            cost = split_block_cost(layer, shape, pooling, dtype_bytes)
        else:
            macs, peak = _layer_cost(layer, shape, dtype_bytes)
            cost = BlockCost("", layer.count_params(), macs, peak, peak)
            if isinstance(layer, Fusion):  # branch by branch, its input arrives already pooled
                pooled = pooled_shape(shape, layer.pooling)
                out = layer.compute_output_shape((1, *shape))[1:]
                cost.memory_branchwise = (_elements(pooled) + _elements(out)) * dtype_bytes
        shape = tuple(layer.compute_output_shape((1, *shape))[1:])
        previous = costs.get(key)
        if previous is None:
            costs[key] = BlockCost(key, cost.params, cost.macs, cost.memory_layerwise, cost.memory_branchwise)
        else:
            previous.params += cost.params
            previous.macs += cost.macs
            previous.memory_layerwise = max(previous.memory_layerwise, cost.memory_layerwise)
            previous.memory_branchwise = max(previous.memory_branchwise, cost.memory_branchwise)
    return list(costs.values())


def _counted_layers(model: keras.Model):
    """Each layer with the block it counts in and, for a split block, the pooling its fusion applies: a
    stage's layers count in its block, a pooling right after a stage too, anything else in the head."""
    key = "head"
    for item in chain(model):
        if isinstance(item, Stage):
            key = item.name
            yield key, item.block, item.fusion.pooling if item.fusion else None
            if item.end is not None:
                yield key, item.end, None
        else:
            key = key if isinstance(item, STAGE_ENDS) and key != "head" else "head"
            yield key, item, None


def total(costs: list[BlockCost]) -> BlockCost:
    """Whole-network figures: parameters and MACs add up; peak memory is the largest block's peak.

    >>> from netsplit.models import split_model
    >>> total(analyse(split_model("vgg16"))).params
    14732490
    """
    return BlockCost(
        "total",
        sum(c.params for c in costs),
        sum(c.macs for c in costs),
        max(c.memory_layerwise for c in costs),
        max(c.memory_branchwise for c in costs),
    )


def cost_frame(model: keras.Model, input_size: int | None = None) -> pd.DataFrame:
    """:func:`analyse` and :func:`total` as one table: a row per block, then "total".

    >>> from netsplit.models import split_model
    >>> cost_frame(split_model("vgg16", width_multiplier=0.25)).loc["total", "params"]
    np.int64(925242)
    """
    costs = analyse(model, input_size)
    return pd.DataFrame([cost.as_dict() for cost in [*costs, total(costs)]]).set_index("block")


def first_conv_costs(model: str = "vgg16", split: tuple[int, ...] = (8, 2, 2, 4, 4),
                     input_size: int = 32) -> dict[str, BlockCost]:
    """Whole-network cost at full width of ``model`` unsplit, as the shared split (3 shared convs, then
    4 branches), and split by ``split`` with each branch's first conv reading the whole input or its share."""
    networks = {
        "unsplit": build_model(model),
        "shared split": build_model(model, "shared", factor=4),
        "split, whole input": build_model(model, "proposed", split),
        "split, input share": build_model(model, "proposed", split, first_conv="share"),
    }
    return {name: replace(total(analyse(network, input_size)), block=name) for name, network in networks.items()}


@functools.cache
def network_costs(model: str, split: tuple[int, ...] | None, width_multiplier: float = 1.0,
                  input_shape: tuple[int, int, int] = (32, 32, 3)) -> tuple[int, int]:
    """Parameters and MACs of ``model`` (built-in, at ``width_multiplier`` and ``input_shape``, or a .keras
    file of your own at its input) split by ``split``."""
    if is_network_file(model):
        network = split_network(load_network(model), split, weights=False, implementation="branches")
    else:
        with warnings.catch_warnings():  # counting the split that saves nothing is how the search finds it out
            warnings.simplefilter("ignore", UserWarning)
            network = split_model(model, split, input_shape, width_multiplier=width_multiplier,
                                  implementation="branches")
    cost = total(analyse(network))
    return cost.params, cost.macs
