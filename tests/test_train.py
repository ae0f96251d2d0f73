"""Training: loss falls, seeds repeat, records carry provenance."""

import json
import subprocess
import sys
from functools import partial
from pathlib import Path

import keras
import numpy as np
import pytest

from netsplit.data import load_dataset
from netsplit.models import split_model
from netsplit.records import correct_images
from netsplit.runtime import device_name
from netsplit.train import TrainConfig, fit, make_record

@pytest.fixture(scope="module")
def data():
    return load_dataset("synthetic", seed=0)


def tiny(data, split=(2, 2, 1, 1, 1)):
    return partial(split_model, "vgg16", split, data.input_shape, data.num_classes, 0.125)


@pytest.mark.slow
def test_a_few_epochs_reduce_the_loss(data):
    _, result = fit(tiny(data), data, TrainConfig(epochs=6, batch_size=64, verbose=False), seed=0)
    assert result.history[-1] < 0.6 * result.history[0]
    assert result.accuracy > 0.5  # ten classes: chance is 0.1


@pytest.mark.slow
def test_seeds_make_runs_repeatable(data):
    config = TrainConfig(epochs=1, batch_size=64, verbose=False)
    _, a = fit(tiny(data), data, config, seed=7)
    _, b = fit(tiny(data), data, config, seed=7)
    _, c = fit(tiny(data), data, config, seed=8)
    assert a.history == b.history and a.accuracy == b.accuracy
    assert a.history != c.history


@pytest.mark.slow
def test_record_carries_costs_and_provenance(data):
    config = TrainConfig(epochs=1, batch_size=64, verbose=False)
    model, result = fit(tiny(data), data, config, seed=0)
    record = make_record(model, data, result, config, experiment="t", config_hash="h", model="vgg16",
                         variant="proposed", split=[2, 2, 1, 1, 1], seed=0, width_multiplier=0.125)
    assert record.params == sum(layer.count_params() for layer in model.layers) and record.macs > 0
    assert record.backend == keras.backend.backend() and record.device == device_name()
    assert {"keras", "numpy", "python"} <= set(record.versions)
    assert record.git_commit and record.timestamp and record.dataset == "synthetic"
    assert record.first_step_seconds > 0 and record.train_seconds >= record.first_step_seconds
    assert record.build_seconds == result.build_seconds > 0


def test_the_time_spent_choosing_forms_is_recorded_apart_from_training(data, monkeypatch, tmp_path):
    """A block shape the cost model is unsure of is timed while the network is built: that time is the record's
    build_seconds, not its train_seconds."""
    import time as clock

    from netsplit import implementations

    monkeypatch.setenv(implementations.CACHE_ENV, str(tmp_path / "cache.json"))
    monkeypatch.setenv(implementations.MEASURE_ENV, "1")  # the suite times nothing elsewhere
    monkeypatch.setattr(implementations, "model_decides", lambda block: False)
    monkeypatch.setattr(implementations, "time_in_child", lambda signature, forms: clock.sleep(0.5) or
                        {form: 0.01 * (i + 1) for i, form in enumerate(forms)})
    _, result = fit(tiny(data), data, TrainConfig(epochs=1, batch_size=64, verbose=False), seed=0)
    assert result.build_seconds >= 0.5 and result.first_step_seconds < result.train_seconds


@pytest.mark.slow
def test_record_says_which_images_each_network_classified_correctly():
    data = load_dataset("synthetic", seed=0, validation_size=100)
    config = TrainConfig(epochs=1, batch_size=64, verbose=False)
    model, result = fit(tiny(data), data, config, seed=0)
    record = make_record(model, data, result, config, experiment="t", config_hash="h", model="vgg16",
                         variant="proposed", split=[2, 2, 1, 1, 1], seed=0, width_multiplier=0.125)
    for images, x, y, accuracy in (("test", data.x_test, data.y_test, record.accuracy),
                                   ("validation", data.x_val, data.y_val, record.validation_accuracy)):
        correct = correct_images(record, images)
        assert correct.shape == (len(y),) and correct.mean() == accuracy
        assert np.array_equal(correct, np.argmax(model.predict(x, verbose=0), axis=-1) == y)
    assert 0 < record.accuracy < 1  # both kinds of image are there, so the bits are not all alike


@pytest.mark.parametrize("option", [{"epochs": -1}, {"learning_rate": 0}, {"label_smoothing": 1.0}, {"batch_size": 0}])
def test_bad_training_options(option):
    with pytest.raises(ValueError, match="not valid"):
        TrainConfig(**option)


@pytest.mark.slow
def test_batch_norm_recalibration_matches_the_training_statistics(data):
    from netsplit.train import recalibrate_batch_norm

    model = tiny(data, (1, 1, 1, 1, 1))()
    images = data.x_train[:128]
    recalibrate_batch_norm(model, images, batch_size=64, batches=2)
    block = model.get_layer("block1")
    conv, norm = block.convs[0], block.norms[0]
    features = [keras.ops.convert_to_numpy(conv(images[i : i + 64])) for i in (0, 64)]
    expected_mean = np.mean([f.mean(axis=(0, 1, 2)) for f in features], axis=0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_mean), expected_mean, rtol=1e-4, atol=1e-5)
    assert norm.momentum == 0.9, "momentum is restored"



def test_records_carry_the_version_of_whichever_tensorflow_wheel_is_installed():
    import importlib.metadata

    from netsplit.runtime import library_versions

    tensorflow = pytest.importorskip("tensorflow")
    names = {(d.metadata["Name"] or "").lower().replace("_", "-") for d in importlib.metadata.distributions()}
    wheels = names & {"tensorflow", "tensorflow-cpu"}
    assert wheels, "TensorFlow comes from one of its wheels"
    assert {library_versions()[name] for name in wheels} == {tensorflow.__version__}


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="oneDNN is TensorFlow's")
def test_the_onednn_benchmark_times_both_kernel_settings():
    run = subprocess.run([sys.executable, "-m", "benchmarks.onednn_speed", "--splits", "1,1,1,1,1", "--steps", "1",
                          "--rounds", "1"], cwd=Path(__file__).resolve().parent.parent,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    header, _, row = run.stdout.splitlines()[-3:]
    assert "with oneDNN" not in header.split("on:")[0] and header.endswith("with oneDNN"), header
    off, on, speed_up = row.split()[1:]
    assert float(speed_up.rstrip("x")) == pytest.approx(float(off) / float(on), abs=0.01)


@pytest.mark.slow
def test_the_choosing_benchmark_reports_build_and_training_seconds_of_a_search(tmp_path, fashion_dir):
    out = tmp_path / "choosing.jsonl"
    run = subprocess.run([sys.executable, "-m", "benchmarks.choosing_time", "--quick", "--data-path", str(fashion_dir),
                          "--out", str(out)], cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    provenance, search, build = (json.loads(line) for line in out.read_text().splitlines())
    assert provenance["kind"] == "provenance" and provenance["cpu"]["model"]
    assert search["networks"] == 2, "the baseline and its block 1 at factor 2: one block, one factor"
    assert search["share"] == pytest.approx(search["build_seconds"] / search["train_seconds"], abs=0.01)  # both rounded
    assert build["kind"] == "first build" and build["seconds"] > 0 and len(build["forms"]) == 5
