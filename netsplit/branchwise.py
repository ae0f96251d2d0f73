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
from netsplit.stages import Stage, chain


def _forward(items: list, x):
    for item in items:
        if isinstance(item, Stage) and item.fusion is not None:
            kept = []
            for path in range(item.block.paths):
                branch = item.block.branch(x, path, training=False)
                kept.append(item.fusion.pool(branch))
                del branch
            x = item.fusion.mix(ops.concatenate(kept, axis=-1), training=False)
            del kept
        else:
            for layer in item.layers if isinstance(item, Stage) else (item,):
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
