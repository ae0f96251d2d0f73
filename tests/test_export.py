"""LiteRT export: grouped convolutions in the flatbuffer, the same predictions as Keras, the CLI."""

import json

import keras
import numpy as np
import pytest

from helpers import ROOT, keras_outputs, profile_search, random_statistics
from netsplit.cli import main
from netsplit.choices import LOWERINGS
from netsplit.errors import InputError
from netsplit.export import accuracy, convert, interpreter, op_counts, operators, predict
from netsplit.forms import in_form
from netsplit.layers import Fusion, SplitBlock
from netsplit.models import build_model, split_model

WIDTH = 0.25


def images(n: int, size: int = 32, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, size, size, channels)).astype("float32")


def conv_layers(model: keras.Model) -> int:
    """Convolutions a model runs: every conv of its split blocks (all paths) and each fusion's 1x1."""
    return sum(len(l.convs) if isinstance(l, SplitBlock) else isinstance(l, Fusion) for l in model.layers)


NETWORKS = {
    "vgg16 8,2,2,4,4": lambda: split_model("vgg16", (8, 2, 2, 4, 4), width_multiplier=WIDTH),
    "resnet18 8,2,2,2,4": lambda: split_model("resnet18", (8, 2, 2, 2, 4), width_multiplier=WIDTH),
    "vgg16 naive": lambda: build_model("vgg16", "naive", factor=4, width_multiplier=WIDTH),
    "vgg16 shared": lambda: build_model("vgg16", "shared", factor=4, width_multiplier=WIDTH),
    "vgg16 6,2,2,4,4 (6 does not divide 16)": lambda: split_model("vgg16", (6, 2, 2, 4, 4), width_multiplier=WIDTH),
    "vgg16 2,2,2,4,4, input shares (2 does not divide 3)":
        lambda: split_model("vgg16", (2, 2, 2, 4, 4), width_multiplier=WIDTH, first_conv="share"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", NETWORKS)
def test_float32_export_predicts_what_keras_predicts(name):
    model = random_statistics(NETWORKS[name]())
    x = images(4)
    reference = keras_outputs(model, x)
    exported = convert(model)
    assert np.abs(predict(exported, x) - reference).max() < 1e-5 * max(1.0, np.abs(reference).max())
    assert op_counts(exported)["CONV_2D"] == conv_layers(in_form(model, "grouped"))
    assert not any("BATCH_NORM" in op or op in ("MUL", "RSQRT") for op in op_counts(exported)), "BN folded"
    assert list(interpreter(exported, 1).get_signature_list()) == ["serving_default"]
    unsigned = convert(model, signature=False)  # what the forms timed for a choice are converted with
    assert op_counts(unsigned) == op_counts(exported) and not interpreter(unsigned, 1).get_signature_list()
    assert np.abs(predict(unsigned, x) - reference).max() < 1e-5 * max(1.0, np.abs(reference).max())


@pytest.mark.slow
@pytest.mark.parametrize("lowering", ["masked", "branches"])
@pytest.mark.parametrize("name", ["vgg16 8,2,2,4,4", "resnet18 8,2,2,2,4", "vgg16 6,2,2,4,4 (6 does not divide 16)"])
def test_every_lowering_predicts_what_keras_predicts(name, lowering):
    model = random_statistics(NETWORKS[name]())
    x = images(4)
    reference = keras_outputs(model, x)
    exported = convert(model, lowering=lowering)
    assert np.abs(predict(exported, x) - reference).max() < 1e-5 * max(1.0, np.abs(reference).max())
    ops = op_counts(exported)
    assert ops["CONV_2D"] == conv_layers(in_form(model, lowering))
    assert not any("BATCH_NORM" in op or op in ("MUL", "RSQRT") for op in ops), "BN and the mask folded"


@pytest.mark.slow
def test_split_blocks_become_one_grouped_convolution_per_layer():
    model = split_model("vgg16", (8, 2, 2, 4, 4), width_multiplier=WIDTH, implementation="branches")
    assert conv_layers(model) == 8 * 2 + 2 * 2 + 2 * 3 + 4 * 3 + 4 * 3 + 5, "one conv per branch in Keras"
    ops = op_counts(convert(model))
    assert ops["CONV_2D"] == 13 + 5 and "CONCATENATION" not in ops, "13 layers and 5 fusions"
    filters = [inputs[1] for kind, inputs in operators(convert(model)) if kind == "CONV_2D"]
    assert filters[1] == (16, 3, 3, 2), "block 1's second conv: 8 groups of 2 input channels"


@pytest.mark.parametrize("split,first_conv", [((6, 2, 2, 4, 4), "whole"), ((2, 2, 2, 4, 4), "share")])
def test_a_block_whose_factor_does_not_divide_keeps_its_branches(split, first_conv):
    """Block 1: 6 does not divide its 16 filters, or 2 does not divide the 3 input channels it shares out."""
    model = in_form(split_model("vgg16", split, width_multiplier=WIDTH, first_conv=first_conv), "grouped")
    implementations = [l.implementation for l in model.layers if isinstance(l, SplitBlock)]
    assert implementations == ["branches", "grouped", "grouped", "grouped", "grouped"]


@pytest.mark.slow
def test_larger_input_size_and_float16_weights():
    model = random_statistics(split_model("vgg16", (8, 2, 2, 4, 4), width_multiplier=WIDTH))
    same = split_model("vgg16", (8, 2, 2, 4, 4), input_shape=(64, 64, 3), width_multiplier=WIDTH)
    same.set_weights(model.get_weights())
    x = images(2, 64)
    reference = keras_outputs(same, x)
    exported = convert(model, input_size=64)
    assert list(interpreter(exported).get_input_details()[0]["shape"]) == [1, 64, 64, 3]
    assert np.abs(predict(exported, x) - reference).max() < 1e-5 * max(1.0, np.abs(reference).max())
    resized = interpreter(convert(model), input_size=64)
    resized.set_tensor(resized.get_input_details()[0]["index"], x[:1])
    resized.invoke()
    assert np.abs(resized.get_tensor(resized.get_output_details()[0]["index"]) - reference[:1]).max() < 1e-5
    half = convert(model, "float16", input_size=64)
    assert len(half) < 0.6 * len(exported)
    assert np.abs(predict(half, x) - reference).max() < 1e-2 * max(1.0, np.abs(reference).max())


def test_an_unknown_lowering_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="valid lowerings are grouped, masked, branches"):
        convert(split_model("vgg16", (8, 2, 2, 4, 4), width_multiplier=0.125), lowering={"block1": "auto"})


@pytest.mark.parametrize("precision,representative,message", [
    ("int4", None, "valid precisions are float32, float16, int8"),
    ("int8", None, "needs representative images"),
    ("int8", images(3, 32, 1), r"representative images are \(32, 32, 1\)"),
])
def test_bad_export_options(precision, representative, message):
    with pytest.raises(ValueError, match=message):
        convert(split_model("vgg16", (8, 2, 2, 4, 4), width_multiplier=0.125), precision, representative)


@pytest.mark.slow
def test_cli_exports_a_saved_model_with_its_predictions(tmp_path, capsys):
    model = random_statistics(split_model("resnet18", (1, 2, 1, 1, 4), width_multiplier=0.125))
    model.save(tmp_path / "m.keras")
    out = tmp_path / "m.tflite"
    assert main(["export", str(tmp_path / "m.keras"), str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["lowering"]) == {"block2", "block5"}, "each split block's form measured"
    assert summary["bytes"] == out.stat().st_size
    assert summary["convolutions"] == conv_layers(in_form(model, summary["lowering"]))
    x = images(2)
    assert np.abs(predict(out, x) - keras_outputs(model, x)).max() < 1e-5


@pytest.mark.slow
def test_cli_builds_and_exports_a_network(tmp_path, capsys):
    out = tmp_path / "vgg.tflite"
    argv = ["export", "--model", "vgg16", "--split", "8,2,2,4,4", "--width-multiplier", "0.125", "--input-size", "64", str(out)]
    assert main([*argv, "--lowering", "grouped"]) == 0
    assert "18 convolution operators" in capsys.readouterr().out
    assert main([*argv, "--lowering", "branches"]) == 0
    assert f"{8 * 2 + 2 * 2 + 2 * 3 + 4 * 3 + 4 * 3 + 5} convolution operators" in capsys.readouterr().out
    assert main([*argv[:4], "1,1,2,1,1", *argv[5:]]) == 0
    said = capsys.readouterr().err
    assert "the form each split block runs fastest in here (float32, 1 thread): block3 " in said, said
    assert list(interpreter(out).get_input_details()[0]["shape"]) == [1, 64, 64, 3]


@pytest.mark.parametrize("argv,message", [
    (["export", "out.tfl"], "must end in .tflite"),
    (["export", "a.keras", "b.keras", "c.tflite"], "expected [MODEL.keras] OUT.tflite, got 3 paths"),
    (["export", "/nonexistent.keras", "out.tflite"], "no .keras model file at /nonexistent.keras"),
    (["export", "out.tflite", "--precision", "int4"], "invalid choice: 'int4'"),
    (["export", "out.tflite", "--width-multiplier", "0.125", "--channels", "1", "--precision", "int8", "--dataset", "synthetic"],
     "int8 calibration needs the exported model's input (32, 32, 1)"),
])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not list(tmp_path.glob("*.tflite"))


def test_cli_refuses_split_with_a_saved_model(tmp_path, capsys):
    split_model("vgg16", width_multiplier=0.125).save(tmp_path / "m.keras")
    assert main(["export", str(tmp_path / "m.keras"), str(tmp_path / "m.tflite"), "--split", "2,2,2,2,2"]) == 2
    assert "leave it out when exporting a .keras file" in capsys.readouterr().err


@pytest.mark.slow
def test_int8_keeps_the_accuracy_of_a_trained_network(fashion_dir):
    """A split network of the cpu study, loaded from the weights its search kept: int8 holds its accuracy."""
    from netsplit.records import read_records

    config, _ = profile_search("cpu", "vgg16")
    records, split = config.default_records(ROOT / "results"), (8, 8, 8, 8, 1)
    weights = records.with_suffix(".parents") / "8-8-8-8-1_s0.weights.h5"
    assert weights.exists(), f"the cpu study keeps the weights its search inherited from, {weights} among them"
    recorded = [r.accuracy for r in read_records(records) if tuple(r.split) == split and r.seed == 0]
    assert recorded and recorded[0] > 0.8, f"{records} records 8,8,8,8,1, a network worth quantizing"
    data = config.load_data(str(fashion_dir))
    model = split_model("vgg16", split, data.input_shape, data.num_classes, config.width_multiplier)
    model.load_weights(weights)
    keras_labels = keras.ops.convert_to_numpy(model.predict(data.x_test, batch_size=500, verbose=0)).argmax(-1)
    assert abs(np.mean(keras_labels == data.y_test) - recorded[0]) < 1e-3, "the weights are the recorded network"
    exported = convert(model)
    float_labels = predict(exported, data.x_test).argmax(-1)
    assert np.mean(float_labels == keras_labels) > 0.999
    float_accuracy = np.mean(float_labels == data.y_test)
    int8 = convert(model, "int8", representative=data.x_train[:200])
    assert len(int8) < 0.4 * len(exported)
    assert abs(accuracy(int8, data.x_test, data.y_test) - float_accuracy) < 0.005


@pytest.mark.slow
def test_a_measured_lowering_picks_a_form_per_block_and_computes_the_same_function():
    from netsplit.export import measured_lowerings

    model = random_statistics(split_model("vgg16", (8, 2, 1, 1, 4), width_multiplier=0.125, input_shape=(32, 32, 1)))
    chosen = measured_lowerings(model, runs=3)
    assert set(chosen) == {"block1", "block2", "block5"} and set(chosen.values()) <= set(LOWERINGS)
    x = np.random.default_rng(2).normal(size=(2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(predict(convert(model, lowering=chosen), x), keras_outputs(model, x),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_a_block_is_timed_once_whichever_network_holds_it(monkeypatch, tmp_path):
    import netsplit.export as export
    from netsplit import implementations

    monkeypatch.setenv(implementations.CACHE_ENV, str(tmp_path / "cache.json"))
    timed, converted = [], []
    monkeypatch.setattr(export, "_FORMS", {})
    monkeypatch.setattr(export, "_FASTEST", {})
    monkeypatch.setattr(export, "_forms", lambda block, precision, split: converted.append(precision) or {
        "name": block.layers[1].name, "precision": precision})
    monkeypatch.setattr(export, "_medians", lambda forms, threads, runs: timed.append(
        (forms["name"], forms["precision"], threads)) or {"grouped": 2.0, "masked": 1.0})
    first = split_model("vgg16", (8, 2, 1, 1, 1), width_multiplier=0.125, input_shape=(32, 32, 1))
    second = split_model("vgg16", (8, 4, 1, 1, 1), width_multiplier=0.125, input_shape=(32, 32, 1))
    assert export.measured_lowerings(first) == {"block1": "masked", "block2": "masked"}
    export.measured_lowerings(second)
    assert timed == [("block1", "float32", 1), ("block2", "float32", 1), ("block2", "float32", 1)], "block1 again: not timed"
    export.measured_lowerings(first, "int8", threads=2)
    assert timed[3:] == [("block1", "int8", 2), ("block2", "int8", 2)], "another precision or thread count: timed"
    export.measured_lowerings(first, "int8", threads=1)
    assert len(timed) == 7 and converted == ["float32"] * 3 + ["int8"] * 2, "converted once per precision"
    monkeypatch.setattr(export, "_FASTEST", {})  # another process on this machine: the choices are cached
    assert export.measured_lowerings(first) == {"block1": "masked", "block2": "masked"} and len(timed) == 7
    naive = build_model("vgg16", "naive", factor=4, width_multiplier=0.125, input_shape=(32, 32, 1))
    assert export.measured_lowerings(naive) == {"branches": "masked"}, "a split block without a fusion has its form too"


@pytest.mark.slow
def test_a_branchwise_export_runs_each_branch_to_its_pooled_output_before_the_next():
    model = random_statistics(split_model("vgg16", (4, 1, 2, 1, 1), width_multiplier=0.125, input_shape=(32, 32, 1)))
    exported = convert(model, lowering="branchwise")
    kinds = [kind for kind, _ in operators(exported)]
    block1 = kinds[: kinds.index("CONCATENATION")]
    assert [k for k in block1 if k in ("CONV_2D", "MAX_POOL_2D")] == ["CONV_2D", "CONV_2D", "MAX_POOL_2D"] * 4, \
        "block 1: branch after branch, each pooled before the next begins"
    assert kinds[len(block1) + 1] == "CONV_2D", "then the fusion joins them"
    x = np.random.default_rng(4).normal(size=(2, 32, 32, 1)).astype("float32")
    for kernels in ("xnnpack", "builtin"):
        engine = interpreter(exported, kernels=kernels)
        engine.set_tensor(engine.get_input_details()[0]["index"], x[:1])
        engine.invoke()
        np.testing.assert_allclose(engine.get_tensor(engine.get_output_details()[0]["index"]),
                                   keras_outputs(model, x[:1]), rtol=1e-4, atol=1e-4)
    with pytest.raises(InputError, match="unknown kernels 'gpu'; valid kernels are xnnpack, builtin"):
        interpreter(exported, kernels="gpu")
    with pytest.raises(InputError, match=r"valid lowerings are grouped, masked, branches \(per block\)"):
        convert(model, lowering={"block1": "branchwise"})


@pytest.mark.slow
def test_every_stage_of_every_network_is_timed_alone_in_each_form_it_can_take():
    from netsplit.export import stage_times

    unsplit = split_model("vgg16", (1, 1, 1, 1, 1), width_multiplier=0.125, input_shape=(32, 32, 1))
    split = split_model("vgg16", (8, 1, 1, 1, 2), width_multiplier=0.125, input_shape=(32, 32, 1))
    times = stage_times({"unsplit": unsplit, "split": split}, input_size=32, runs=2)
    stages = [f"block{i}" for i in range(1, 6)]
    assert {name: list(forms) for name, forms in times["unsplit"].items()} == {s: ["unsplit"] for s in stages}
    assert {name: set(forms) for name, forms in times["split"].items()} == {
        "block1": set(LOWERINGS), "block2": {"unsplit"}, "block3": {"unsplit"}, "block4": {"unsplit"},
        "block5": set(LOWERINGS)}
    assert all(ms > 0 for forms in times.values() for form in forms.values() for ms in form.values())
