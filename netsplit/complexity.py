"""Parameters, multiply-accumulates and activation memory, per block and in total.

Activation memory is the largest set of feature maps that inference at batch 1 must hold at one
moment. *Layer by layer* runs every layer on all its channels (the ordinary way). *Branch by branch*
runs the branches of a split block one after another: it holds the block input, the current
branch's maps, and the pooled outputs of the branches already done.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import keras
from keras import layers

from netsplit.layers import Fusion, SplitBlock, pooled_size, split_widths


def eq1_params(l0: int, l1: int, l2: int, kernel: int = 3) -> int:
    """Paper Eq. 1: weights of two convs with L0 inputs, L1 and L2 filters."""
    return (l0 * l1 + l1 * l2) * kernel**2


def eq2_params(l0: int, l1: int, l2: int, k1: int, k2: int, kernel: int = 3) -> float:
    """Paper Eq. 2: the same two convs split by k1 and k2 (the first keeps its weights)."""
    return ((l0 * l1 / k1) * k1 + (l1 / k1) * (l2 / k2) * k2) * kernel**2


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


def _conv_out(shape, stride: int, width: int):
    return tuple(-(-d // stride) for d in shape[:2]) + (width,)


class _Walk:
    """Runs one code path of a split block over shapes, tracking MACs and the peak of live maps."""

    def __init__(self, block: SplitBlock, branch_widths: list[int] | None):
        self.block, self.widths = block, branch_widths
        self.macs, self.peak = 0, 0

    def _width(self, unit_index: int) -> int:
        full = self.block.unit_specs[unit_index].width
        return full if self.widths is None else self.widths[unit_index]

    def _conv(self, shape, kernel: int, stride: int, width: int, live: int):
        out = _conv_out(shape, stride, width)
        self.macs += _elements(out) * kernel**2 * shape[-1]
        self.peak = max(self.peak, live + _elements(out))
        return out

    def run(self, shape, held: int, input_held: bool, pooling: str | None):
        """Walk the units from ``shape``. ``held`` is memory kept outside the path; the path's own
        input counts on top of it unless ``input_held`` says it is already inside ``held``."""
        x_live = 0 if input_held else _elements(shape)
        for i, unit in enumerate(self.block.unit_specs):
            width, before = self._width(i), held + x_live
            if unit.kind == "conv":
                shape_out = self._conv(shape, 3, unit.stride, width, before)
            else:
                a = self._conv(shape, 3, unit.stride, width, before)
                shape_out = self._conv(a, 3, 1, width, before + _elements(a))
                if f"u{i}p" in self.block.positions:
                    self._conv(shape, 1, unit.stride, width, before + _elements(shape_out))
            x_live = _elements(shape_out)
            if unit.pool:
                pooled = pooled_size(shape_out[:2]) + (width,)
                self.peak = max(self.peak, held + x_live + _elements(pooled))
                shape_out, x_live = pooled, _elements(pooled)
            shape = shape_out
        if pooling:
            kept = _pooled_shape(shape, pooling)
            self.peak = max(self.peak, held + x_live + _elements(kept))
            return kept
        return shape


def _pooled_shape(shape, pooling: str | None):
    if pooling == "global":
        return (1, 1, shape[-1])
    if pooling in ("max", "avg"):
        return pooled_size(shape[:2]) + (shape[-1],)
    return shape


def split_block_cost(block: SplitBlock, shape, pooling: str | None, dtype_bytes: int) -> BlockCost:
    """Cost of a split block whose branch outputs get ``pooling`` next (from its fusion, if any).

    Branch by branch, the block input stays held while the branches run (each first conv reads it).
    """
    whole = _Walk(block, None)
    whole.run(shape, 0, False, None)
    factor, branch_macs = block.factor, 0
    if factor == 1:
        branchwise = whole.peak
    else:
        kept, branchwise = 0, 0
        for j in range(factor):
            widths = [split_widths(u.width, factor)[j] for u in block.unit_specs]
            walk = _Walk(block, widths)
            out = walk.run(shape, _elements(shape) + kept, True, pooling)
            kept += _elements(out)
            branchwise, branch_macs = max(branchwise, walk.peak), branch_macs + walk.macs
    macs = whole.macs if factor == 1 else branch_macs
    return BlockCost("", block.count_params(), macs, whole.peak * dtype_bytes, branchwise * dtype_bytes)


def _layer_cost(layer, shape, dtype_bytes: int) -> tuple[int, int]:
    """MACs and peak elements (input + output) of an ordinary layer."""
    out = layer.compute_output_shape((1, *shape))[1:]
    macs = 0
    if isinstance(layer, layers.Dense):
        macs = _elements(shape) * int(out[-1])
    elif isinstance(layer, Fusion):
        macs = _elements(out) * int(shape[-1])
        pooled = _pooled_shape(shape, layer.pooling)
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
    chain = [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    costs: dict[str, BlockCost] = {}
    block = "head"
    for index, layer in enumerate(chain):
        block = _block_of(layer, block)
        key = block
        follower = chain[index + 1] if index + 1 < len(chain) else None
        if isinstance(layer, SplitBlock):
            pooling = follower.pooling if isinstance(follower, Fusion) else None
            cost = split_block_cost(layer, shape, pooling, dtype_bytes)
        else:
            macs, peak = _layer_cost(layer, shape, dtype_bytes)
            cost = BlockCost("", layer.count_params(), macs, peak, peak)
            if isinstance(layer, Fusion):  # branch by branch, its input arrives already pooled
                pooled = _pooled_shape(shape, layer.pooling)
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


BLOCK_ENDS = (Fusion, layers.MaxPooling2D, layers.AveragePooling2D)
"""Layers that close the block before them (a split block's fusion, an unsplit block's pooling)."""


def _block_of(layer, previous: str) -> str:
    """The block a layer belongs to: a split block names its own; its fusion or pooling joins it;
    anything else (the classifier) is the head."""
    if isinstance(layer, SplitBlock):
        return layer.name
    if isinstance(layer, BLOCK_ENDS) and previous != "head":
        return previous
    return "head"


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
