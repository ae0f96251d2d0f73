"""The forms of a split block: one function, one initial network, one training step, one saved file;
"auto" takes the cost model's choice, or times the forms once per device and block shape and keeps the fastest."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from benchmarks.form_model import choice_cost, form_rows
from netsplit import implementations
from netsplit.records import read_lines
from netsplit.blocks import Unit
from netsplit.layers import SplitBlock
from netsplit.models import split_model
from helpers import keras_outputs

FORMS = ("branches", "masked", "grouped")
BLOCKS = {  # units, factor, first conv, input channels
    "narrow convs": ([Unit("conv", 16), Unit("conv", 16)], 8, "whole", 3),
    "uneven widths, share": ([Unit("conv", 12), Unit("conv", 10, bias=True, norm="after")], 4, "share", 6),
    "residual, whole": ([Unit("residual", 16, stride=2), Unit("residual", 16)], 4, "whole", 8),
    "residual, share": ([Unit("residual", 16, stride=2), Unit("residual", 16)], 4, "share", 8),
}


def block_model(name: str, form: str) -> keras.Model | None:
    """The block ``name`` in ``form`` as a small trainable model, the same initial weights for a seed
    (None where the form cannot run the block)."""
    units, factor, first_conv, channels = BLOCKS[name]
    if form == "grouped" and any(u.width % factor for u in units):
        return None
    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, channels))
    block = SplitBlock(units, factor, form, first_conv, name="block")
    model = keras.Model(inputs, keras.ops.mean(block(inputs), axis=(1, 2)))
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9, weight_decay=5e-4), loss="mse")
    return model


def branch_arrays(model: keras.Model) -> list[np.ndarray]:
    block = model.get_layer("block")
    return [a for name, branches in block.get_branch_weights().items() for b in branches for a in b.values()]


@pytest.mark.slow
@pytest.mark.parametrize("name", BLOCKS)
def test_forms_start_equal_and_train_equally(name):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 8, 8, BLOCKS[name][3])).astype("float32")
    models = {form: block_model(name, form) for form in FORMS}
    models = {form: model for form, model in models.items() if model is not None}
    reference = branch_arrays(models["branches"])
    y = rng.normal(size=(6, models["branches"].output_shape[-1])).astype("float32")
    for form, model in models.items():
        assert model.get_layer("block").implementation == form
        for a, b in zip(branch_arrays(model), reference):
            np.testing.assert_array_equal(a, b)  # one seed, one initial network in every form
        assert model.get_layer("block").count_params() == models["branches"].get_layer("block").count_params()
    outputs = {form: keras_outputs(model, x) for form, model in models.items()}
    for _ in range(2):  # forward, backward, SGD with momentum and weight decay
        losses = {form: model.train_on_batch(x, y) for form, model in models.items()}
    trained = branch_arrays(models["branches"])
    for form, model in models.items():
        np.testing.assert_allclose(outputs[form], outputs["branches"], rtol=1e-5, atol=1e-5)
        assert losses[form] == pytest.approx(losses["branches"], rel=1e-4)
        for a, b in zip(branch_arrays(model), trained):  # the same gradients, branch by branch
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_the_masked_form_keeps_the_weights_outside_its_branches_at_zero():
    model = block_model("narrow convs", "masked")
    x = np.random.default_rng(1).normal(size=(4, 8, 8, 3)).astype("float32")
    model.fit(x, np.ones((4, 16), "float32"), epochs=3, verbose=0)
    second = model.get_layer("block").conv_and_norm("u1", 0)[0].kernel
    kernel = keras.ops.convert_to_numpy(second)
    outside = kernel.reshape(9, 8, 2, 8, 2).transpose(1, 3, 0, 2, 4)[~np.eye(8, dtype=bool)]
    assert not outside.any() and kernel.any()


@pytest.mark.slow
@pytest.mark.parametrize("saved,loaded", [("masked", "branches"), ("branches", "masked"), ("masked", "grouped")])
def test_a_network_trained_in_one_form_loads_in_another(tmp_path, saved, loaded):
    build = lambda form: split_model("vgg16", (8, 2, 2, 4, 4), width_multiplier=0.125, implementation=form)
    trained = build(saved)
    x = np.random.default_rng(2).normal(size=(4, 32, 32, 3)).astype("float32")
    trained.compile(optimizer="sgd", loss="mse")
    trained.fit(x, np.eye(10, dtype="float32")[:4], epochs=1, verbose=0)
    trained.save(tmp_path / "trained.keras")
    other = build(loaded)
    other.load_weights(tmp_path / "trained.keras")
    np.testing.assert_allclose(keras_outputs(other, x), keras_outputs(trained, x), rtol=1e-4, atol=1e-5)


def test_auto_uses_the_cached_choice_and_is_saved_as_auto(tmp_path, monkeypatch):
    monkeypatch.setenv(implementations.CACHE_ENV, str(tmp_path / "cache.json"))
    monkeypatch.setenv(implementations.MEASURE_ENV, "1")
    block = SplitBlock([Unit("conv", 16), Unit("conv", 16)], 8, name="block")
    block.in_channels = 3
    key = implementations.cache_key(implementations.signature(block, (8, 8, 3)))
    implementations.write_cache(key, {"choice": "masked", "ms": {"branches": 9.0, "masked": 1.0, "unsplit": 1.0}})
    block.build((None, 8, 8, 3))
    assert block.implementation == "masked" and block.get_config()["implementation"] == "auto"


@pytest.mark.slow
def test_auto_times_the_forms_once_and_caches_them(tmp_path, monkeypatch):
    cache = tmp_path / "cache.json"
    monkeypatch.setenv(implementations.CACHE_ENV, str(cache))
    monkeypatch.setenv(implementations.MEASURE_ENV, "1")
    SplitBlock([Unit("conv", 32)], 2, name="counted").build((None, 16, 16, 16))
    assert not cache.exists(), "built for anything but training, a block times nothing"
    block = SplitBlock([Unit("conv", 32)], 2, name="tiny")
    with implementations.timed_choices():
        block.build((None, 16, 16, 16))
    (entry,) = json.loads(cache.read_text()).values()
    assert set(entry["ms"]) == {"branches", "masked", "grouped", "unsplit"}, "a block the cost model is unsure of"
    assert block.implementation == entry["choice"] == min(("branches", "masked", "grouped"), key=entry["ms"].get)
    monkeypatch.setattr(implementations, "time_in_child", lambda *args: pytest.fail("timed twice"))
    with implementations.timed_choices():
        SplitBlock([Unit("conv", 32)], 2, name="again").build((None, 16, 16, 16))
    counted = SplitBlock([Unit("conv", 32)], 2, name="counted_again")
    counted.build((None, 16, 16, 16))
    assert counted.implementation == entry["choice"], "outside training the cached choice holds"


def test_without_timing_auto_takes_the_cost_models_form_on_a_cpu():
    narrow = SplitBlock([Unit("conv", 16)], 8)
    narrow.build((None, 8, 8, 3))
    wide = SplitBlock([Unit("conv", 128)], 2)
    wide.build((None, 8, 8, 64))
    assert (narrow.implementation, wide.implementation) == ("masked", "branches"), \
        "eight 2-filter branches run as one masked conv, two 64-filter ones apart"


def test_the_cost_model_is_the_fit_of_its_committed_timings():
    model = implementations.FORM_COSTS
    rows = form_rows(read_lines(Path(__file__).resolve().parent.parent / model.source))
    assert implementations.fit_form_model(rows, model.source) == model, "python benchmarks/form_model.py refits it"
    chosen = choice_cost(rows, lambda row: "masked" if model.log_ratio(row["branch_width"], row["factor"]) < 0
                         else "branches")
    assert chosen < 1.05 < choice_cost(rows, lambda row: "branches"), "the model's forms train near the faster form"


def test_a_confident_prediction_is_not_timed_an_uncertain_one_is(tmp_path, monkeypatch):
    monkeypatch.setenv(implementations.CACHE_ENV, str(tmp_path / "cache.json"))
    monkeypatch.setenv(implementations.MEASURE_ENV, "1")
    timed = []
    monkeypatch.setattr(implementations, "time_in_child",
                        lambda signature, forms: timed.append(signature["factor"]) or {form: 1.0 for form in forms})
    with implementations.timed_choices():
        SplitBlock([Unit("conv", 16)], 8).build((None, 32, 32, 3))  # 2-filter branches: clearly masked
        SplitBlock([Unit("conv", 32)], 2).build((None, 16, 16, 16))  # 16-filter branches: close to a tie
    assert timed == [2]


def test_an_unknown_form_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="implementation must be one of .*'masked'"):
        SplitBlock([Unit("conv", 16)], 2, implementation="dense")


def test_a_block_built_for_large_images_is_timed_on_as_many_pixels_as_the_study_batch():
    from netsplit import implementations

    assert implementations.measure_batch((32, 32, 3)) == implementations.MEASURE_BATCH
    assert implementations.measure_batch((8, 8, 128)) == implementations.MEASURE_BATCH, "a later block: the study's"
    assert implementations.measure_batch((64, 64, 16)) == implementations.MEASURE_BATCH // 4
    assert implementations.measure_batch((512, 512, 3)) == 1, "not 128 images of 512x512: 1 GiB each map"
