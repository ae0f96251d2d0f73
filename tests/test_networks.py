"""Any Keras CNN split at its poolings: exact at factor 1, block-diagonal after inheriting, clear refusals."""

import json

import keras
import numpy as np
import pytest
from keras import layers

import netsplit.networks
from netsplit.complexity import analyse, total
from netsplit.errors import InputError
from netsplit.inheritance import inherit
from netsplit.blocks import split_widths
from netsplit.networks import describe_network, split_network
from helpers import keras_outputs

RNG = np.random.default_rng(11)


def small_cnn():
    """Every unit form: bias and ReLU in the conv, BN after the activation, conv-BN-activation, no BN."""
    model = keras.Sequential([
        keras.Input((32, 32, 3)), layers.Rescaling(1 / 255),
        layers.Conv2D(12, 3, padding="same", activation="relu"), layers.BatchNormalization(),
        layers.Conv2D(12, 3, padding="valid", use_bias=False), layers.BatchNormalization(), layers.Activation("relu"),
        layers.MaxPooling2D(), layers.Dropout(0.1),
        layers.Conv2D(16, 5, strides=2, padding="same", activation="tanh"), layers.AveragePooling2D(2),
        layers.Conv2D(8, 1), layers.ReLU(), layers.GlobalAveragePooling2D(), layers.Dense(10),
    ])
    return randomised(model)


def randomised(model):
    """Non-trivial biases and BN state, so that copying them wrongly shows."""
    for weight in model.weights:
        if "moving_variance" in weight.path or "gamma" in weight.path:
            weight.assign(RNG.uniform(0.5, 1.5, weight.shape))
        elif "moving_mean" in weight.path or "beta" in weight.path or "bias" in weight.path:
            weight.assign(RNG.normal(0, 0.2, weight.shape))
    return model


def vgg16(top: bool):
    if top:
        return randomised(keras.applications.VGG16(weights=None, include_top=True, input_shape=(32, 32, 3), classes=10))
    base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    return randomised(keras.Sequential([base, layers.GlobalAveragePooling2D(), layers.Dense(10)]))


def images(n=3):
    return RNG.uniform(0, 255, (n, 32, 32, 3)).astype("float32")


@pytest.mark.parametrize("build", [small_cnn, lambda: vgg16(True), lambda: vgg16(False)],
                         ids=["small", "vgg16", "vgg16-own-head"])
def test_all_factors_one_give_the_source_outputs(build):
    source = build()
    blocks = len(describe_network(source).blocks)
    split = split_network(source, (1,) * blocks)
    x = images()
    np.testing.assert_array_equal(keras_outputs(split, x), keras_outputs(source, x))
    assert total(analyse(split)).params == split.count_params() == source.count_params()


def zero_off_diagonal(model, factors):
    """The source with every conv weight that links two different branches set to zero."""
    for block, factor in zip(describe_network(model).blocks, factors):
        edges = [np.cumsum([0, *split_widths(u.width, factor)]) for u in block.units]
        for k, (conv, _) in enumerate(block.sources):
            if k == 0:
                continue  # the first conv of every branch reads the whole block input
            kernel = keras.ops.convert_to_numpy(conv.kernel).copy()
            rows, cols = edges[k - 1], edges[k]
            for i in range(factor):
                for j in range(factor):
                    if i != j:
                        kernel[:, :, rows[i] : rows[i + 1], cols[j] : cols[j + 1]] = 0
            conv.kernel.assign(kernel)
    return model


@pytest.mark.parametrize("factors,implementation", [((4, 2, 2), "branches"), ((3, 5, 8), "branches"),
                                                    ((4, 2, 2), "grouped")])
def test_split_after_inheriting_equals_the_source_with_off_diagonals_zeroed(factors, implementation):
    source = small_cnn()
    split = split_network(source, factors, implementation=implementation)
    reference = keras.models.clone_model(source)
    reference.set_weights(source.get_weights())
    x = images()
    expected = keras_outputs(zero_off_diagonal(reference, factors), x)
    np.testing.assert_allclose(keras_outputs(split, x), expected, rtol=1e-4, atol=1e-4)
    assert not np.allclose(keras_outputs(source, x), expected, atol=1e-3), "zeroing must matter"
    assert [l.activation for l in split.layers if "fusion" in l.name] == ["relu", "linear", "relu"]


def test_vgg16_split_inherits_and_saves(tmp_path):
    source = vgg16(True)
    factors = (8, 2, 2, 4, 4)
    split = split_network(source, factors)
    reference = keras.models.clone_model(source)
    reference.set_weights(source.get_weights())
    x = images(2)
    np.testing.assert_allclose(keras_outputs(split, x), keras_outputs(zero_off_diagonal(reference, factors), x),
                               rtol=1e-4, atol=1e-5)
    split.save(tmp_path / "split.keras")
    loaded = keras.saving.load_model(tmp_path / "split.keras")
    np.testing.assert_array_equal(keras_outputs(loaded, x), keras_outputs(split, x))


def test_a_split_network_inherits_from_a_less_split_one_and_fresh_weights_differ():
    source = small_cnn()
    parent = split_network(source, (2, 1, 1))
    child = split_network(source, (2, 2, 1), weights=False)
    x = images()
    assert not np.allclose(keras_outputs(child, x), keras_outputs(parent, x), atol=1e-3)
    inherit(child, parent)
    np.testing.assert_array_equal(child.layers[-1].get_weights()[0], parent.layers[-1].get_weights()[0])
    assert child.get_layer("block2").factor == 2


def chain(*middle, head=None):
    head = (layers.Flatten(), layers.Dense(2)) if head is None else head
    return keras.Sequential([keras.Input((16, 16, 3)), *middle, *head])


def residual():
    inputs = keras.Input((16, 16, 3))
    x = layers.Conv2D(4, 3, padding="same", name="stem")(inputs)
    y = layers.Conv2D(4, 3, padding="same")(x)
    x = layers.MaxPooling2D()(layers.Add(name="join")([x, y]))
    return keras.Model(inputs, layers.Dense(2)(layers.Flatten()(x)))


REFUSED = {
    "residual": (residual, r"'join' \(Add\) joins 2 paths \(stem, .*\), as a residual connection does"),
    "depthwise": (lambda: chain(layers.DepthwiseConv2D(3, name="dw"), layers.MaxPooling2D()), r"'dw' \(DepthwiseConv2D\) is not a plain Conv2D"),
    "separable": (lambda: chain(layers.SeparableConv2D(4, 3, name="sep"), layers.MaxPooling2D()), r"'sep' .* not a plain Conv2D"),
    "no pooling": (lambda: chain(layers.Conv2D(4, 3, name="c1"), layers.MaxPooling2D(), layers.Conv2D(4, 3, name="c2")),
                   r"'flatten.*' \(Flatten\) follows the convolutions from 'c2' without a pooling layer"),
    "ends in convs": (lambda: chain(layers.Conv2D(4, 3, name="last"), head=()), r"'last' .* without a pooling layer"),
    "pool 3x3": (lambda: chain(layers.Conv2D(4, 3), layers.MaxPooling2D(3, name="p3")), r"'p3' .* pools \(3, 3\)"),
    "softmax": (lambda: chain(layers.Conv2D(4, 3, activation="softmax", name="sm"), layers.MaxPooling2D()), r"'sm' .*activation \(softmax\)"),
    "dilated": (lambda: chain(layers.Conv2D(4, 3, dilation_rate=2, name="dil"), layers.MaxPooling2D()), r"'dil' .* dilated"),
    "dropout inside": (lambda: chain(layers.Conv2D(4, 3), layers.Dropout(0.1, name="drop"), layers.Conv2D(4, 3), layers.MaxPooling2D()),
                       r"'drop' \(Dropout\) follows the convolutions"),
    "BN between blocks": (lambda: chain(layers.Conv2D(4, 3), layers.MaxPooling2D(), layers.BatchNormalization(name="bn"),
                                        layers.Conv2D(4, 3, name="c"), layers.MaxPooling2D()), r"'c' .* comes after 'bn', where the blocks ended"),
    "no convolution": (lambda: chain(head=(layers.Flatten(name="fl"), layers.Dense(2))), r"'fl' .* comes before any convolution block"),
    "name taken": (lambda: chain(layers.Conv2D(4, 3), layers.MaxPooling2D(), layers.Dropout(0.1, name="block1_fusion"),
                                  layers.Conv2D(4, 3), layers.MaxPooling2D()),
                   r"names \['block1_fusion'\] are the names of split blocks"),
    "leaky 0.3": (lambda: chain(layers.Conv2D(4, 3), layers.LeakyReLU(0.3, name="lk"), layers.MaxPooling2D()), r"'lk' .* applies an activation"),
    "unbuilt": (lambda: keras.Sequential([layers.Conv2D(4, 3), layers.MaxPooling2D()]), r"is not built"),
    "any size": (lambda: keras.Sequential([keras.Input((None, None, 3)), layers.Conv2D(4, 3), layers.MaxPooling2D()]),
                 r"input of shape \(None, None, 3\)"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_networks_that_cannot_be_split_get_one_clear_error(case, monkeypatch):
    build, message = REFUSED[case]
    model = build()
    monkeypatch.setattr(netsplit.networks, "SplitBlock", lambda *a, **k: pytest.fail("built before checking"))
    with pytest.raises(InputError, match=message):
        split_network(model, (2, 2))


def test_bad_factors_are_refused_before_anything_is_built(monkeypatch):
    model = small_cnn()
    monkeypatch.setattr(netsplit.networks.keras, "Input", lambda *a, **k: pytest.fail("built before checking"))
    with pytest.raises(InputError, match="one factor per block \\(3\\)"):
        split_network(model, (2, 2))
    with pytest.raises(InputError, match="block3: split factor 16 is larger than the narrowest layer \\(8 filters\\)"):
        split_network(model, (2, 2, 16))


def test_architecture_hash_ignores_names_and_weights_but_not_settings():
    first, second = small_cnn(), small_cnn()
    assert describe_network(first).architecture() == describe_network(second).architecture()
    wider = keras.Sequential([keras.Input((32, 32, 3)), layers.Conv2D(13, 3), layers.MaxPooling2D(), layers.Flatten(), layers.Dense(10)])
    narrower = keras.Sequential([keras.Input((32, 32, 3)), layers.Conv2D(12, 3), layers.MaxPooling2D(), layers.Flatten(), layers.Dense(10)])
    assert describe_network(wider).architecture() != describe_network(narrower).architecture()


def tiny_cnn(width=8, classes=2, convs=1):
    """Two blocks of ``convs`` convolutions each; a block of one convolution saves nothing when split."""
    first = [layers.Conv2D(width, 3, padding="same", activation="relu") for _ in range(convs)]
    second = [layers.Conv2D(width, 3, padding="same", activation="relu") for _ in range(convs - 1)]
    return keras.Sequential([
        keras.Input((16, 16, 1)), *first, layers.MaxPooling2D(),
        *second, layers.Conv2D(width, 3, padding="same"), layers.BatchNormalization(), layers.ReLU(),
        layers.MaxPooling2D(), layers.Flatten(), layers.Dense(classes, activation="softmax"),
    ])


def saved(model, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return str(path)


def test_built_in_search_keys_stay_as_they_were():
    from netsplit.search.config import SearchConfig

    assert SearchConfig().hash == "b63839da61dc"
    config = SearchConfig(model="resnet18", width_multiplier=0.25, train_size=100)
    assert (config.hash, config.blocks) == ("2353f436f6f1", (1, 2, 3, 4, 5))


def test_a_search_on_a_keras_file_is_keyed_by_its_name_and_architecture(tmp_path):
    from netsplit.search.config import SearchConfig
    from netsplit.records import RecordStore
    from netsplit.search.rule import SplitSearch
    from oracle import Oracle

    config = SearchConfig(model=saved(tiny_cnn(convs=2), tmp_path / "a" / "cnn.keras"), dataset="npz:data/digits.npz",
                          candidate_factors=(2, 4))
    assert config.blocks == (1, 2) and config.architecture == describe_network(tiny_cnn(convs=2)).architecture()
    moved = SearchConfig(model=saved(tiny_cnn(convs=2), tmp_path / "b" / "cnn.keras"), dataset="npz:data/digits.npz",
                         candidate_factors=(2, 4))
    other = SearchConfig(model=saved(tiny_cnn(width=12, convs=2), tmp_path / "c" / "cnn.keras"),
                         dataset="npz:data/digits.npz", candidate_factors=(2, 4))
    assert moved.hash == config.hash != other.hash
    assert config.default_records().name == f"cnn-npz-digits-{config.hash}.jsonl"
    oracle = Oracle(config, {1: {2: 0.1, 4: 0.9}, 2: {2: 0.1, 4: 0.2}})
    result = SplitSearch(config, oracle, RecordStore(tmp_path / "r.jsonl", config.hash), log=lambda line: None).run()
    assert result.split == (2, 4) and {job.split for job in oracle.calls} == {(1, 1), (2, 1), (4, 1), (2, 2), (2, 4)}
    single = SearchConfig(model=saved(tiny_cnn(), tmp_path / "d" / "cnn.keras"), dataset="npz:data/digits.npz",
                          candidate_factors=(2, 4))
    oracle = Oracle(single, {})
    result = SplitSearch(single, oracle, RecordStore(tmp_path / "s.jsonl", single.hash), log=lambda line: None).run()
    assert result.split == (1, 1) and [o.skipped for o in result.outcomes] == [(2, 4), (2, 4)], \
        "blocks of one convolution each save nothing when split"


@pytest.mark.parametrize("options,message", [
    ({"width_multiplier": 0.5}, "width_multiplier scales the built-in models"),
    ({"blocks": (1, 3)}, r"blocks must be numbers 1..2 of"),
    ({"dataset": "photos"}, "folder:PATH"),
])
def test_bad_search_options_for_a_keras_file(tmp_path, options, message):
    from netsplit.search.config import SearchConfig

    with pytest.raises(InputError, match=message):
        SearchConfig(model=saved(tiny_cnn(), tmp_path / "cnn.keras"), **options)


def test_info_shows_the_costs_of_a_split_keras_file(tmp_path, capsys):
    from netsplit.cli import main

    path = saved(tiny_cnn(), tmp_path / "cnn.keras")
    assert main(["info", "--model", path, "--split", "4,2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [row["block"] for row in info["blocks"]] == ["block1", "block2", "head", "total"]
    assert info["blocks"][-1]["params"] == split_network(tiny_cnn(), (4, 2)).count_params()
    assert main(["info", "--model", path, "--split", "4,2", "--input-size", "64"]) == 0
    assert "at 64x64x1" in capsys.readouterr().out
    for argv, message in [(["--split", "4,2,2"], "one factor per block (2)"), (["--variant", "naive"], "takes --split only"),
                          (["--model", str(tmp_path / "none.keras")], "no .keras model file")]:
        assert main(["info", "--model", path, *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err


@pytest.mark.slow
def test_search_command_on_a_keras_file_and_an_image_folder(tmp_path, capsys):
    from netsplit.cli import main
    from netsplit.records import read_records
    from test_imagefiles import write_images

    write_images(tmp_path / "shapes", per_class=20, size=(20, 20), mode="L")
    path = saved(tiny_cnn(), tmp_path / "cnn.keras")
    argv = ["search", "--model", path, "--dataset", f"folder:{tmp_path / 'shapes'}", "--candidate-factors", "2",
            "--baseline-epochs", "1", "--finetune-epochs", "1", "--batch-size", "16",
            "--records", str(tmp_path / "r.jsonl"), "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["split"]) == 2 and len(report["blocks"]) == 2
    records = read_records(tmp_path / "r.jsonl")
    assert {r.model for r in records} == {"cnn.keras"} and len({r.architecture for r in records}) == 1
    assert records[0].architecture and records[0].dataset == f"folder:{tmp_path / 'shapes'}"
    assert records[0].input_size == 16 and records[0].train_size == 32, "resized; a fifth held out as test set"
    assert main(argv) == 0 and len(read_records(tmp_path / "r.jsonl")) == len(records), "resumed, nothing trained"
