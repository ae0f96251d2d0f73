"""Weight inheritance from an unsplit network."""

import keras
import numpy as np
import pytest

from netsplit.inheritance import dense_weights, inherit, load_dense_weights
from netsplit.layers import SplitBlock
from netsplit.models import split_model
from helpers import keras_outputs, random_statistics

RNG = np.random.default_rng(3)


def zero_off_diagonal(model, split, first_conv="whole"):
    """The unsplit network with every weight a split network cannot have set to zero."""
    shaped = split_model("vgg16", split, width_multiplier=0.25, implementation="branches", first_conv=first_conv)
    for block in [l for l in model.layers if isinstance(l, SplitBlock)]:
        dense = dense_weights(block)
        target = shaped.get_layer(block.name)
        load_dense_weights(target, dense)
        load_dense_weights(block, dense_weights(target))
    return model


@pytest.mark.parametrize("split,first_conv", [
    ((8, 2, 2, 4, 4), "whole"), ((6, 6, 6, 6, 6), "whole"), ((3, 5, 7, 2, 1), "whole"),
    ((8, 2, 2, 4, 4), "share"), ((3, 5, 7, 2, 1), "share"),
])
def test_inherited_split_predicts_like_unsplit_with_off_diagonals_zeroed(split, first_conv):
    source = random_statistics(split_model("vgg16", None, width_multiplier=0.25))
    target = split_model("vgg16", split, width_multiplier=0.25, implementation="branches", first_conv=first_conv)
    inherit(target, source)
    reference = split_model("vgg16", None, width_multiplier=0.25)
    reference.set_weights(source.get_weights())
    zero_off_diagonal(reference, split, first_conv)
    x = RNG.normal(size=(4, 32, 32, 3)).astype("float32")
    expected = keras_outputs(reference, x)
    np.testing.assert_allclose(keras_outputs(target, x), expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(keras_outputs(source, x), expected, atol=1e-3), "zeroing must matter"


def test_first_conv_share_zeroes_the_first_kernel_off_its_block_diagonal():
    source = split_model("vgg16", None, width_multiplier=0.25)
    target = split_model("vgg16", (1, 2, 1, 1, 1), width_multiplier=0.25, implementation="branches", first_conv="share")
    inherit(target, source)
    kernel = dense_weights(target.get_layer("block2"))["u0"]["kernel"]  # 16 inputs, 32 filters
    np.testing.assert_array_equal(kernel[:, :, :8, 16:], 0)
    np.testing.assert_array_equal(kernel[:, :, 8:, :16], 0)
    unsplit = keras.ops.convert_to_numpy(source.get_layer("block2").convs[0].kernel)
    np.testing.assert_array_equal(kernel[:, :, :8, :16], unsplit[:, :, :8, :16])


def test_inherit_from_a_less_split_network_and_resnet():
    source = random_statistics(split_model("resnet18", (2, 1, 1, 1, 1), width_multiplier=0.25))
    target = split_model("resnet18", (4, 2, 2, 2, 2), width_multiplier=0.25)
    inherit(target, source)
    np.testing.assert_array_equal(
        target.get_layer("head_dense").get_weights()[0], source.get_layer("head_dense").get_weights()[0]
    )
    assert target.predict(np.zeros((1, 32, 32, 3), "float32"), verbose=0).shape == (1, 10)


def test_inherit_refuses_another_model():
    with pytest.raises(ValueError, match="no matching block|no layer of that shape"):
        inherit(split_model("vgg16", (2, 2, 2, 2, 2), width_multiplier=0.25), split_model("resnet18", width_multiplier=0.25))
