"""Branch-by-branch inference: same predictions, large inputs, and the memory it saves, measured."""

import numpy as np
import pytest

from netsplit.branchwise import predict_branchwise
from netsplit.forms import in_form
from netsplit.models import build_model, split_model
from helpers import keras_outputs, random_statistics

RNG = np.random.default_rng(11)


@pytest.mark.slow
@pytest.mark.parametrize("model,variant,factors,factor", [
    ("vgg16", "proposed", (8, 2, 2, 4, 4), None),
    ("vgg16", "proposed", (6, 1, 3, 1, 5), None),
    ("resnet18", "proposed", (2, 4, 8, 2, 2), None),
    ("vgg16", "naive", None, 4),
    ("vgg16", "shared", None, 4),
], ids=["proposed_I", "uneven", "resnet18", "naive", "shared"])
def test_same_predictions_as_the_ordinary_forward_pass(model, variant, factors, factor):
    model = random_statistics(build_model(model, variant, factors, factor, width_multiplier=0.25))
    x = RNG.normal(size=(3, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(predict_branchwise(model, x), keras_outputs(model, x), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_grouped_models_are_converted_to_branches():
    grouped = random_statistics(split_model("vgg16", (2, 4, 2, 4, 8), width_multiplier=0.125, implementation="grouped"))
    converted = in_form(grouped, "branches")
    assert {l.implementation for l in converted.layers if hasattr(l, "implementation")} == {"branches"}
    x = RNG.normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(predict_branchwise(grouped, x), keras_outputs(grouped, x), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_accepts_a_2048_pixel_input():
    model = split_model("vgg16", (8, 8, 8, 8, 8), input_shape=(2048, 2048, 3), width_multiplier=0.125)
    out = predict_branchwise(model, RNG.normal(size=(1, 2048, 2048, 3)).astype("float32"))
    assert out.shape == (1, 10) and np.isfinite(out).all()


@pytest.mark.slow
def test_the_count_is_a_floor_and_branches_hold_far_less():
    """TensorFlow's CPU allocator statistics, each measurement in a fresh process."""
    from benchmarks.memory import measure

    original = measure("vgg16", "1,1,1,1,1", 256, "layer by layer", "tensorflow", repeats=3)
    split = measure("vgg16", "8,8,8,8,8", 256, "branch by branch", "tensorflow", repeats=3)
    measured = original["measured_bytes"] / split["measured_bytes"]
    assert measured > 2.5, "running branches one by one holds far less"
    for row in (original, split):  # the count is a floor: op-by-op execution only adds temporaries
        assert 1 <= row["measured_bytes"] / row["analysis_bytes"] < 2.5, row
        assert len(row["seconds_repeats"]) == 3 and min(row["seconds_repeats"]) <= row["seconds"] <= max(row["seconds_repeats"])
