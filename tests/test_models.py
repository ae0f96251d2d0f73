"""Model builders: the ordinary networks, split vectors, comparators, bad input."""

import re

import keras
import numpy as np
import pytest
from keras import layers

from netsplit.layers import SplitBlock
from netsplit.errors import InputError
from netsplit.models import build_model, split_model
from helpers import keras_outputs, random_statistics

VGG16 = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]


def plain_vgg16(input_shape=(32, 32, 3), width=1.0) -> keras.Model:
    """VGG16-BN written out layer by layer, independently of netsplit."""
    model = keras.Sequential([keras.Input(input_shape)])
    for block in VGG16:
        for filters in block:
            model.add(layers.Conv2D(max(1, round(filters * width)), 3, padding="same", use_bias=False))
            model.add(layers.BatchNormalization(momentum=0.9, epsilon=1e-5))
            model.add(layers.ReLU())
        model.add(layers.MaxPooling2D(2))
    model.add(layers.GlobalAveragePooling2D())
    model.add(layers.Dense(10))
    return model


def test_factor_one_is_exactly_the_ordinary_vgg16():
    plain, ours = plain_vgg16(width=0.25), split_model("vgg16", None, width_multiplier=0.25)
    assert ours.count_params() == plain.count_params()
    convs = [l for l in plain.layers if isinstance(l, layers.Conv2D)]
    norms = [l for l in plain.layers if isinstance(l, layers.BatchNormalization)]
    blocks = [l for l in ours.layers if isinstance(l, SplitBlock)]
    position = 0
    for block in blocks:
        weights = {}
        for name in block.positions:
            conv, norm = convs[position], norms[position]
            weights[name] = [{"kernel": conv.get_weights()[0]} | dict(zip(
                ["gamma", "beta", "moving_mean", "moving_variance"], norm.get_weights()))]
            position += 1
        block.set_branch_weights(weights)
    ours.get_layer("head_dense").set_weights(plain.layers[-1].get_weights())
    x = np.random.default_rng(1).normal(size=(3, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(keras_outputs(ours, x), keras_outputs(plain, x), rtol=1e-5, atol=1e-5)


def test_full_size_parameter_counts():
    assert split_model("vgg16").count_params() == plain_vgg16().count_params()
    # The CIFAR ResNet18 of kuangliu/pytorch-cifar has 11,173,962 trainable parameters.
    resnet = split_model("resnet18")
    assert sum(int(np.prod(w.shape)) for w in resnet.trainable_weights) == 11_173_962


@pytest.mark.parametrize("split", [(2, 2, 2, 2, 2), (6, 6, 6, 6, 6), (8, 2, 2, 4, 4), (8, 2, 2, 2, 4), (3, 5, 7, 6, 1)])
@pytest.mark.parametrize("model", ["vgg16", "resnet18"])
def test_split_networks_have_the_right_shapes_and_fewer_parameters(model, split):
    net = split_model(model, split, input_shape=(32, 32, 1), classes=7, width_multiplier=0.5)
    assert net.output_shape == (None, 7)
    assert net.count_params() < split_model(model, None, input_shape=(32, 32, 1), classes=7, width_multiplier=0.5).count_params()
    factors = list(split)
    assert [l.factor for l in net.layers if isinstance(l, SplitBlock)] == factors
    fusions = [l.name for l in net.layers if type(l).__name__ == "Fusion"]
    assert fusions == [f"block{i + 1}_fusion" for i, f in enumerate(factors) if f > 1]


def test_resnet_stride_moves_into_the_fusion_pooling():
    net = split_model("resnet18", (1, 2, 1, 1, 1), width_multiplier=0.25)
    assert net.get_layer("block2_fusion").pooling == "avg"
    assert net.get_layer("block3").unit_specs[0].stride == 1
    assert net.get_layer("block3").output.shape[1:3] == (16, 16)
    assert split_model("resnet18", None, width_multiplier=0.25).get_layer("block3").output.shape[1:3] == (16, 16)


def test_naive_and_shared_split_comparators():
    naive = build_model("vgg16", "naive", factor=4, width_multiplier=0.5)
    shared = build_model("vgg16", "shared", factor=4, width_multiplier=0.5)
    assert naive.get_layer("branches").factor == 4
    assert [u.width for u in shared.get_layer("shared").unit_specs] == [32, 32, 64]
    assert shared.get_layer("branches").factor == 4
    assert naive.count_params() < shared.count_params() < split_model("vgg16", None, width_multiplier=0.5).count_params()
    assert naive.output_shape == shared.output_shape == (None, 10)


@pytest.mark.parametrize("kwargs,message", [
    ({"split": (8, 2, 2, 4)}, "one factor per block"),
    ({"split": (8, 2, 0, 4, 4)}, "positive integer"),
    ({"split": "8,2,2,4,4"}, "unknown preset '8,2,2,4,4'; presets are proposed_I, proposed_II, or give a split as a "
                             "sequence of 5 integers such as"),
    ({"split": 8}, "a sequence of 5 integers such as"),
    ({"split": [8, 2, 2.5, 4, 4]}, "positive integer"),
    ({"split": (128, 1, 1, 1, 1)}, "larger than the narrowest layer"),
    ({"model": "alexnet"}, "valid models are vgg16, resnet18"),
    ({"input_shape": (16, 16, 3)}, "too small for five poolings"),
    ({"input_shape": (32, 32)}, "height, width, channels"),
    ({"classes": 1}, "classes must be an integer >= 2"),
    ({"width_multiplier": 0}, "width_multiplier must be a number"),
    ({"width_multiplier": True}, "width_multiplier must be a number"),
])
def test_bad_input_says_what_is_valid(kwargs, message):
    with pytest.raises(ValueError, match=message):
        split_model(**kwargs)


def test_bad_variant_and_shared_cut():
    with pytest.raises(ValueError, match="valid variants"):
        build_model("vgg16", "tree")
    from netsplit.models import branched_model

    with pytest.raises(ValueError, match="shared_convs must end between units"):
        branched_model("resnet18", 4, shared_convs=2)


@pytest.mark.parametrize("kwargs,message", [
    ({"variant": "proposed", "factor": 4}, "the proposed variant takes split, a factor per block"),
    ({"variant": "naive", "split": (2, 2, 2, 2, 2)}, "the naive split takes factor"),
    ({"variant": "shared", "split": (2, 2, 2, 2, 2)}, "the shared split takes factor"),
])
def test_build_model_refuses_arguments_it_would_ignore(kwargs, message):
    with pytest.raises(InputError, match=message):
        build_model("vgg16", **kwargs)


def test_splitting_a_single_convolution_with_whole_inputs_is_flagged():
    import warnings as _warnings

    with pytest.warns(UserWarning, match="keeps all its parameters and MACs"):
        split_model("resnet18", (2, 1, 1, 1, 1), width_multiplier=0.125)
    with _warnings.catch_warnings():
        _warnings.simplefilter("error")
        split_model("resnet18", (2, 1, 1, 1, 1), width_multiplier=0.125, first_conv="share")
        split_model("vgg16", (8, 2, 2, 4, 4), width_multiplier=0.125)


def test_builders_take_the_keras_applications_keywords(tmp_path):
    unsplit = random_statistics(split_model("vgg16", width_multiplier=0.125, input_shape=(32, 32, 1)))
    x = np.random.default_rng(5).normal(size=(2, 32, 32, 1)).astype("float32")
    assert split_model("vgg16", "proposed_II").name == split_model("vgg16", (8, 2, 2, 2, 4)).name
    features = split_model("vgg16", "proposed_I", input_shape=(64, 64, 3), include_top=False, width_multiplier=0.125)
    assert features.output_shape == (None, 2, 2, 64) and "head_dense" not in [l.name for l in features.layers]
    probabilities = build_model("vgg16", "naive", factor=2, classifier_activation="softmax", name="mine",
                                width_multiplier=0.125)(x.repeat(3, axis=-1))
    assert probabilities.shape == (2, 10) and np.allclose(np.sum(probabilities, axis=1), 1, atol=1e-5)
    assert build_model("vgg16", "naive", factor=2, name="mine", width_multiplier=0.125).name == "mine"
    unsplit.save_weights(tmp_path / "unsplit.weights.h5")
    unsplit.save(tmp_path / "unsplit.keras")
    expected = keras_outputs(unsplit, x)
    for weights in (unsplit, tmp_path / "unsplit.weights.h5", str(tmp_path / "unsplit.keras")):
        same = split_model("vgg16", width_multiplier=0.125, input_shape=(32, 32, 1), weights=weights)
        np.testing.assert_allclose(keras_outputs(same, x), expected, rtol=1e-5, atol=1e-5)
    inherited = split_model("vgg16", (2, 1, 1, 1, 1), width_multiplier=0.125, input_shape=(32, 32, 1), weights=unsplit)
    [kernel] = [branch["kernel"] for branch in unsplit.get_layer("block1").get_branch_weights()["u0"]]
    assert np.allclose(inherited.get_layer("block1").get_branch_weights()["u0"][0]["kernel"], kernel[..., :4])


@pytest.mark.parametrize("kwargs,message", [
    ({"split": "proposed_III"}, "unknown preset 'proposed_III'; presets are proposed_I, proposed_II"),
    ({"weights": "missing.keras"}, "weights must be None, a .weights.h5 or .keras file that exists"),
    ({"weights": 3}, "weights must be None, a .weights.h5 or .keras file, or a keras.Model; got int"),
])
def test_bad_builder_keywords_say_what_is_valid(kwargs, message):
    with pytest.raises(InputError, match=re.escape(message)):
        split_model("vgg16", width_multiplier=0.125, **kwargs)


def test_the_split_networks_take_the_keywords_of_keras_applications():
    import keras

    from netsplit.applications import SplitResNet18, SplitVGG16, presets

    image = keras.Input((32, 32, 1))
    trunk = SplitVGG16(split=(8, 2, 2, 4, 1), width_multiplier=0.25, include_top=False, input_tensor=image,
                       pooling="max", name="trunk")
    assert trunk.name == "trunk" and trunk.input_shape == (None, 32, 32, 1) and trunk.output_shape == (None, 128)
    assert isinstance(trunk.layers[-1], keras.layers.GlobalMaxPooling2D)
    net = SplitResNet18(split=(1, 2, 1, 1, 1), width_multiplier=0.125, classes=3, classifier_activation="softmax")
    assert net.output_shape == (None, 3) and net.name == "split_resnet18"
    assert net.layers[-1].activation is keras.activations.softmax
    with pytest.raises(TypeError):
        SplitVGG16("proposed_I")  # keyword-only, as the applications are used
    with pytest.raises(InputError, match="pooling must be None, 'avg' or 'max'"):
        SplitVGG16(include_top=False, pooling="mean", width_multiplier=0.125)
    with pytest.raises(InputError, match="input_tensor must be a symbolic Keras tensor"):
        SplitVGG16(input_tensor=[1, 2], width_multiplier=0.125)
    described = presets("vgg16")
    assert set(described) == {"proposed_I", "proposed_II"} and "0.61 points" in described["proposed_I"]["description"]
    assert described["proposed_I"]["params"] < SplitVGG16().count_params()
