"""A split network in other forms: the same weights with each block as separate branches, grouped or
masked convolutions (:func:`in_form`), and the timing of a block's forms that
:func:`netsplit.implementations.choose_implementation` runs in a process of its own (``python -m netsplit.forms``,
one request per line of its standard input).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Mapping

import keras
import numpy as np

from netsplit.implementations import can_run
from netsplit.layers import SplitBlock


def in_form(model: keras.Model, forms: str | Mapping[str, str], input_size: int | None = None) -> keras.Model:
    """The same network and weights with each split block in ``forms`` (one implementation for all, or one per
    block name; a block that cannot take its form keeps separate branches), optionally at a square ``input_size``.

    >>> from netsplit.models import split_model
    >>> model = in_form(split_model("vgg16", (6, 2, 2, 4, 4), width_multiplier=0.125), "grouped")
    >>> [layer.implementation for layer in model.layers if hasattr(layer, "implementation")]
    ['branches', 'grouped', 'grouped', 'grouped', 'grouped']
    """
    blocks = {layer.name: layer for layer in model.layers if isinstance(layer, SplitBlock)}
    wanted = {name: forms if isinstance(forms, str) else forms.get(name, block.implementation)
              for name, block in blocks.items()}
    wanted = {name: form if can_run(blocks[name], form) else "branches" for name, form in wanted.items()}
    if input_size is None and all(blocks[name].implementation == form for name, form in wanted.items()):
        return model
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer" and input_size is not None:
            batch, _, _, channels = layer["config"]["batch_shape"]
            layer["config"]["batch_shape"] = [batch, input_size, input_size, channels]
        if layer["config"]["name"] in wanted:
            layer["config"]["implementation"] = wanted[layer["config"]["name"]]
    clone = type(model).from_config(config)  # a Sequential model's config is not a functional one's
    for layer in model.layers:
        target = clone.get_layer(layer.name)
        if isinstance(layer, SplitBlock):
            target.set_branch_weights(layer.get_branch_weights())
        elif layer.weights:
            target.set_weights(layer.get_weights())
    return clone


def time_forms(block_signature: dict, forms: list[str], rounds: int = 5) -> dict[str, float]:
    """Median seconds of a training step (forward, backward, SGD update) of the block in each form, and
    of the same block unsplit ("unsplit", for comparison), interleaved round by round; a form slower than
    3 times the fastest after one round stops early."""
    keras.config.set_dtype_policy(block_signature["dtype_policy"])
    shape = tuple(block_signature["input_shape"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(block_signature["batch"], *shape)).astype("float32")
    models = {}
    for form in (*forms, "unsplit"):
        inputs = keras.Input(shape)
        factor = 1 if form == "unsplit" else block_signature["factor"]
        block = SplitBlock(block_signature["units"], factor, "branches" if form == "unsplit" else form,
                           block_signature["first_conv"])
        model = keras.Model(inputs, keras.ops.mean(block(inputs), axis=(1, 2)))
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="mse")
        y = np.zeros((len(x), model.output_shape[-1]), "float32")
        model.train_on_batch(x, y)
        model.train_on_batch(x, y)
        models[form] = (model, y)
    times: dict[str, list[float]] = {form: [] for form in models}
    for round_ in range(rounds):
        for form, (model, y) in models.items():
            if round_ and times[form][0] > 3 * min(t[0] for t in times.values()):
                continue
            start = time.perf_counter()
            model.train_on_batch(x, y)
            times[form].append(time.perf_counter() - start)
    return {form: statistics.median(values) for form, values in times.items()}


if __name__ == "__main__":  # a timing per line of standard input, each answered by a line of standard output
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(time_forms(request["signature"], request["forms"])), flush=True)
