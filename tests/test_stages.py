"""Stages: every consumer reads a split block with its fusion in one place, and refuses a malformed one."""

import keras
import numpy as np
import pytest
from keras import layers

from netsplit.branchwise import predict_branchwise
from netsplit.complexity import analyse
from netsplit.errors import InputError
from netsplit.blocks import Unit
from netsplit.layers import Fusion, SplitBlock
from netsplit.models import split_model
from netsplit.stages import chain, layers_of, stages
from netsplit.study.chapters import parameter_shares

UNITS = (Unit("conv", 8), Unit("conv", 8))


def _network(*middle: keras.layers.Layer) -> keras.Model:
    """A split block of 4, then ``middle``, then a classifier."""
    inputs = keras.Input((16, 16, 3))
    x = SplitBlock(UNITS, 4, "branches", name="block1")(inputs)
    for layer in middle:
        x = layer(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(10, name="logits")(x), name="custom")


@pytest.mark.parametrize("factors,ends", [
    ((8, 2, 2, 4, 4), ["block1_fusion", "block2_fusion", "block3_fusion", "block4_fusion", "block5_fusion"]),
    ((1, 2, 1, 1, 1), ["block1_pool", "block2_fusion", "block3_pool", "block4_pool", "block5_pool"]),
])
def test_a_built_model_knows_its_stages(factors, ends):
    network = split_model("vgg16", factors, width_multiplier=0.125)
    found = stages(network)
    assert [stage.block.factor for stage in found] == list(factors)
    assert [stage.end.name for stage in found] == ends
    assert [stage.fusion is not None for stage in found] == [f > 1 for f in factors]


def test_resnet_stages_without_pooling_end_in_their_fusion_or_nothing():
    network = split_model("resnet18", (1, 2, 1, 1, 1), width_multiplier=0.125)
    assert [(s.name, None if s.end is None else s.end.name) for s in stages(network)][:3] == [
        ("block1", None), ("block2", "block2_fusion"), ("block3", None)]


def test_the_chain_holds_every_layer_once_in_order():
    network = split_model("vgg16", (8, 2, 2, 4, 4), width_multiplier=0.125)
    flat = [layer for item in chain(network) for layer in layers_of(item)]
    assert flat == [layer for layer in network.layers if not isinstance(layer, layers.InputLayer)]


@pytest.mark.parametrize("reader", [analyse, lambda n: predict_branchwise(n, np.zeros((1, 16, 16, 3), "float32"))],
                         ids=["costs", "branch by branch"])
def test_a_layer_between_a_block_and_its_fusion_is_refused(reader):
    network = _network(layers.Activation("linear", name="between"), Fusion("max", name="block1_fusion"))
    with pytest.raises(InputError, match="the fusion 'block1_fusion' follows 'between', not a split block"):
        reader(network)


def test_a_fusion_that_follows_no_split_block_is_refused():
    network = _network(Fusion("max", name="block1_fusion"), Fusion(None, name="stray"))
    with pytest.raises(InputError, match="the fusion 'stray' follows 'block1_fusion', not a split block"):
        stages(network)


def test_parameter_shares_count_each_fusion_in_its_block():
    frame = parameter_shares("vgg16", (8, 1, 2, 1, 1), width_multiplier=0.125)
    network = split_model("vgg16", (8, 1, 2, 1, 1), width_multiplier=0.125)
    assert frame.loc["block1", "of which fusion"] == network.get_layer("block1_fusion").count_params()
    assert frame.loc["block2", "of which fusion"] == 0
