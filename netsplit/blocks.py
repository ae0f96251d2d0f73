"""How a block is described: its units, the shape of each conv position, and the walk over one branch
that counts, builds and computes it (:func:`walk_units`). Nothing here makes a Keras layer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Protocol

import numpy as np

from netsplit.choices import MODELS
from netsplit.errors import InputError

IMPLEMENTATIONS = ("auto", "branches", "grouped", "masked")
"""How a split block runs: chosen per block ("auto"), one convolution per branch, one grouped convolution
per position, or one dense convolution per position whose kernel is zero outside the branches (masked)."""
FIRST_CONVS = ("whole", "share")
"""What each branch's first conv (and first shortcut) reads: the whole block input, or its share of it."""
POOLINGS = (None, "max", "avg", "global", "global_max")
BN_OPTIONS = {"momentum": 0.9, "epsilon": 1e-5}
NORM_KEYS = ("gamma", "beta", "moving_mean", "moving_variance")
"""The BN state of one conv position (a position also holds its kernel, and its bias if it has one)."""
NORMS = ("before", "after", "none")
ACTIVATIONS = (
    "linear", "relu", "relu6", "elu", "selu", "gelu", "silu", "swish", "sigmoid", "hard_sigmoid", "hard_silu",
    "hard_swish", "tanh", "softplus", "softsign", "mish", "leaky_relu", "exponential", "log_sigmoid",
)
"""Activations a block may use: those that act on each value alone, so that branches can apply them."""


@dataclass(frozen=True)
class Unit:
    """One step of a block: ``kind`` is "conv" (a convolution, its BN and activation) or "residual"
    (basic unit: two 3x3 conv-BN, a shortcut, ReLU). The defaults are the built-in networks' conv-BN-ReLU.

    ``norm`` puts batch normalisation "before" the activation, "after" it, or leaves it out ("none");
    ``epsilon`` and ``momentum`` are the BN's.

    >>> Unit("conv", 32, kernel=5, bias=True, norm="none").padding
    'same'
    """

    kind: str
    width: int
    stride: int = 1
    pool: bool = False  # 2x2 max pooling after the unit, inside each branch
    kernel: int = 3
    padding: str = "same"
    bias: bool = False
    norm: str = "before"
    activation: str = "relu"
    epsilon: float = BN_OPTIONS["epsilon"]
    momentum: float = BN_OPTIONS["momentum"]

    def __post_init__(self) -> None:
        if self.kind not in ("conv", "residual"):
            raise InputError(f"unit kind must be 'conv' or 'residual', got {self.kind!r}")
        if self.padding not in ("same", "valid"):
            raise InputError(f"unit padding must be 'same' or 'valid', got {self.padding!r}")
        if self.norm not in NORMS:
            raise InputError(f"unit norm must be one of {NORMS}, got {self.norm!r}")
        if self.activation not in ACTIVATIONS:
            raise InputError(f"unit activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        conv_options = (self.kernel, self.padding, self.bias, self.norm, self.activation)
        if self.kind == "residual" and conv_options != (3, "same", False, "before", "relu"):
            raise InputError("a residual unit is 3x3 conv-BN-ReLU with 'same' padding and no bias; "
                             "kernel, padding, bias, norm and activation describe conv units only")


@dataclass(frozen=True)
class ConvSpec:
    """A conv position inside a block: its name, kernel, stride, output width, whether it reads the
    whole block input (first conv and first shortcut of each branch, unless they read their share), its
    padding and bias, its BN's (epsilon, momentum), None where it has no BN, and the channels it reads."""

    name: str
    kernel: int
    stride: int
    width: int
    full_input: bool
    padding: str = "same"
    bias: bool = False
    norm: tuple[float, float] | None = (BN_OPTIONS["epsilon"], BN_OPTIONS["momentum"])
    reads: int = 0  # the channels of the whole block's tensor this conv reads (all branches together)

    @property
    def weight_keys(self) -> tuple[str, ...]:
        """What this position holds in each branch: kernel, bias (if any), BN state (if any)."""
        return ("kernel", *(("bias",) if self.bias else ()), *(NORM_KEYS if self.norm else ()))


def split_widths(width: int, factor: int) -> list[int]:
    """Branch widths, as even as possible: ``split_widths(64, 6) == [11, 11, 11, 11, 10, 10]``."""
    base, extra = divmod(width, factor)
    return [base + 1 if j < extra else base for j in range(factor)]


def split_slices(width: int, factor: int) -> list[slice]:
    """Each branch's channels, as :func:`split_widths` counts them: ``split_slices(5, 2)`` is
    ``[slice(0, 3), slice(3, 5)]``."""
    edges = np.cumsum([0, *split_widths(width, factor)])
    return [slice(int(a), int(b)) for a, b in pairwise(edges)]


def check_factor(factor: object, widths: list[int], where: str) -> int:
    """Return ``factor`` if it is a positive integer no larger than the narrowest width, else raise."""
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise InputError(f"{where}: split factor must be a positive integer, got {factor!r}")
    if factor > min(widths):
        raise InputError(
            f"{where}: split factor {factor} is larger than the narrowest layer "
            f"({min(widths)} filters); valid factors are 1..{min(widths)}"
        )
    return int(factor)


def check_implementation(requested: str, factor: int, units: tuple[Unit, ...]) -> str:
    """Return ``requested`` if it is one of :data:`IMPLEMENTATIONS` and can run this block, else raise."""
    if requested not in IMPLEMENTATIONS:
        raise InputError(f"implementation must be one of {IMPLEMENTATIONS}, got {requested!r}")
    if requested == "grouped" and not all(u.width % factor == 0 for u in units):
        widths = [u.width for u in units]
        raise InputError(
            f"grouped convolutions need the factor {factor} to divide every width {widths}; "
            "use implementation='branches' or 'masked'"
        )
    return requested


def pooled_shape(shape: tuple, pooling: str | None = "max") -> tuple:
    """An (..., height, width, channels) shape after ``pooling`` (one of :data:`POOLINGS`): 2x2 with
    stride 2 for "max" and "avg", one pixel for "global" and "global_max", unchanged for None."""
    *lead, height, width, channels = shape
    if pooling in ("global", "global_max"):
        return (*lead, 1, 1, channels)
    if pooling in ("max", "avg"):
        height, width = (None if d is None else d // 2 for d in (height, width))
    return (*lead, height, width, channels)


def conv_shape(shape: tuple, spec: ConvSpec, width: int | None = None) -> tuple:
    """An (..., height, width, channels) shape after the conv at ``spec`` (``width`` filters, default all)."""
    *lead, height, wide, _ = shape
    def side(d):
        if d is None:
            return None
        return -(-d // spec.stride) if spec.padding == "same" else (d - spec.kernel) // spec.stride + 1
    return (*lead, side(height), side(wide), spec.width if width is None else width)


class UnitSteps(Protocol):
    """What :func:`walk_units` does at each step: on tensors (a layer's call), shapes (building), or
    costs (counting MACs and live memory). ``keep`` lists maps that stay live across a conv."""

    def conv(self, spec: ConvSpec, x, keep: tuple = ()): ...
    def norm(self, spec: ConvSpec, x): ...
    def activate(self, x, activation: str): ...
    def add(self, y, shortcut): ...
    def pool(self, x): ...


def walk_units(units: tuple[Unit, ...], specs: dict[str, ConvSpec], x, steps: UnitSteps):
    """One branch of a block, unit after unit: the one place that says what a unit computes.

    A conv unit is its conv, then BN and activation in the unit's order; a residual unit is conv-BN-ReLU,
    conv-BN, plus its shortcut (a 1x1 projection with BN where ``specs`` has one), then ReLU; a unit
    with ``pool`` ends in 2x2 max pooling.
    """
    for i, unit in enumerate(units):
        if unit.kind == "conv":
            spec = specs[f"u{i}"]
            x = steps.conv(spec, x)
            if unit.norm == "before":
                x = steps.norm(spec, x)
            x = steps.activate(x, unit.activation)
            if unit.norm == "after":
                x = steps.norm(spec, x)
        else:
            first, second = specs[f"u{i}a"], specs[f"u{i}b"]
            y = steps.activate(steps.norm(first, steps.conv(first, x)), "relu")
            y = steps.norm(second, steps.conv(second, y, keep=(x,)))
            projection = specs.get(f"u{i}p")
            shortcut = x if projection is None else steps.norm(projection, steps.conv(projection, x, keep=(y,)))
            x = steps.activate(steps.add(y, shortcut), "relu")
        if unit.pool:
            x = steps.pool(x)
    return x


class ShapeSteps:
    """:func:`walk_units` over shapes."""

    def conv(self, spec: ConvSpec, shape, keep: tuple = ()):
        return conv_shape(shape, spec)

    def norm(self, spec: ConvSpec, shape):
        return shape

    def activate(self, shape, activation: str):
        return shape

    def add(self, shape, shortcut):
        return shape

    def pool(self, shape):
        return pooled_shape(shape)


@dataclass(frozen=True)
class Blueprint:
    """A built-in model's plan: its blocks of units, cut at its pooling locations.

    ``max_pool[i]`` says whether an unsplit block i is followed by a 2x2 max pooling (VGG). Where it
    is not (ResNet), a split block's fusion pools when the next block would reduce resolution, and
    the next block's stride moves into that pooling.
    """

    name: str
    blocks: tuple[tuple[Unit, ...], ...]
    max_pool: tuple[bool, ...]

    def scaled(self, width_multiplier: float) -> Blueprint:
        """The same plan with every layer's filters multiplied by ``width_multiplier`` (at least 1)."""
        if isinstance(width_multiplier, bool) or not isinstance(width_multiplier, (int, float)) \
                or not 0 < width_multiplier <= 4:
            raise InputError(f"width_multiplier must be a number in (0, 4], got {width_multiplier!r}")
        blocks = tuple(
            tuple(replace(u, width=max(1, round(u.width * width_multiplier))) for u in block)
            for block in self.blocks
        )
        return replace(self, blocks=blocks)


def _vgg16() -> Blueprint:
    widths = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
    blocks = tuple(tuple(Unit("conv", w) for w in block) for block in widths)
    return Blueprint("vgg16", blocks, (True,) * 5)


def _resnet18() -> Blueprint:
    stem = (Unit("conv", 64),)
    stages = tuple(
        (Unit("residual", w, stride), Unit("residual", w))
        for w, stride in ((64, 1), (128, 2), (256, 2), (512, 2))
    )
    return Blueprint("resnet18", (stem, *stages), (False,) * 5)


BLUEPRINTS = {"vgg16": _vgg16(), "resnet18": _resnet18()}


def blueprint(name: str, width_multiplier: float = 1.0) -> Blueprint:
    """The named model's plan with every layer's filters scaled by ``width_multiplier``."""
    if name not in BLUEPRINTS:
        raise InputError(f"unknown model {name!r}; valid models are {', '.join(MODELS)}")
    return BLUEPRINTS[name].scaled(width_multiplier)
