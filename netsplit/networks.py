"""Any Keras CNN as a split network: its blocks found at the poolings, split, and its head kept.

A network can be split when it is a chain whose feature extractor is made of convolution, batch
normalisation and activation layers, cut into blocks by 2x2 pooling layers (the last block may end
in global pooling). Layers that only pass maps on (dropout, noise, rescaling, normalisation, resizing,
augmentation) may stand before and between blocks; the head after the last block is kept as it is.
Everything is checked before anything is built, and a network that cannot be split raises one
:class:`~netsplit.errors.InputError` naming the layer and why.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import keras
from keras import layers

from netsplit.choices import is_network_file
from netsplit.errors import InputError
from netsplit.inheritance import load_dense_weights
from netsplit.blocks import ACTIVATIONS, Unit
from netsplit.layers import Fusion, SplitBlock, conv_arrays
from netsplit.choices import check_split
from netsplit.records import config_hash

PASS_THROUGH = (
    layers.Dropout, layers.GaussianNoise, layers.GaussianDropout, layers.AlphaDropout, layers.ActivityRegularization,
    layers.Rescaling, layers.Normalization, layers.Resizing, layers.RandomFlip, layers.RandomRotation,
    layers.RandomZoom, layers.RandomTranslation, layers.RandomContrast, layers.RandomBrightness,
)
"""Layers that may stand before and between blocks: they are kept as they are."""
POOLINGS = {
    layers.MaxPooling2D: "max", layers.AveragePooling2D: "avg",
    layers.GlobalAveragePooling2D: "global", layers.GlobalMaxPooling2D: "global_max",
}
"""Layers that end a block, and the pooling its fusion does in their place."""
ACTIVATION_LAYERS = (layers.Activation, layers.ReLU, layers.LeakyReLU, layers.ELU)
CONVOLUTIONS = (
    layers.Conv1D, layers.Conv2D, layers.Conv3D, layers.Conv1DTranspose, layers.Conv2DTranspose,
    layers.Conv3DTranspose, layers.DepthwiseConv1D, layers.DepthwiseConv2D, layers.SeparableConv1D,
    layers.SeparableConv2D, layers.ConvLSTM1D, layers.ConvLSTM2D, layers.ConvLSTM3D,
)
"""Every kind of convolution; only a plain Conv2D can be split, the others are refused by name."""


@dataclass
class Block:
    """A block of a user's network: its units, the conv and BN layers they came from, the pooling
    layer that ends it, and the pass-through layers that follow it."""

    units: tuple[Unit, ...]
    sources: tuple[tuple[layers.Conv2D, layers.BatchNormalization | None], ...]
    pool: layers.Layer
    after: list[layers.Layer] = field(default_factory=list)

    @property
    def pooling(self) -> str:
        """What the fusion of this block pools ("max", "avg", "global" or "global_max")."""
        return POOLINGS[type(self.pool)]

    @property
    def fusion_activation(self) -> str:
        """ReLU where the block ends in ReLU (an identity fusion then passes its output through), else linear."""
        last = self.units[-1]
        return "relu" if last.activation in ("relu", "relu6") and last.norm != "after" else "linear"


@dataclass
class Network:
    """A user's network cut into blocks: the layers before the first block, the blocks, and the head."""

    model: keras.Model
    input_shape: tuple[int, int, int]
    before: list[layers.Layer]
    blocks: list[Block]
    head: list[layers.Layer]

    @property
    def num_classes(self) -> int:
        return int(self.model.output_shape[-1])

    def architecture(self) -> str:
        """A hash of what the network computes (its layers' settings, not their names or weights)."""
        kept = [_settings(layer) for layer in self.before + self.head]
        blocks = [([asdict(u) for u in b.units], _settings(b.pool), [_settings(a) for a in b.after])
                  for b in self.blocks]
        return config_hash({"input": self.input_shape, "kept": kept, "blocks": blocks})


def _settings(layer: layers.Layer) -> list:
    return [type(layer).__name__, {k: v for k, v in layer.get_config().items() if k != "name"}]


def _refuse(layer: layers.Layer, why: str) -> InputError:
    return InputError(f"cannot split this network: layer {layer.name!r} ({type(layer).__name__}) {why}")


def _chain(model: keras.Model) -> list[layers.Layer]:
    """The layers of ``model`` in order, nested models expanded; anything but a chain is refused."""
    if isinstance(model, keras.Sequential):
        members = list(model.layers)
    else:
        members = _functional_chain(model)
    chain = []
    for layer in members:
        if isinstance(layer, keras.Model):
            chain += _chain(layer)
        elif not isinstance(layer, layers.InputLayer):
            chain.append(layer)
    return chain


def _functional_chain(model: keras.Model) -> list[layers.Layer]:
    config = model.get_config()
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise InputError(f"cannot split {model.name!r}: it has {len(model.inputs)} inputs and "
                         f"{len(model.outputs)} outputs; a network to split has one of each")
    producer = {id(layer.output): layer.name for layer in model.layers}
    consumer: dict[str, str] = {}
    for entry in config["layers"]:
        layer = model.get_layer(entry["name"])
        if len(entry["inbound_nodes"]) > 1:
            raise _refuse(layer, "is used more than once; a network to split is a chain of layers")
        if isinstance(layer, layers.InputLayer):
            continue
        inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        sources = [producer[id(tensor)] for tensor in inputs if id(tensor) in producer]
        if len(sources) > 1:
            raise _refuse(layer, f"joins {len(sources)} paths ({', '.join(sources)}), as a residual connection "
                                 "does; a network to split is a chain of layers, one feeding the next")
        for source in sources:
            if source in consumer:
                raise _refuse(model.get_layer(source), f"feeds both {consumer[source]!r} and {entry['name']!r} "
                                                       "(a fork, as a residual connection makes); a network to "
                                                       "split is a chain of layers")
            consumer[source] = entry["name"]
    name, chain = config["input_layers"][0], []
    while name in consumer:
        name = consumer[name]
        chain.append(model.get_layer(name))
    return chain


def _activation_of(layer: layers.Layer) -> str:
    """The name of the activation a Conv2D or an activation layer applies (refused if it mixes channels)."""
    config = layer.get_config()
    if isinstance(layer, layers.ReLU):
        options = (config["max_value"], config["negative_slope"], config["threshold"])
        name = {(None, 0.0, 0.0): "relu", (6.0, 0.0, 0.0): "relu6"}.get(options)
    elif isinstance(layer, layers.LeakyReLU):
        name = "leaky_relu" if config["negative_slope"] == 0.2 else None
    elif isinstance(layer, layers.ELU):
        name = "elu" if config["alpha"] == 1.0 else None
    else:
        name = config["activation"] if isinstance(config["activation"], str) else None
    if name not in ACTIVATIONS:
        raise _refuse(layer, f"applies an activation ({config.get('activation', config)}) that a split block "
                             f"cannot: it takes one of {', '.join(ACTIVATIONS)} (with default settings)")
    return name


def _check_conv(conv: layers.Layer) -> None:
    if type(conv) is not layers.Conv2D:
        raise _refuse(conv, "is not a plain Conv2D; a split block's branches are slices of ordinary 2D "
                            "convolutions (depthwise, separable, transposed or 1D/3D convolutions cannot be split)")
    config = conv.get_config()
    problems = {
        "a grouped convolution": config["groups"] != 1,
        "a dilated convolution": tuple(config["dilation_rate"]) != (1, 1),
        "a non-square kernel": len(set(config["kernel_size"])) != 1,
        "unequal strides": len(set(config["strides"])) != 1,
        "channels-first data": config["data_format"] != "channels_last",
    }
    for problem, found in problems.items():
        if found:
            raise _refuse(conv, f"is {problem}; split blocks take square kernels, equal strides, "
                                "no dilation or groups, channels last")


def _check_norm(norm: layers.BatchNormalization) -> None:
    config = norm.get_config()
    if config["axis"] not in (-1, 3, [-1], [3]) or not config["center"] or not config["scale"]:
        raise _refuse(norm, "normalises another axis than channels, or has no center or scale; "
                            "a split block's BN has all four per-channel weights")


def _unit(chain: list[layers.Layer], index: int) -> tuple[Unit, layers.BatchNormalization | None, int]:
    """The unit that starts with the Conv2D at ``chain[index]``: it, then a BN and an activation in
    either order (the conv's own activation counts first); returns the unit, its BN and layers used."""
    conv = chain[index]
    _check_conv(conv)
    activation = _activation_of(conv)
    applied, norm, order = activation != "linear", None, "none"
    end = index + 1
    while end < len(chain):
        layer = chain[end]
        if isinstance(layer, layers.BatchNormalization) and norm is None:
            _check_norm(layer)
            norm, order = layer, "after" if applied else "before"
        elif isinstance(layer, ACTIVATION_LAYERS) and not applied:
            activation, applied = _activation_of(layer), True
        else:
            break
        end += 1
    config = conv.get_config()
    options = {"epsilon": norm.epsilon, "momentum": norm.momentum} if norm is not None else {}
    unit = Unit("conv", config["filters"], config["strides"][0], kernel=config["kernel_size"][0],
                padding=config["padding"], bias=config["use_bias"], norm=order, activation=activation, **options)
    return unit, norm, end - index


def _check_pool(pool: layers.Layer) -> None:
    config = pool.get_config()
    if config["data_format"] != "channels_last":
        raise _refuse(pool, "pools channels-first data; split blocks take channels last")
    if isinstance(pool, (layers.MaxPooling2D, layers.AveragePooling2D)):
        shape = (tuple(config["pool_size"]), tuple(config["strides"]), config["padding"])
        if shape != ((2, 2), (2, 2), "valid"):
            raise _refuse(pool, f"pools {config['pool_size']} with strides {config['strides']} and "
                                f"{config['padding']!r} padding; a block ends in 2x2 pooling with stride 2, 'valid'")


def describe_network(model: keras.Model) -> Network:
    """Cut ``model`` into blocks at its poolings, or raise one InputError naming the layer and why.

    >>> model = keras.Sequential([keras.Input((32, 32, 1)), layers.Conv2D(8, 3, activation="relu"),
    ...                           layers.MaxPooling2D(), layers.Flatten(), layers.Dense(10)])
    >>> [len(block.units) for block in describe_network(model).blocks]
    [1]
    """
    if not isinstance(model, keras.Model):
        raise InputError(f"expected a Keras model, got {type(model).__name__}")
    try:
        shape = tuple(model.input_shape[1:])
    except (AttributeError, ValueError):
        raise InputError(f"{model.name!r} is not built: give it an input, e.g. keras.Input((32, 32, 3))") from None
    if len(shape) != 3 or not all(isinstance(d, int) for d in shape):
        raise InputError(f"{model.name!r} takes input of shape {shape}; a network to split takes images of a "
                         "fixed (height, width, channels), e.g. keras.Input((32, 32, 3))")
    network = Network(model, shape, [], [], [])
    chain, index, units, sources = _chain(model), 0, [], []
    while index < len(chain):
        layer = chain[index]
        if network.head:
            if isinstance(layer, CONVOLUTIONS):
                raise _refuse(layer, f"comes after {network.head[0].name!r}, where the blocks ended; a block is "
                                     "convolutions, each with its BN and activation, ended by pooling, and only "
                                     "pass-through layers (dropout, rescaling, ...) may stand between blocks")
            network.head.append(layer)
        elif isinstance(layer, CONVOLUTIONS):
            unit, norm, used = _unit(chain, index)
            units.append(unit)
            sources.append((layer, norm))
            index += used
            continue
        elif isinstance(layer, tuple(POOLINGS)) and units:
            _check_pool(layer)
            network.blocks.append(Block(tuple(units), tuple(sources), layer))
            units, sources = [], []
        elif units:
            raise _refuse(layer, f"follows the convolutions from {sources[0][0].name!r} without a pooling layer "
                                 "between; a block is convolutions, each with its BN and activation, ended by "
                                 "pooling, and the method cuts a network at its poolings")
        elif isinstance(layer, PASS_THROUGH):
            (network.blocks[-1].after if network.blocks else network.before).append(layer)
        elif network.blocks:
            network.head.append(layer)
        else:
            raise _refuse(layer, "comes before any convolution block; only pass-through layers (dropout, "
                                 "rescaling, normalisation, resizing, augmentation) may stand there")
        index += 1
    if units:
        raise _refuse(sources[0][0], "starts a block that ends the network without a pooling layer; "
                                     "the method cuts a network at its poolings")
    if not network.blocks:
        raise InputError(f"cannot split {model.name!r}: it has no convolution block ended by pooling")
    return network


def _clone(layer: layers.Layer) -> layers.Layer:
    return type(layer).from_config(layer.get_config())


def split_network(model: keras.Model, split=None, implementation: str = "auto",
                  weights: bool = True) -> keras.Model:
    """``model`` with block i split into ``split[i]`` branches and a fusion after each split block.

    Factor 1 leaves a block as it was. With ``weights``, the split network starts from the model's
    weights (each branch its block-diagonal slice, every fusion the identity), as :func:`inherit` does;
    otherwise it is freshly initialised (preprocessing state, such as normalisation statistics, is
    always copied).

    >>> cnn = keras.Sequential([keras.Input((32, 32, 3)), layers.Conv2D(32, 3, activation="relu"),
    ...     layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(), layers.Conv2D(64, 3),
    ...     layers.BatchNormalization(), layers.ReLU(), layers.GlobalAveragePooling2D(), layers.Dense(10)])
    >>> split = split_network(cnn, split=(4, 2))
    >>> [layer.name for layer in split.layers if layer.name.startswith("block")]
    ['block1', 'block1_fusion', 'block2', 'block2_fusion']
    """
    network = describe_network(model)
    split = check_split(split, len(network.blocks))
    kept = {layer.name: layer for b in network.blocks for layer in (b.pool, *b.after)}
    kept |= {layer.name: layer for layer in network.before + network.head}
    ours = [name for i, f in enumerate(split, 1) for name in (f"block{i}", f"block{i}_fusion")[: 1 + (f != 1)]]
    taken = [name for name in ours if name in kept]
    if taken:
        raise InputError(f"cannot split {model.name!r}: its layer names {taken} are the names of split blocks "
                         "and fusions; rename those layers")
    blocks = [SplitBlock(b.units, f, implementation, name=f"block{i + 1}")
              for i, (b, f) in enumerate(zip(network.blocks, split))]
    fusions = [Fusion(b.pooling, b.fusion_activation, name=f"block{i + 1}_fusion") if f > 1 else None
               for i, (b, f) in enumerate(zip(network.blocks, split))]
    clones = {name: _clone(layer) for name, layer in kept.items()}
    inputs = keras.Input(network.input_shape, name="image")
    x = inputs
    for layer in network.before:
        x = clones[layer.name](x)
    for block, split_block, fusion in zip(network.blocks, blocks, fusions):
        x = split_block(x)
        if fusion is not None:
            x = fusion(x)
        if fusion is None or block.pooling.startswith("global"):
            x = clones[block.pool.name](x)
        for layer in block.after:
            x = clones[layer.name](x)
    for layer in network.head:
        x = clones[layer.name](x)
    result = keras.Model(inputs, x, name=f"{model.name}_split_{'-'.join(map(str, split))}")
    for name, clone in clones.items():
        if weights or not clone.trainable_weights:
            clone.set_weights(kept[name].get_weights())
    if weights:
        for block, split_block, fusion in zip(network.blocks, blocks, fusions):
            dense = {f"u{i}": conv_arrays(conv, norm) for i, (conv, norm) in enumerate(block.sources)}
            load_dense_weights(split_block, dense)
            if fusion is not None:
                fusion.set_identity()
    return result


def load_model(path: str | os.PathLike, **options) -> keras.Model:
    """``keras.saving.load_model`` for a file that may hold split blocks (their layers are registered here).

    >>> import tempfile
    >>> from netsplit.models import split_model
    >>> path = Path(tempfile.mkdtemp()) / "split.keras"
    >>> split_model("vgg16", (2, 1, 1, 1, 1), width_multiplier=0.125).save(path)
    >>> type(load_model(path).get_layer("block1")).__name__
    'SplitBlock'
    """
    return keras.saving.load_model(path, **options)


@lru_cache(maxsize=8)
def _load(path: str, modified: int) -> keras.Model:
    try:
        return load_model(path, compile=False)
    except (OSError, ValueError, TypeError, KeyError, json.JSONDecodeError) as error:
        raise InputError(f"{path} is not a readable Keras model file ({type(error).__name__}: {error})") from None


def load_network(path: str | os.PathLike) -> keras.Model:
    """The model saved in a ``.keras`` file (loaded once per version of the file)."""
    file = Path(path)
    if not is_network_file(file) or not file.is_file():
        raise InputError(f"no .keras model file at {path}")
    return _load(str(file.resolve()), file.stat().st_mtime_ns)
