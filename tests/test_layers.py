"""Split and fusion layers: widths, every implementation, saving."""

import io
import zipfile

import keras
import numpy as np
import pytest

import netsplit.runtime
from netsplit.blocks import Unit, split_widths
from netsplit.implementations import untimed_choice
from netsplit.layers import Fusion, SplitBlock
from netsplit.models import split_model
from helpers import keras_outputs

RNG = np.random.default_rng(0)


def images(n=2, size=32, channels=3):
    return RNG.normal(size=(n, size, size, channels)).astype("float32")


@pytest.mark.parametrize("width,factor,expected", [
    (64, 6, [11, 11, 11, 11, 10, 10]), (64, 8, [8] * 8), (10, 3, [4, 3, 3]), (5, 5, [1] * 5), (7, 1, [7]),
])
def test_split_widths_are_as_even_as_possible(width, factor, expected):
    assert split_widths(width, factor) == expected


def test_branch_widths_follow_split_widths():
    block = SplitBlock([Unit("conv", 64), Unit("conv", 64)], factor=6, implementation="branches")
    out = block(images(size=8))
    assert out.shape == (2, 8, 8, 64)
    widths = [conv.kernel.shape[-1] for conv in block.convs[::2]]
    assert widths == [11, 11, 11, 11, 10, 10]
    first_inputs = {conv.kernel.shape[2] for conv in block.convs[::2]}
    later_inputs = [conv.kernel.shape[2] for conv in block.convs[1::2]]
    assert first_inputs == {3}, "the first conv of every branch reads the whole block input"
    assert later_inputs == [11, 11, 11, 11, 10, 10], "later convs read only their branch's channels"


@pytest.mark.parametrize("channels,reads", [(8, [2, 2, 2, 2]), (6, [2, 2, 1, 1]), (3, [3, 3, 3, 3])])
def test_first_conv_share_reads_its_slice_of_the_input(channels, reads):
    units = [Unit("conv", 8, norm="none", activation="linear")] * 2
    block = SplitBlock(units, factor=4, implementation="branches", first_conv="share")
    x = images(size=8, channels=channels)
    out = keras.ops.convert_to_numpy(block(x))
    assert [conv.kernel.shape[2] for conv in block.convs[::2]] == reads
    nudged = x.copy()
    nudged[..., 0] += 1.0  # channel 0 is branch 0's share; every branch's where the block falls back to whole
    moved = (np.abs(keras.ops.convert_to_numpy(block(nudged)) - out) > 1e-4).any(axis=(0, 1, 2))
    assert moved.tolist() == [True] * 2 + [channels < 4] * 6


@pytest.mark.parametrize("first_conv,shortcuts", [("whole", ["u0p"]), ("share", [])])
def test_a_residual_unit_reading_its_share_keeps_the_identity_shortcut(first_conv, shortcuts):
    block = SplitBlock([Unit("residual", 8)], factor=2, implementation="branches", first_conv=first_conv)
    block.build((None, 8, 8, 8))
    assert [name for name in block.positions if name.endswith("p")] == shortcuts


def test_first_conv_is_checked():
    with pytest.raises(ValueError, match="first_conv must be one of"):
        SplitBlock([Unit("conv", 8)], factor=2, first_conv="half")


def test_grouped_share_needs_the_factor_to_divide_the_input_channels(monkeypatch):
    with pytest.raises(ValueError, match="divide the 6 input channels"):
        SplitBlock([Unit("conv", 8)], factor=4, implementation="grouped", first_conv="share").build((None, 8, 8, 6))
    monkeypatch.setattr(netsplit.runtime, "has_accelerator", lambda: True)
    for channels, form in ((8, "grouped"), (6, "branches")):
        block = SplitBlock([Unit("conv", 8)], factor=4, implementation="auto", first_conv="share")
        block.build((None, 8, 8, channels))
        assert block.implementation == form


def _copy(source: keras.Model, target: keras.Model) -> None:
    for a, b in zip(source.layers, target.layers):
        if isinstance(a, SplitBlock):
            b.set_branch_weights(a.get_branch_weights())
        elif a.weights:
            b.set_weights(a.get_weights())


@pytest.mark.parametrize("model,split,first_conv", [
    ("vgg16", (2, 4, 2, 4, 8), "whole"), ("resnet18", (2, 2, 4, 4, 8), "whole"),
    ("vgg16", (4, 4, 2, 4, 8), "share"), ("resnet18", (4, 2, 4, 4, 8), "share"),
])
@pytest.mark.parametrize("form", ["grouped", "masked"])
def test_every_form_gives_the_outputs_of_separate_branches(model, split, first_conv, form):
    options = {"width_multiplier": 0.125, "first_conv": first_conv}
    branches = split_model(model, split, implementation="branches", **options)
    other = split_model(model, split, implementation=form, **options)
    for layer in branches.layers:  # make BN state non-trivial so that its slicing is checked too
        for w in layer.weights:
            if "moving_" in w.path:
                w.assign(RNG.uniform(0.5, 1.5, w.shape).astype("float32"))
    _copy(branches, other)
    x = images()
    np.testing.assert_allclose(keras_outputs(other, x), keras_outputs(branches, x), rtol=1e-4, atol=1e-5)


def test_grouped_needs_divisible_widths():
    with pytest.raises(ValueError, match="divide every width"):
        SplitBlock([Unit("conv", 64)], factor=6, implementation="grouped")


def test_implementation_name_is_checked():
    with pytest.raises(ValueError, match="implementation must be one of"):
        SplitBlock([Unit("conv", 64)], factor=2, implementation="fast")


@pytest.mark.parametrize("split", [(6, 6, 6, 6, 6), (8, 2, 2, 4, 4)])
def test_save_and_load_round_trip(tmp_path, split):
    model = split_model("resnet18" if split[0] == 6 else "vgg16", split, width_multiplier=0.25)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = images()
    np.testing.assert_array_equal(keras_outputs(loaded, x), keras_outputs(model, x))
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]


def test_a_saved_block_holds_its_weights_branch_by_branch_and_nothing_else(tmp_path):
    # SplitBlock hides its form's convs from dir(), which Keras's saving walks: this fails where a Keras
    # version walks layers another way and would save the form-dependent layout beside the branch one
    import h5py

    model = split_model("vgg16", (2, 1, 1, 1, 1), width_multiplier=0.125, implementation="masked")
    model.save(tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive, \
            h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as weights:
        saved = []
        weights.visititems(lambda name, item: saved.append(name) if isinstance(item, h5py.Dataset) else None)
    block = sorted(name.removeprefix("layers/split_block/") for name in saved if name.startswith("layers/split_block/"))
    branch_keys = sorted(f"vars/u{unit}.{branch}.{key}" for unit in range(2) for branch in range(2)
                         for key in ("kernel", "gamma", "beta", "moving_mean", "moving_variance"))
    assert block == branch_keys


@pytest.mark.parametrize("first_conv", ["whole", "share"])
@pytest.mark.parametrize("saved_on_gpu", [True, False])
def test_auto_is_saved_as_auto_and_loads_in_the_other_form(tmp_path, monkeypatch, saved_on_gpu, first_conv):
    def build(gpu: bool) -> keras.Model:
        monkeypatch.setattr(netsplit.runtime, "has_accelerator", lambda: gpu)
        return split_model("vgg16", (8, 2, 2, 4, 4), width_multiplier=0.25, first_conv=first_conv)

    model = build(saved_on_gpu)
    for weight in model.weights:  # non-trivial BN state, so that its layout is checked too
        if "moving_" in weight.path:
            weight.assign(RNG.uniform(0.5, 2.0, weight.shape))
    model.save(tmp_path / "model.keras")
    monkeypatch.setattr(netsplit.runtime, "has_accelerator", lambda: not saved_on_gpu)
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    blocks = [layer for layer in loaded.layers if isinstance(layer, SplitBlock)]
    expected = ["grouped"] * len(blocks) if not saved_on_gpu else \
        [untimed_choice(block) for block in blocks]  # the CPU's cost model
    assert [block.implementation for block in blocks] == expected
    assert not saved_on_gpu or set(expected) == {"masked", "branches"}, "narrow blocks masked, wide ones apart"
    configs = [layer.get_config() for layer in loaded.layers if isinstance(layer, SplitBlock)]
    assert {(c["implementation"], c["first_conv"]) for c in configs} == {("auto", first_conv)}
    x = images()
    np.testing.assert_allclose(keras_outputs(loaded, x), keras_outputs(model, x), rtol=1e-4, atol=1e-5)


def test_identity_fusion_passes_pooled_input_through():
    fusion = Fusion("max")
    x = np.abs(images(channels=8))
    fusion(x)
    fusion.set_identity()
    expected = x.reshape(2, 16, 2, 16, 2, 8).max(axis=(2, 4))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fusion(x, training=False)), expected, rtol=1e-6)


def test_fusion_pooling_is_checked():
    with pytest.raises(ValueError, match="fusion pooling must be one of"):
        Fusion("median")
