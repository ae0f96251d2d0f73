"""The two layers of the method: the split block (paper Fig. 2) and the fusion block (Fig. 3).

A block is a short chain of *units*: a convolution with its normalisation and activation (conv-BN-ReLU
in the built-in networks; any kernel, stride, bias, BN or activation in a user's network), or a basic
residual unit (two 3x3 convs with a shortcut). Splitting the block by a factor K runs K slim copies of that chain side by side. Each
branch carries about 1/K of every layer's filters; the first conv of each branch reads the whole
block input (``first_conv="whole"``, the default) or only its share of the input channels
(``first_conv="share"``), later convs read only their own branch's channels.
"""

from __future__ import annotations

from dataclasses import asdict

import keras
import numpy as np
from keras import layers, ops

from netsplit.blocks import (
    BN_OPTIONS, FIRST_CONVS, NORM_KEYS, POOLINGS, ConvSpec, ShapeSteps, Unit, check_factor, check_implementation,
    pooled_shape, split_slices, split_widths, walk_units,
)
from netsplit.errors import InputError


class BuildSteps(ShapeSteps):
    """:func:`walk_units` over shapes that builds each conv and BN of one code path on the way."""

    def __init__(self, block: SplitBlock, path: int):
        self.block, self.path = block, path

    def conv(self, spec: ConvSpec, shape, keep: tuple = ()):
        conv = self.block.conv_and_norm(spec.name, self.path)[0]
        conv.build(shape)
        return conv.compute_output_shape(shape)

    def norm(self, spec: ConvSpec, shape):
        self.block.conv_and_norm(spec.name, self.path)[1].build(shape)
        return shape


class TensorSteps:
    """:func:`walk_units` on tensors: one code path of a built block."""

    def __init__(self, block: SplitBlock, path: int, training=None):
        self.block, self.path, self.training = block, path, training

    def conv(self, spec: ConvSpec, x, keep: tuple = ()):
        return self.block.conv_and_norm(spec.name, self.path)[0](x)

    def norm(self, spec: ConvSpec, x):
        return self.block.conv_and_norm(spec.name, self.path)[1](x, training=self.training)

    def activate(self, x, activation: str):
        return keras.activations.get(activation)(x)

    def add(self, y, shortcut):
        return y + shortcut

    def pool(self, x):
        return _pool(x, "max")


def _conv(filters: int, kernel: int, stride: int, groups: int, name: str, padding: str = "same",
          bias: bool = False, initializer="glorot_uniform", mask: np.ndarray | None = None) -> layers.Conv2D:
    conv = layers.Conv2D if mask is None else MaskedConv2D
    options = {} if mask is None else {"mask": mask}
    return conv(filters, kernel, strides=stride, padding=padding, groups=groups, use_bias=bias, name=name,
                kernel_initializer=initializer, **options)


class MaskedConv2D(layers.Conv2D):
    """A dense convolution whose kernel is multiplied by a fixed 0/1 ``mask`` (block-diagonal: each branch's
    filters read only their branch's channels); the masked-out weights stay zero and get no gradient."""

    def __init__(self, *args, mask: np.ndarray, **kwargs):
        super().__init__(*args, **kwargs)
        self.mask = mask

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, kernel * ops.cast(self.mask, kernel.dtype))


class BranchKernels(keras.initializers.Initializer):
    """The kernel of all branches in one conv: each branch's kernel drawn by its own initializer, as one
    conv per branch would draw it, placed in its output channels (and, masked, its input channels)."""

    def __init__(self, branches: list, layout: tuple[list, list], grouped: bool):
        self.branches, self.layout, self.grouped = branches, layout, grouped

    def __call__(self, shape, dtype=None):
        reads, writes = self.layout
        kernel = np.zeros(shape, "float32")
        for initializer, read, write in zip(self.branches, reads, writes):
            inputs = shape[2] if read is None or self.grouped else read.stop - read.start
            part = initializer((*shape[:2], inputs, write.stop - write.start), dtype="float32")
            at = slice(None) if read is None or self.grouped else read
            kernel[:, :, at, write] = keras.ops.convert_to_numpy(part)
        return ops.convert_to_tensor(kernel, dtype=dtype)


def _norm(options: tuple[float, float] | None, name: str) -> layers.BatchNormalization | None:
    if options is None:
        return None
    epsilon, momentum = options
    return layers.BatchNormalization(name=name, epsilon=epsilon, momentum=momentum)


def _pool(x, pooling: str | None):
    if pooling == "max":
        return ops.max_pool(x, pool_size=2, strides=2, padding="valid")
    if pooling == "avg":
        return ops.average_pool(x, pool_size=2, strides=2, padding="valid")
    if pooling == "global":
        return ops.mean(x, axis=(1, 2), keepdims=True)
    if pooling == "global_max":
        return ops.max(x, axis=(1, 2), keepdims=True)
    return x


@keras.saving.register_keras_serializable(package="netsplit")
class SplitBlock(layers.Layer):
    """K parallel slim branches of a block of units; outputs the branches concatenated on channels.

    With ``factor=1`` this is the ordinary, unsplit block. The concatenation keeps branch order, so
    channel ``c`` of the output is channel ``c`` of the unsplit block it was cut from.

    ``implementation`` is the form the block runs in: "branches" (one convolution per branch), "grouped"
    (one grouped convolution per position) or "masked" (one dense convolution per position, its kernel
    zero outside the branches). All draw the same initial weights for a seed and compute the same
    function. "auto" is saved as such and resolved where the layer is built, by the forms' timings on
    this device (:mod:`netsplit.implementations`); the weights are saved branch by branch whatever the
    form, so a model trained in one form loads in any other.

    ``first_conv="share"`` makes branch j's first conv (and first shortcut) read only channel slice j
    of the block input, split as :func:`split_widths` does; a block whose input has fewer channels than
    branches falls back to ``"whole"``. Grouped, the input channels must divide by K too ("auto" then
    uses separate branches).

    >>> block = SplitBlock([Unit("conv", 64), Unit("conv", 64)], factor=4, implementation="branches")
    >>> block(np.zeros((1, 32, 32, 3), "float32")).shape
    TensorShape([1, 32, 32, 64])
    """

    def __init__(self, units, factor: int = 1, implementation: str = "auto", first_conv: str = "whole", **kwargs):
        super().__init__(**kwargs)
        self.unit_specs = tuple(u if isinstance(u, Unit) else Unit(**u) for u in units)
        if not self.unit_specs:
            raise InputError("a split block needs at least one unit")
        self.factor = check_factor(factor, [u.width for u in self.unit_specs], self.name)
        self.requested_implementation = check_implementation(implementation, self.factor, self.unit_specs)
        self.implementation = implementation  # "auto" is resolved in build, where the input shape is known
        if first_conv not in FIRST_CONVS:
            raise InputError(f"first_conv must be one of {FIRST_CONVS}, got {first_conv!r}")
        self.first_conv = first_conv

    def batch_norms(self) -> list[layers.BatchNormalization]:
        """The block's normalisation layers, every branch's."""
        return [norm for norm in self.norms if norm is not None]

    @property
    def paths(self) -> int:
        """Separate code paths: K for "branches", 1 for "grouped" and "masked" (all branches in one conv)."""
        return self.factor if self.implementation == "branches" else 1

    def count_params(self) -> int:
        """The block's parameters, branch by branch, whatever the form (the masked form's zeros excluded)."""
        return sum(int(a.size) for branches in self.get_branch_weights().values() for b in branches for a in b.values())

    def shares_input(self, in_channels: int) -> bool:
        """Whether each branch's first conv reads only its share of ``in_channels`` block input channels:
        with ``first_conv="share"``, in a split block whose input has at least K channels."""
        return self.first_conv == "share" and 1 < self.factor <= in_channels

    def fits_grouped(self) -> bool:
        """Whether grouped convolutions can run this block (its input channels known): the factor divides every
        width, and the input channels where each branch reads its share of them."""
        widths = [u.width for u in self.unit_specs]
        if self.shares_input(self.in_channels):
            widths.append(self.in_channels)
        return all(width % self.factor == 0 for width in widths)

    def conv_specs(self, in_channels: int) -> list[ConvSpec]:
        """Every conv position of one branch, in execution order."""
        specs, previous = [], in_channels
        for i, unit in enumerate(self.unit_specs):
            whole = i == 0 and not self.shares_input(in_channels)
            norm = None if unit.norm == "none" else (unit.epsilon, unit.momentum)
            if unit.kind == "conv":
                specs.append(ConvSpec(f"u{i}", unit.kernel, unit.stride, unit.width, whole, unit.padding, unit.bias,
                                      norm, previous))
            else:
                specs.append(ConvSpec(f"u{i}a", 3, unit.stride, unit.width, whole, norm=norm, reads=previous))
                specs.append(ConvSpec(f"u{i}b", 3, 1, unit.width, False, norm=norm, reads=unit.width))
                # a branch reading its share keeps an identity shortcut where the unsplit block has one
                if unit.stride > 1 or previous != unit.width or (whole and self.factor > 1):
                    specs.append(ConvSpec(f"u{i}p", 1, unit.stride, unit.width, whole, norm=norm, reads=previous))
            previous = unit.width
        return specs

    def build(self, input_shape) -> None:
        self.in_channels = int(input_shape[-1])
        self.specs = self.conv_specs(self.in_channels)
        if self.implementation == "auto":
            from netsplit.implementations import choose_implementation

            self.implementation = choose_implementation(self, tuple(input_shape[1:]))
        if self.implementation == "grouped" and not self.fits_grouped():
            if self.requested_implementation == "grouped":
                raise InputError(
                    f"{self.name}: grouped convolutions with first_conv='share' need the factor {self.factor} to "
                    f"divide the {self.in_channels} input channels; use implementation='branches' or 'masked'"
                )
            self.implementation = "branches"
        self.spec_map = {spec.name: spec for spec in self.specs}
        self.positions = [s.name for s in self.specs]
        # One initializer per branch and position, drawn in the same order whatever the implementation,
        # so that a seed gives the same initial network in every form.
        seeds = [[keras.initializers.GlorotUniform() for _ in self.specs] for _ in range(self.factor)]
        self.convs, self.norms = [], []
        for path in range(self.paths):
            for index, spec in enumerate(self.specs):
                suffix = f"{spec.name}_b{path}" if self.paths > 1 else spec.name
                if self.implementation == "branches":
                    filters, groups, initializer = split_widths(spec.width, self.factor)[path], 1, seeds[path][index]
                else:
                    grouped = self.implementation == "grouped" and not spec.full_input
                    filters, groups = spec.width, self.factor if grouped else 1
                    initializer = BranchKernels([branch[index] for branch in seeds], self.layout(spec), grouped)
                self.convs.append(_conv(filters, spec.kernel, spec.stride, groups, f"conv_{suffix}", spec.padding,
                                        spec.bias, initializer, self.mask(spec)))
                self.norms.append(_norm(spec.norm, f"bn_{suffix}"))
        for path in range(self.paths):
            share = self.path_input(path)
            shape = tuple(input_shape) if share is None else (*input_shape[:-1], share.stop - share.start)
            walk_units(self.unit_specs, self.spec_map, shape, BuildSteps(self, path))
        self.built = True

    def layout(self, spec: ConvSpec) -> tuple[list[slice | None], list[slice]]:
        """Which input channels (None: all) and output channels branch j holds at the conv of ``spec``."""
        reads = [None] * self.factor if spec.full_input else split_slices(spec.reads, self.factor)
        return reads, split_slices(spec.width, self.factor)

    def mask(self, spec: ConvSpec) -> np.ndarray | None:
        """The masked form's 0/1 kernel mask at ``spec`` (None where no mask is needed)."""
        if self.implementation != "masked" or spec.full_input or self.factor == 1:
            return None
        reads, writes = self.layout(spec)
        mask = np.zeros((1, 1, spec.reads, spec.width), "float32")
        for read, write in zip(reads, writes):
            mask[..., read, write] = 1.0
        return mask

    def path_input(self, path: int) -> slice | None:
        """The block input channels code path ``path`` reads; None for all (a grouped conv splits them itself)."""
        if self.paths == 1 or not self.shares_input(self.in_channels):
            return None
        return split_slices(self.in_channels, self.factor)[path]

    def conv_and_norm(self, name: str, path: int) -> tuple[layers.Conv2D, layers.BatchNormalization | None]:
        """The conv and BN (None where the position has none) at position ``name`` of code path ``path``."""
        index = path * len(self.positions) + self.positions.index(name)
        return self.convs[index], self.norms[index]

    def branch(self, x, path: int, training=None):
        """Run one code path (one branch, or all branches at once when grouped)."""
        share = self.path_input(path)
        x = x if share is None else x[..., share]
        return walk_units(self.unit_specs, self.spec_map, x, TensorSteps(self, path, training))

    def call(self, x, training=None):
        outputs = [self.branch(x, path, training) for path in range(self.paths)]
        return outputs[0] if len(outputs) == 1 else ops.concatenate(outputs, axis=-1)

    def compute_output_shape(self, input_shape):
        specs = {spec.name: spec for spec in self.conv_specs(int(input_shape[-1]))}
        return walk_units(self.unit_specs, specs, tuple(input_shape), ShapeSteps())

    def get_branch_weights(self) -> dict[str, list[dict[str, np.ndarray]]]:
        """Each conv position's kernel, bias and BN state (those it has), one dict per branch, whatever
        the implementation."""
        result = {}
        for name in self.positions:
            per_path = [conv_arrays(*self.conv_and_norm(name, path)) for path in range(self.paths)]
            if self.paths == 1 and self.factor > 1:
                per_path = self._branch_parts(self.spec_map[name], per_path[0])
            result[name] = per_path
        return result

    def _branch_parts(self, spec: ConvSpec, arrays: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
        """One conv of all branches (grouped or masked) cut into each branch's arrays."""
        masked = self.implementation == "masked"
        parts = []
        for read, write in zip(*self.layout(spec)):
            part = {key: value[..., write] for key, value in arrays.items()}
            if masked and read is not None:
                part["kernel"] = arrays["kernel"][:, :, read, write]
            parts.append(part)
        return parts

    def set_branch_weights(self, weights: dict[str, list[dict[str, np.ndarray]]]) -> None:
        """Inverse of :meth:`get_branch_weights`."""
        for name in self.positions:
            branches = weights[name]
            if len(branches) != self.factor:
                raise InputError(f"{name}: expected {self.factor} branches, got {len(branches)}")
            if self.paths == 1:
                mask = self.mask(self.spec_map[name])
                joined = {k: np.concatenate([b[k] for b in branches], axis=-1) for k in branches[0]
                          if k != "kernel" or mask is None}
                if mask is not None:  # the branch kernels placed on the mask's diagonal blocks
                    reads, writes = self.layout(self.spec_map[name])
                    joined["kernel"] = np.zeros((*branches[0]["kernel"].shape[:2], *mask.shape[2:]), "float32")
                    for part, read, write in zip(branches, reads, writes):
                        joined["kernel"][:, :, read, write] = part["kernel"]
                branches = [joined]
            for path, arrays in enumerate(branches):
                for key, variable in _variables(*self.conv_and_norm(name, path)).items():
                    variable.assign(arrays[key])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": [asdict(u) for u in self.unit_specs],
            "factor": self.factor,
            "implementation": self.requested_implementation,
            "first_conv": self.first_conv,
        }

    def __dir__(self) -> list[str]:
        # Keras saves the convs and norms through this layer (below), in the form-free branch layout.
        return [name for name in super().__dir__() if name not in ("convs", "norms")]

    def save_own_variables(self, store) -> None:
        """Save every conv position's weights branch by branch (see :meth:`get_branch_weights`)."""
        for name, branches in self.get_branch_weights().items():
            for j, arrays in enumerate(branches):
                for key, value in arrays.items():
                    store[f"{name}.{j}.{key}"] = value

    def load_own_variables(self, store) -> None:
        """Inverse of :meth:`save_own_variables`, into whichever form this layer has."""
        expected = {f"{s.name}.{j}.{k}" for s in self.specs for j in range(self.factor) for k in s.weight_keys}
        if set(store.keys()) != expected:
            raise ValueError(f"{self.name}: the saved block does not match its layout "
                             f"({len(store.keys())} arrays saved, {len(expected)} expected)")
        self.set_branch_weights({
            s.name: [{key: np.asarray(store[f"{s.name}.{j}.{key}"]) for key in s.weight_keys}
                     for j in range(self.factor)]
            for s in self.specs
        })


def _variables(conv: layers.Conv2D, norm: layers.BatchNormalization | None) -> dict:
    """A conv position's variables by weight key: kernel, bias if the conv has one, BN state if any."""
    variables = {"kernel": conv.kernel} | ({"bias": conv.bias} if conv.use_bias else {})
    return variables | ({key: getattr(norm, key) for key in NORM_KEYS} if norm is not None else {})


def conv_arrays(conv: layers.Conv2D, norm: layers.BatchNormalization | None) -> dict[str, np.ndarray]:
    """A conv position's weights as arrays by weight key (see :attr:`ConvSpec.weight_keys`)."""
    return {k: keras.ops.convert_to_numpy(v) for k, v in _variables(conv, norm).items()}


@keras.saving.register_keras_serializable(package="netsplit")
class Fusion(layers.Layer):
    """Fusion block: pooling of each branch, concatenation, 1x1 conv, BN, ReLU (paper Fig. 3).

    Pooling works channel by channel, so pooling the concatenated branches equals concatenating
    the pooled branches; the layer takes the concatenation that :class:`SplitBlock` returns.
    ``activation="linear"`` leaves out the ReLU, for blocks whose output may be negative.

    >>> tuple(Fusion("max")(np.ones((1, 32, 32, 64), "float32")).shape)
    (1, 16, 16, 64)
    """

    def __init__(self, pooling: str | None = "max", activation: str = "relu", **kwargs):
        super().__init__(**kwargs)
        if pooling not in POOLINGS:
            raise InputError(f"fusion pooling must be one of {POOLINGS}, got {pooling!r}")
        if activation not in ("relu", "linear"):
            raise InputError(f"fusion activation must be 'relu' or 'linear', got {activation!r}")
        self.pooling, self.activation = pooling, activation

    def build(self, input_shape) -> None:
        channels = int(input_shape[-1])
        self.conv = _conv(channels, 1, 1, 1, "mix")
        self.norm = layers.BatchNormalization(name="bn", **BN_OPTIONS)
        pooled = self.compute_output_shape(input_shape)
        self.conv.build(pooled)
        self.norm.build(pooled)
        self.built = True

    def batch_norms(self) -> list[layers.BatchNormalization]:
        """The fusion's one normalisation layer, in a list as :meth:`SplitBlock.batch_norms` gives them."""
        return [self.norm]

    def pool(self, x):
        """The pooling step alone (applied per branch when branches run one after another)."""
        return _pool(x, self.pooling)

    def mix(self, x, training=None):
        """The 1x1 conv, BN and ReLU that restore global information across branches."""
        return keras.activations.get(self.activation)(self.norm(self.conv(x), training=training))

    def call(self, x, training=None):
        return self.mix(self.pool(x), training=training)

    def compute_output_shape(self, input_shape):
        return pooled_shape(tuple(input_shape), self.pooling)

    def set_identity(self) -> None:
        """Make the fusion pass its pooled input through unchanged (with ReLU: a non-negative input)."""
        channels = self.conv.kernel.shape[-1]
        self.conv.kernel.assign(np.eye(channels, dtype="float32")[None, None])
        self.norm.gamma.assign(np.ones(channels, "float32"))
        self.norm.beta.assign(np.zeros(channels, "float32"))
        self.norm.moving_mean.assign(np.zeros(channels, "float32"))
        # 1 - epsilon makes the normalisation exactly x / sqrt(1) = x.
        self.norm.moving_variance.assign(np.full(channels, 1.0 - self.norm.epsilon, "float32"))

    def get_config(self) -> dict:
        return {**super().get_config(), "pooling": self.pooling, "activation": self.activation}
