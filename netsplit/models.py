"""CIFAR-style VGG16 (with BN) and ResNet18, with a split factor per block, and the two comparators
of the paper's Table 2: the naive split (K slim networks joined before the classifier) and the
shared split (the first conv layers shared, the rest as K slim networks)."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import keras
from keras import layers

from netsplit.choices import VARIANTS, check_split
from netsplit.errors import InputError
from netsplit.inheritance import inherit
from netsplit.blocks import blueprint, check_factor
from netsplit.layers import Fusion, SplitBlock

MIN_INPUT = 32


PRESETS = {"proposed_I": (8, 2, 2, 4, 4), "proposed_II": (8, 2, 2, 2, 4)}
"""The paper's named splits (Table 2, on VGG16), by name: ``split_model("vgg16", "proposed_I")``."""


def check_input_shape(input_shape) -> tuple[int, int, int]:
    """Validate (height, width, channels): at least 32x32 so that five poolings leave a pixel."""
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise InputError(f"input shape must be (height, width, channels) of positive integers, got {shape}")
    if min(shape[:2]) < MIN_INPUT:
        raise InputError(
            f"input shape {shape} is too small for five poolings; height and width must be >= {MIN_INPUT}"
        )
    return shape


def _check_classes(classes) -> int:
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise InputError(f"classes must be an integer >= 2, got {classes!r}")
    return classes


POOLINGS = (None, "avg", "max")
"""What ``pooling`` may be without the classifier, as in ``keras.applications``: none, global average or max."""


def _inputs(input_tensor, input_shape) -> tuple:
    """The network's inputs and the tensor its first block reads: a new ``keras.Input``, or ``input_tensor``."""
    if input_tensor is None:
        inputs = keras.Input(check_input_shape(input_shape), name="image")
        return inputs, inputs
    if not isinstance(input_tensor, keras.KerasTensor):
        raise InputError(f"input_tensor must be a symbolic Keras tensor (from keras.Input), got {type(input_tensor).__name__}")
    check_input_shape(tuple(input_tensor.shape[1:]))
    return keras.utils.get_source_inputs(input_tensor), input_tensor


def _finished(inputs, x, name: str, include_top: bool, classes: int, classifier_activation: str | None,
              weights, pooling: str | None = None) -> keras.Model:
    """The network from ``inputs`` to ``x`` (the last block's output), with the classifier if ``include_top``
    (else the ``pooling`` asked for), starting from ``weights``."""
    if pooling not in POOLINGS:
        raise InputError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="head_pool")(x)
        x = layers.Dense(_check_classes(classes), activation=classifier_activation, name="head_dense")(x)
    elif pooling is not None and len(x.shape) == 4:
        x = (layers.GlobalAveragePooling2D if pooling == "avg" else layers.GlobalMaxPooling2D)(name="pool")(x)
    elif pooling is not None:  # a last block split with a fusion has pooled globally already
        x = layers.Reshape((x.shape[-1],), name="pool")(x)
    network = keras.Model(inputs, x, name=name)
    if weights is not None:
        _load(network, weights)
    return network


def _load(network: keras.Model, weights) -> None:
    """Start ``network`` from ``weights``: a ``.weights.h5`` file of this network, or a trained network of the same
    model and width (a ``keras.Model`` or a ``.keras`` file), whose weights it inherits (:func:`~netsplit.inheritance.inherit`)."""
    if isinstance(weights, (str, Path)) and str(weights).endswith(".weights.h5"):
        network.load_weights(weights)
        return
    if isinstance(weights, (str, Path)):
        if not str(weights).endswith(".keras") or not Path(weights).exists():
            raise InputError(f"weights must be None, a .weights.h5 or .keras file that exists, or a keras.Model; "
                             f"got {str(weights)!r}")
        weights = keras.saving.load_model(weights)
    if not isinstance(weights, keras.Model):
        raise InputError(f"weights must be None, a .weights.h5 or .keras file, or a keras.Model; got {type(weights).__name__}")
    inherit(network, source=weights)


def split_model(
    model: str = "vgg16",
    split=None,
    input_shape=(32, 32, 3),
    classes: int = 10,
    width_multiplier: float = 1.0,
    implementation: str = "auto",
    first_conv: str = "whole",
    include_top: bool = True,
    weights=None,
    classifier_activation: str | None = None,
    name: str | None = None,
    input_tensor=None,
    pooling: str | None = None,
) -> keras.Model:
    """The proposed method: block i split into ``split[i]`` branches, each split block followed by a fusion.

    ``split`` is a factor per block or a name of :data:`PRESETS`; ``None`` (or all ones) gives the ordinary
    network. ``first_conv`` says what each branch's first conv reads: the whole block input, or its share
    (see :class:`~netsplit.layers.SplitBlock`). As in ``keras.applications``: ``include_top`` adds the
    classifier (global average pooling and a dense layer of ``classes`` outputs, logits unless
    ``classifier_activation``), ``weights`` gives a ``.weights.h5`` file, or a trained network (a
    ``keras.Model`` or ``.keras`` file of the same model and width) to inherit from, ``input_tensor`` a tensor
    to build on, and ``pooling`` ("avg" or "max") a global pooling of the features without the classifier.

    >>> split_model("vgg16", "proposed_I", width_multiplier=0.25).name
    'vgg16_split_8-2-2-4-4'
    >>> split_model("vgg16", (8, 2, 2, 4, 4), include_top=False, width_multiplier=0.25).output_shape
    (None, 1, 1, 128)
    """
    plan = blueprint(model, width_multiplier)
    if isinstance(split, str) and split not in PRESETS:
        raise InputError(f"unknown preset {split!r}; presets are {', '.join(PRESETS)}, or give a split as a sequence "
                         f"of {len(plan.blocks)} integers such as (8, 2, 2, 4, 4)")
    split = check_split(PRESETS[split] if isinstance(split, str) else split, len(plan.blocks))
    for i, (block, factor) in enumerate(zip(plan.blocks, split)):
        check_factor(factor, [u.width for u in block], f"block {i + 1} of {model}")
        if factor > 1 and first_conv == "whole" and len(block) == 1 and block[0].kind == "conv":
            warnings.warn(f"block {i + 1} of {model} is a single convolution: split {factor} ways, every branch "
                          "reading its whole input, it keeps all its parameters and MACs and adds a fusion; "
                          "leave it at 1 (or give first_conv='share')", stacklevel=2)
    inputs, x = _inputs(input_tensor, input_shape)
    stride_moved = False
    for i, (block, factor) in enumerate(zip(plan.blocks, split)):
        if stride_moved:
            block = (replace(block[0], stride=1), *block[1:])
        x = SplitBlock(block, factor, implementation, first_conv, name=f"block{i + 1}")(x)
        stride_moved = False
        if factor == 1:
            if plan.max_pool[i]:
                x = layers.MaxPooling2D(2, name=f"block{i + 1}_pool")(x)
            continue
        if plan.max_pool[i]:
            fusion_pooling = "max"
        elif i + 1 == len(plan.blocks):
            fusion_pooling = "global"
        elif plan.blocks[i + 1][0].stride > 1:
            fusion_pooling, stride_moved = "avg", True
        else:
            fusion_pooling = None
        x = Fusion(fusion_pooling, name=f"block{i + 1}_fusion")(x)
    name = name or f"{model}_split_{'-'.join(map(str, split))}"
    return _finished(inputs, x, name, include_top, classes, classifier_activation, weights, pooling)


def branched_model(
    model: str = "vgg16",
    factor: int = 4,
    shared_convs: int = 0,
    input_shape=(32, 32, 3),
    classes: int = 10,
    width_multiplier: float = 1.0,
    implementation: str = "auto",
    first_conv: str = "whole",
    include_top: bool = True,
    weights=None,
    classifier_activation: str | None = None,
    name: str | None = None,
) -> keras.Model:
    """``shared_convs`` conv layers at full width, then ``factor`` slim networks that never exchange
    data until the classifier, each reading the whole shared output or its ``first_conv`` share of it.
    ``shared_convs=0`` is the naive split; 3 with factor 4 the shared split. The other keywords are
    :func:`split_model`'s."""
    plan = blueprint(model, width_multiplier)
    units = [
        replace(u, pool=plan.max_pool[b] and k == len(block) - 1)
        for b, block in enumerate(plan.blocks)
        for k, u in enumerate(block)
    ]
    convs = [1 if u.kind == "conv" else 2 for u in units]
    boundaries = [sum(convs[:k]) for k in range(len(units) + 1)]
    if shared_convs not in boundaries[:-1]:
        raise InputError(
            f"shared_convs must end between units of {model}; valid values are {boundaries[:-1]}, "
            f"got {shared_convs!r}"
        )
    cut = boundaries.index(shared_convs)
    check_factor(factor, [u.width for u in units[cut:]], f"{model} branches")
    inputs = keras.Input(check_input_shape(input_shape), name="image")
    x = inputs
    if cut:
        x = SplitBlock(units[:cut], 1, implementation, name="shared")(x)
    x = SplitBlock(units[cut:], factor, implementation, first_conv, name="branches")(x)
    name = name or f"{model}_{'shared' if cut else 'naive'}_{factor}"
    return _finished(inputs, x, name, include_top, classes, classifier_activation, weights)


def build_model(
    model: str = "vgg16",
    variant: str = "proposed",
    split=None,
    factor: int | None = None,
    **options,
) -> keras.Model:
    """One entry point for every network of the study (``options`` go to the builder).

    The proposed variant takes ``split`` (a factor per block); the naive and shared splits take
    ``factor``, their number of branches (4 unless given).

    >>> build_model("vgg16", "naive", factor=4, width_multiplier=0.25).name
    'vgg16_naive_4'
    """
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; valid variants are {', '.join(VARIANTS)}")
    if variant == "proposed":
        if factor is not None:
            raise InputError("factor is the branch count of the naive and shared splits; "
                             "the proposed variant takes split, a factor per block")
        return split_model(model, split, **options)
    if split is not None:
        raise InputError(f"the {variant} split takes factor (its branch count), not a split (a factor per block)")
    return branched_model(model, 4 if factor is None else factor, 0 if variant == "naive" else 3, **options)
