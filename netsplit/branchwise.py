"""Branch-by-branch inference: run a split block's branches one after another.

Each branch's output is pooled (by the fusion that follows) as soon as it is computed, so that at
any moment the process holds the block input, the current branch's maps and the pooled outputs of
the branches already done: what :mod:`netsplit.complexity` counts as branch-by-branch memory.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from netsplit.forms import in_form
from netsplit.stages import Stage, chain, layers_of


def _forward(items: list, x):
    for item in items:
        if isinstance(item, Stage) and item.block.factor > 1:
            fusion, kept = item.fusion, []
            for path in range(item.block.paths):
                branch = item.block.branch(x, path, training=False)
                kept.append(fusion.pool(branch) if fusion else branch)
                del branch
            x = ops.concatenate(kept, axis=-1)
            del kept
            x = fusion.mix(x, training=False) if fusion else x
            if item.end is not None and fusion is None:
                x = item.end(x, training=False)
        else:
            for layer in layers_of(item):
                x = layer(x, training=False)
    return x


def predict_branchwise(model: keras.Model, images: np.ndarray, batch_size: int = 1) -> np.ndarray:
    """Predictions of a chain-shaped netsplit model, computed branch by branch (eagerly).

    >>> from netsplit.models import split_model
    >>> model = split_model("vgg16", split=(8, 2, 2, 4, 4), width_multiplier=0.125)
    >>> images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    >>> np.allclose(predict_branchwise(model, images), model.predict(images, verbose=0), atol=1e-4)
    True
    """
    model = in_form(model, "branches")
    items = chain(model)
    outputs = []
    for start in range(0, len(images), batch_size):
        x = ops.convert_to_tensor(images[start : start + batch_size])
        outputs.append(ops.convert_to_numpy(_forward(items, x)))
    return np.concatenate(outputs)


class BranchByBranch(keras.layers.Layer):
    """A split block and its fusion as one layer whose branches run one after another, each pooled before the
    next begins: traced for export, its graph holds the branches in that order."""

    def __init__(self, stage: Stage, **kwargs):
        super().__init__(**kwargs)
        self.block, self.fusion = stage.block, stage.fusion

    def call(self, x):
        kept = []
        for path in range(self.block.paths):
            source = x if not kept else _after(x, kept[-1])
            kept.append(self.fusion.pool(self.block.branch(source, path, training=False)))
        return self.fusion.mix(ops.concatenate(kept, axis=-1), training=False)


def _after(x, done):
    """``x`` unchanged, but computed after ``done``: max(x, min(x, t)) is x for any t, and no converter folds
    it away, so the next branch cannot start before the previous one has finished."""
    return ops.maximum(x, ops.minimum(x, ops.min(done)))


def branch_ordered(model: keras.Model) -> keras.Model:
    """The same network, weights shared, with every split block that a fusion follows run branch by branch (for
    export, where an engine that plans its memory in graph order can reuse one branch's buffers for the next).

    >>> from netsplit.models import split_model
    >>> model = split_model("vgg16", (8, 2, 2, 4, 4), width_multiplier=0.125)
    >>> images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    >>> np.allclose(branch_ordered(model).predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)
    True
    """
    model = in_form(model, "branches")
    inputs = keras.Input(model.input_shape[1:], name="image")
    x = inputs
    for item in chain(model):
        if isinstance(item, Stage) and item.fusion is not None:
            x = BranchByBranch(item, name=f"{item.name}_branch_by_branch")(x)
        else:
            for layer in layers_of(item):
                x = layer(x, training=False)
    return keras.Model(inputs, x, name=f"{model.name}_branch_by_branch")
