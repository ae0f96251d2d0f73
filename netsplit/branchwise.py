"""Branch-by-branch inference: run a split block's branches one after another.

Each branch's output is pooled (by the fusion that follows) as soon as it is computed, so that at
any moment the process holds the block input, the current branch's maps and the pooled outputs of
the branches already done: what :mod:`netsplit.complexity` counts as branch-by-branch memory.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from netsplit.forms import in_form
from netsplit.layers import Fusion, SplitBlock


def _forward(chain: list, x):
    index = 0
    while index < len(chain):
        layer = chain[index]
        follower = chain[index + 1] if index + 1 < len(chain) else None
        if isinstance(layer, SplitBlock) and layer.factor > 1:
            fusion = follower if isinstance(follower, Fusion) else None
            kept = []
            for path in range(layer.paths):
                branch = layer.branch(x, path, training=False)
                kept.append(fusion.pool(branch) if fusion else branch)
                del branch
            x = ops.concatenate(kept, axis=-1)
            del kept
            if fusion is not None:
                x = fusion.mix(x, training=False)
                index += 1
        else:
            x = layer(x, training=False)
        index += 1
    return x


def predict_branchwise(model: keras.Model, images: np.ndarray, batch_size: int = 1) -> np.ndarray:
    """Predictions of a chain-shaped netsplit model, computed branch by branch (eagerly).

    >>> from netsplit.models import split_model
    >>> model = split_model("vgg16", factors=(8, 2, 2, 4, 4), width_multiplier=0.125)
    >>> images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    >>> np.allclose(predict_branchwise(model, images), model.predict(images, verbose=0), atol=1e-4)
    True
    """
    model = in_form(model, "branches")
    chain = [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    outputs = []
    for start in range(0, len(images), batch_size):
        x = ops.convert_to_tensor(images[start : start + batch_size])
        outputs.append(ops.convert_to_numpy(_forward(chain, x)))
    return np.concatenate(outputs)
