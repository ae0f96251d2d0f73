"""Weight inheritance: start a split network from a trained, less split one.

Each branch takes its block-diagonal slice of the source kernels (the first conv and first shortcut
of a branch take full input rows where they read the whole block input, the rows of its share under
``first_conv="share"``), biases and BN state follow their channels, and a new fusion starts as the
identity. Unsplit blocks, fusions present in both networks, and the classifier are copied as they are.
"""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np

from netsplit.errors import InputError
from netsplit.blocks import Unit, split_slices
from netsplit.layers import Fusion, SplitBlock


def dense_weights(block: SplitBlock) -> dict[str, dict[str, np.ndarray]]:
    """Each conv position as one full-width kernel (zeros off the block diagonal) and full BN vectors."""
    branches = block.get_branch_weights()
    dense = {}
    for spec in block.specs:
        parts = branches[spec.name]
        kernels = [p["kernel"] for p in parts]
        if spec.full_input:
            kernel = np.concatenate(kernels, axis=-1)
        else:
            kernel = np.zeros(kernels[0].shape[:2] + (sum(k.shape[2] for k in kernels), spec.width), "float32")
            rows = np.cumsum([0, *(k.shape[2] for k in kernels)])
            for j, (k, cols) in enumerate(zip(kernels, split_slices(spec.width, block.factor))):
                kernel[:, :, rows[j] : rows[j + 1], cols] = k
        dense[spec.name] = {"kernel": kernel} | {
            key: np.concatenate([p[key] for p in parts]) for key in parts[0] if key != "kernel"
        }
    return dense


def load_dense_weights(block: SplitBlock, dense: dict[str, dict[str, np.ndarray]]) -> None:
    """Set a block from full-width weights, keeping only each branch's block-diagonal slice."""
    weights = {}
    for spec in block.specs:
        source = dense.get(spec.name) or _identity_shortcut(block.in_channels, spec.width, spec.norm[0])
        in_slices = None if spec.full_input else split_slices(source["kernel"].shape[2], block.factor)
        weights[spec.name] = [
            {"kernel": source["kernel"][:, :, slice(None) if in_slices is None else in_slices[j], cols]}
            | {key: value[cols] for key, value in source.items() if key != "kernel"}
            for j, cols in enumerate(split_slices(spec.width, block.factor))
        ]
    block.set_branch_weights(weights)


def _identity_shortcut(channels: int, width: int, epsilon: float) -> dict[str, np.ndarray]:
    """A 1x1 conv + BN that passes the input through: what an unsplit identity shortcut becomes."""
    ones = np.ones(width, "float32")
    return {
        "kernel": np.eye(channels, width, dtype="float32")[None, None],
        "gamma": ones, "beta": 0 * ones, "moving_mean": 0 * ones, "moving_variance": (1 - epsilon) * ones,
    }


def inherit(target: keras.Model, source: keras.Model) -> None:
    """Initialise ``target`` from ``source``, two networks of the same model and width multiplier.

    >>> from netsplit.models import split_model
    >>> unsplit = split_model("vgg16", width_multiplier=0.25)
    >>> split = split_model("vgg16", split=(2, 1, 1, 1, 1), width_multiplier=0.25)
    >>> inherit(split, source=unsplit)  # block 1's two branches start as its block-diagonal halves
    """
    source_layers = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        match = source_layers.get(layer.name)
        if isinstance(layer, SplitBlock):
            if not isinstance(match, SplitBlock) or _layout(match) != _layout(layer):
                raise InputError(f"{layer.name}: the source network has no matching block; inherit from the same model and width")
            if match.factor == layer.factor and match.implementation == layer.implementation:
                layer.set_weights(match.get_weights())
            else:
                load_dense_weights(layer, dense_weights(match))
        elif isinstance(layer, Fusion):
            if isinstance(match, Fusion):
                layer.set_weights(match.get_weights())
            else:
                layer.set_identity()
        elif layer.weights:
            if match is None or [w.shape for w in match.weights] != [w.shape for w in layer.weights]:
                raise InputError(f"{layer.name}: the source network has no layer of that shape")
            layer.set_weights(match.get_weights())


def _layout(block: SplitBlock) -> list[Unit]:
    """A block's units without strides (a ResNet stage's stride moves into the fusion before it)."""
    return [replace(u, stride=1) for u in block.unit_specs]
